"""End to end through real transports: a spoken command played into djtui's capture
through a JACK server, MIDI out of djtui's virtual port into a second JACK client.

Audio: this process's PortAudio (JACK host API) opens djtui's input and a player
output; ``jack_connect`` patches the player into djtui's input, as a DJ would patch a
microphone. MIDI: djtui opens its virtual JACK port ``djtui``; the test listens on it
with a second client. Outside CI a missing ``jackd`` skips this test (see
``tests/fixtures/jack.py``); in CI it fails.
"""

from __future__ import annotations

import queue
import time
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from djtui.bench.jack import Player, patch
from djtui.core import events
from djtui.core.audio import FileSource, MicrophoneSource, rescan_devices
from djtui.core.config import Config
from djtui.core.context_file import default_context
from djtui.core.decks import FEEDBACK_OFFSET
from djtui.core.midi import MidiIn, MidiOut
from djtui.core.pipeline import Pipeline
from djtui.core.records import MidiCommand
from tests.fixtures.loopmidi import MidiRecorder


@pytest.fixture
def portaudio_on_jack(jack_midi, monkeypatch):
    """PortAudio re-enumerated with the test's JACK server up, and afterwards with no
    JACK at all: PortAudio's JACK host API keeps a client open and aborts the process
    in Pa_Terminate (an assert in pa_jack.c) if the server died before it."""
    rescan_devices()
    yield jack_midi
    monkeypatch.setenv("JACK_DEFAULT_SERVER", "djtui-no-server")
    rescan_devices()


def test_spoken_command_reaches_a_jack_midi_client(portaudio_on_jack, speak) -> None:
    jack = portaudio_on_jack
    config = Config().updated({"safety": {"armed_at_start": True}, "asr": {"engine": "whisper"},
                               "resolver": {"semantic_weight": 0.0}})  # grammar + phonetic: no embedding model
    context = default_context()
    pipeline = Pipeline(config, context=context)
    seen: list[Any] = []
    heard_at: dict[type, float] = {}
    pipeline.subscribe(seen.append)
    pipeline.subscribe(lambda event: heard_at.setdefault(type(event), time.perf_counter()))

    received: queue.Queue[tuple[float, list[int]]] = queue.Queue()
    receiver = MidiIn("djtui:djtui", lambda raw: received.put((time.perf_counter(), raw)), virtual=False, api="jack")
    # Rekordbox's side: it reports deck 2 paused on djtui's input (same name, its own
    # JACK client), 8 channels above the press, so "play" on it is safe to send
    # (without feedback the gate would ask for 'confirm').
    with MidiOut(port="djtui in:djtui", virtual=False, api="jack") as rekordbox:
        rekordbox.send(MidiCommand("PlayPause", "note", 1 + FEEDBACK_OFFSET, 11, 0))
    deadline = time.monotonic() + 5
    while pipeline.deck_state.playing(2) is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert pipeline.deck_state.playing(2) is False
    microphone = MicrophoneSource("system", sample_rate=jack.sample_rate)
    player = Player("system", jack.sample_rate)
    try:
        patch()
        pipeline.start(microphone)

        player.play(speak("play the second deck"))  # play(deck=2)
        arrivals = [received.get(timeout=60), received.get(timeout=5)]
    finally:
        pipeline.stop()
        player.close()
        receiver.close()

    expected = context.intents["play"].action
    note, channel = expected.number_for({"deck": "2"}), expected.channel_for({"deck": "2"})
    assert channel == 1
    (pressed_at, press), (_, release) = arrivals
    assert press == [0x90 | channel, note, 127]
    assert release == [0x90 | channel, note, 0]
    assert received.empty()

    [outcome] = [e for e in seen if isinstance(e, events.Outcome)]
    [sent] = outcome.sent
    assert not outcome.dry_run and (sent.channel, sent.number) == (channel, note)
    assert set(outcome.stages_ms) == {"vad_endpoint", "asr", "search", "resolve", "rescore", "safety", "midi"}
    assert outcome.engine == "whisper" and outcome.ahead
    assert sum(v for k, v in outcome.stages_ms.items() if k != "vad_endpoint") <= outcome.total_ms
    assert heard_at[events.SpeechStarted] < heard_at[events.SpeechEnded] < pressed_at
    print(f"speech end -> MIDI at the JACK client: {(pressed_at - heard_at[events.SpeechEnded]) * 1000:.0f} ms; "
          f"stages {outcome.stages_ms}")


