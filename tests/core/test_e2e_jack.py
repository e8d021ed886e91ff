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