def test_a_footswitch_holds_the_microphone_open(jack_midi, tmp_path) -> None:
    """trigger = midi_hold: listening while the pedal's note is down, on a real JACK
    MIDI port (here a virtual one standing in for the footswitch)."""
    config = Config()
    config = config.updated({"audio": {"trigger": "midi_hold", "ptt_midi_port": "footswitch", "ptt_midi_note": 64},
                             "resolver": {"semantic_weight": 0.0}, "asr": {"engine": "whisper"}})
    seen: queue.Queue[Any] = queue.Queue()
    pedal = MidiOut(port="footswitch", virtual=True, api="jack")
    pipeline = Pipeline(config, dry_run=True, session_log=False)
    pipeline.subscribe(lambda event: seen.put(event) if isinstance(event, events.ListeningChanged) else None)
    silence = tmp_path / "silence.wav"
    sf.write(silence, np.zeros(16000 * 5, dtype=np.float32), 16000)
    try:
        pipeline.start(FileSource(silence, realtime=True))
        assert not pipeline.listening
        pedal.send(MidiCommand("pedal", "cc", 0, 64, 127))  # a sustain pedal goes down
        assert seen.get(timeout=5) == events.ListeningChanged(True)
        assert pipeline.listening
        pedal.send(MidiCommand("pedal", "cc", 0, 64, 0))
        assert seen.get(timeout=5) == events.ListeningChanged(False)
        assert not pipeline.listening
    finally:
        pipeline.stop()
        pedal.close()


# --- knobs and faders: ramps through JACK ----------------------------------------------------

FADER = 19
"""The bundled context's ChannelFader CC (its LSB on 51)."""


def _ramp_config(bpm: float = 120.0) -> Config:
    return Config().updated({"safety": {"armed_at_start": True}, "asr": {"engine": "whisper"},
                             "resolver": {"semantic_weight": 0.0}, "controls": {"bpm": bpm}})


def _report_playing(pipeline: Pipeline, deck: int, playing: bool) -> None:
    """Rekordbox's side: it reports deck ``deck`` playing (a note-on held, as an LED is
    lit) or paused on djtui's input, on a JACK client of its own."""
    import mido

    from djtui.core.midi_ports import open_port

    rekordbox = open_port("output", "djtui in:djtui", False, "jack")
    try:
        rekordbox.send(mido.Message("note_on", channel=deck - 1 + FEEDBACK_OFFSET, note=11,
                                    velocity=127 if playing else 0))
        time.sleep(0.1)  # delivered at JACK's next period, before the client goes
    finally:
        rekordbox.close()
    deadline = time.monotonic() + 5
    while pipeline.deck_state.playing(deck) is not playing and time.monotonic() < deadline:
        time.sleep(0.02)
    assert pipeline.deck_state.playing(deck) is playing


def _values(arrivals: list[tuple[float, list[int]]], channel: int, cc: int, xruns: int) -> list[tuple[float, int]]:
    """``(arrival time, 14-bit value)`` of each MSB/LSB pair of CC ``cc`` on ``channel``,
    checking that every MSB is followed at once by its LSB. ``xruns``: how many cycles
    the JACK server lost meanwhile (it drops or repeats a cycle's MIDI when one is late:
    then what arrived is not what was sent, and the failure says so)."""
    ours = [(t, m) for t, m in arrivals if m[0] == 0xB0 | channel and m[1] in (cc, cc + 32)]
    values = []
    for (t, msb), (_, lsb) in zip(ours[::2], ours[1::2]):
        assert (msb[1], lsb[1]) == (cc, cc + 32), f"MSB first, then LSB, always both ({xruns} JACK xruns)"
        values.append((t, msb[2] << 7 | lsb[2]))
    assert len(ours) == 2 * len(values), f"an MSB without its LSB ({xruns} JACK xruns)"
    return values


def test_fade_in_over_two_bars_is_a_monotone_ramp_on_time_within_the_limit(portaudio_on_jack, speak) -> None:
    jack = portaudio_on_jack
    config = _ramp_config(bpm=120.0)  # two bars = 8 beats = 4 s
    pipeline = Pipeline(config, session_log=False)
    seen: list[Any] = []
    pipeline.subscribe(seen.append)
    recorder = MidiRecorder("djtui:djtui")
    _report_playing(pipeline, 2, True)
    pipeline.stages.positions.set("fader", 1, 0.0)  # djtui pulled the right fader down earlier
    microphone = MicrophoneSource("system", sample_rate=jack.sample_rate)
    player = Player("system", jack.sample_rate)
    xruns = jack.xruns()
    try:
        patch()
        pipeline.start(microphone)
        player.play(speak("fade in the right deck over two bars"))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(isinstance(e, events.RampEnded) for e in seen):
            time.sleep(0.05)
        time.sleep(0.2)
    finally:
        pipeline.stop()
        player.close()
        recorder.close()
    xruns = jack.xruns() - xruns

    [outcome] = [e for e in seen if isinstance(e, events.Outcome)]
    assert outcome.verdict.approved and outcome.verdict.candidate.key() == (
        "fade_in", (("deck", "2"), ("duration", "2 bars"))), outcome.verdict.message
    [started] = [e for e in seen if isinstance(e, events.RampStarted)]
    [ended] = [e for e in seen if isinstance(e, events.RampEnded)]
    assert started.seconds == 4.0 and ended.how == "done" and ended.position == 1.0
    values = _values(recorder.received(), channel=1, cc=FADER, xruns=xruns)  # the right deck: MIDI channel 2
    assert [v for _, v in values] == sorted(v for _, v in values), "monotone"
    assert values[-1][1] == 16383 and len(values) > 100
    took = values[-1][0] - values[0][0]
    assert abs(took - 4.0) <= 0.032, f"reached the target in {took:.3f} s, not 4 s ± one block"
    # each step within the per-beat limit (a quarter of the travel a beat, 0.5 s at 120
    # BPM), and so is every beat's worth of steps, however JACK bunched them into periods
    limit = config.controls.fader_per_beat
    steps = [b - a for (_, a), (_, b) in zip(values, values[1:])]
    assert max(steps) / 16383 <= limit
    for t0, v0 in values:
        within = [v for t, v in values if t0 < t <= t0 + 0.5 - 0.032]
        if within:
            assert (within[-1] - v0) / 16383 <= limit * 1.05
    nominal = 16383 * config.controls.step_ms / 1000 / 4.0
    assert sorted(steps)[len(steps) // 2] <= nominal * 1.5  # a step every 10 ms, as a rule
    print(f"fade in: {len(values)} values in {took:.3f} s (JACK's clock), largest step {max(steps)} of 16383, "
          f"{xruns} xruns")


def _said(tmp_path, speak, *parts: str | float) -> Any:
    """A recording: each text spoken, each number that many seconds of silence."""
    audio = [np.zeros(int(p * 16000), np.float32) if isinstance(p, float) else speak(p) for p in parts]
    path = tmp_path / "said.wav"
    sf.write(path, np.concatenate(audio), 16000)
    return FileSource(path, realtime=True)


def test_stop_halts_a_ramp_where_it_is(jack_midi, speak, tmp_path) -> None:
    pipeline = Pipeline(_ramp_config(bpm=120.0), session_log=False)  # sixteen beats = 8 s
    seen: list[Any] = []
    pipeline.subscribe(seen.append)
    recorder = MidiRecorder("djtui:djtui")
    _report_playing(pipeline, 1, True)
    pipeline.stages.positions.set("crossfader", 4, 1.0)
    xruns = jack_midi.xruns()
    try:
        pipeline.start(_said(tmp_path, speak, "crossfade to the left over sixteen beats", 2.5, "stop", 3.0))
        assert pipeline.wait(60)
        time.sleep(0.2)
    finally:
        pipeline.stop()
        recorder.close()
    outcomes = [e for e in seen if isinstance(e, events.Outcome)]
    assert [o.verdict.reason for o in outcomes] == ["ok", "held"], [o.verdict.message for o in outcomes]
    [ended] = [e for e in seen if isinstance(e, events.RampEnded)]
    assert ended.how == "held" and 0.2 < ended.position < 0.9
    values = _values(recorder.received(), channel=4, cc=31, xruns=jack_midi.xruns() - xruns)  # global: channel 5
    assert [v for _, v in values] == sorted((v for _, v in values), reverse=True)
    assert values[-1][1] == round(ended.position * 16383)  # nothing after the hold
    assert pipeline.stages.positions.get("crossfader", 4) == ended.position


def test_panic_stops_every_ramp_and_disarms(jack_midi, speak, tmp_path) -> None:
    pipeline = Pipeline(_ramp_config(bpm=120.0), session_log=False)
    seen: list[Any] = []
    pipeline.subscribe(seen.append)
    recorder = MidiRecorder("djtui:djtui")
    _report_playing(pipeline, 1, True)
    pipeline.stages.positions.set("fader", 0, 1.0)
    pipeline.stages.positions.set("crossfader", 4, 0.0)
    try:
        pipeline.start(_said(tmp_path, speak, "fade out the left deck over eight bars", 0.5,
                             "crossfade to the right over sixteen beats", 8.0))
        deadline = time.monotonic() + 40
        while len(pipeline.ramps.active()) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(pipeline.ramps.active()) == 2, [e.verdict.message for e in seen if isinstance(e, events.Outcome)]
        time.sleep(0.3)
        pipeline.panic()
        time.sleep(0.1)  # what was sent before PANIC returned may still be in JACK's current period
        count = len(recorder.received())
        time.sleep(0.4)
        assert len(recorder.received()) == count, "nothing is sent after PANIC"
        assert not pipeline.armed and pipeline.ramps.active() == []
    finally:
        pipeline.stop()
        recorder.close()
    ended = [e for e in seen if isinstance(e, events.RampEnded)]
    assert sorted(e.move.control for e in ended) == ["crossfader", "fader"] and {e.how for e in ended} == {"panic"}
    assert events.ArmedChanged(False) in seen
