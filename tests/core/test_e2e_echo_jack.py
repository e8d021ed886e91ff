"""Hearing through the music, end to end through real transports: a JACK server carries
two capture ports, the microphone (a spoken command over music that went through a room
and a delay) and the reference (the clean music), into djtui's capture process, its
echo canceller and the live pipeline.

The player is a two-channel PortAudio client patched into djtui's two inputs, as a
mixer's REC out plugged into input 2 of the microphone's interface would be. Outside CI
a missing ``jackd`` skips these tests (``tests/fixtures/jack.py``); in CI it fails them.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import pytest

from djtui.bench.jack import Player, patch
from djtui.core import events
from djtui.core.audio import SAMPLE_RATE, rescan_devices
from djtui.core.config import Config
from djtui.core.echo_cancel import CancellingSource
from djtui.core.pipeline import Pipeline
from djtui.core.stages import microphone_for
from tests.fixtures.booth import room, say_over, song, through

RATE = SAMPLE_RATE


@pytest.fixture
def portaudio_on_jack(jack_server, monkeypatch):
    """PortAudio re-enumerated with the test's JACK server up, and afterwards with none
    (see ``tests/core/test_e2e_jack.py``)."""
    rescan_devices()
    yield jack_server
    monkeypatch.setenv("JACK_DEFAULT_SERVER", "djtui-no-server")
    rescan_devices()


class Heard:
    """Everything the pipeline published, in order, with the stream time of each."""

    def __init__(self) -> None:
        self.events: list[Any] = []
        self.lock = threading.Lock()

    def __call__(self, event: Any) -> None:
        with self.lock:
            self.events.append(event)

    def of(self, kind: type) -> list[Any]:
        with self.lock:
            return [e for e in self.events if isinstance(e, kind)]


def listen(program: np.ndarray, heard: Heard) -> None:
    """Play ``program`` (frames × 2: microphone, reference) into djtui listening with a
    reference on input 2, until it has played and the last command is handled."""
    config = Config().updated({
        "audio": {"input_device": "system", "reference_channel": 2},
        "asr": {"engine": "whisper"}, "resolver": {"semantic_weight": 0.0},  # no embedding model
        "safety": {"armed_at_start": True, "cooldown_ms": 0},
    })
    pipeline = Pipeline(config, dry_run=True, session_log=False)
    for channel in range(4):  # Rekordbox says every deck is paused: nothing waits for 'confirm'
        pipeline.deck_state.set("playing", channel, False, source="feedback")
    pipeline.subscribe(heard)
    source = microphone_for(config)
    assert isinstance(source, CancellingSource)
    player = Player("system", RATE, channels=2)
    try:
        patch()
        pipeline.start(source)
        player.play(program)
        while player.queued_s > 0:
            time.sleep(0.1)
        time.sleep(2.0)  # the hang-over and the last command's handling
    finally:
        pipeline.stop()
        player.close()


def understood(heard: Heard) -> list[str]:
    return [o.verdict.candidate.label() for o in heard.of(events.Outcome) if o.verdict.approved]


def why(heard: Heard) -> str:
    """What was heard, for a failing assertion: transcripts, readings, statuses, losses."""
    lines = []
    for e in heard.events:
        match e:
            case events.Outcome():
                lines.append(f"{e.speech_s[0]:.1f} s: {e.transcript!r} → {e.best.label() if e.best else None} "
                             f"{e.best.score if e.best else 0:.2f} {e.verdict.reason}")
            case events.ReferenceStatus():
                lines.append(f"reference {e.state} {e.delay_ms}")
            case events.Dropped():
                lines.append(f"dropped {e.what} ({e.total})")
    return "\n".join(lines)


@pytest.mark.jack
@pytest.mark.slow
def test_commands_over_the_music_are_understood_through_a_delay_that_jumps(portaudio_on_jack, speak) -> None:
    music = song("chaos_god", 50, 21)
    microphone = through(music, delay_ms=150, response=room(0.5), jump_at_s=12.0, level=0.05)
    # 5 dB over the music: both were misheard or refused without the canceller when this was written
    say_over(microphone, speak("kill the mid on the left", pad_s=0.0), at_s=8.0, snr_db=5.0)
    say_over(microphone, speak("kill the treble on the right", pad_s=0.0), at_s=16.0, snr_db=5.0)
    heard = Heard()
    listen(np.stack([microphone, music], axis=1), heard)

    assert understood(heard) == ["eq_kill(band=mid deck=1)", "eq_kill(band=high deck=2)"], why(heard)
    delays = [s.delay_ms for s in heard.of(events.ReferenceStatus) if s.cancelling]
    assert abs(delays[0] - 150) <= 3  # JACK delays both inputs alike: the delay is the room's
    assert abs(delays[-1] - 250) <= 3  # and the jump was followed
    levels = heard.of(events.EchoLevels)
    removed = [e.erle_db for e in levels if e.erle_db is not None]
    assert np.median(removed) >= 20  # over every second it cancelled, the commands and the jump included


@pytest.mark.jack
@pytest.mark.slow
def test_a_reference_that_stops_mid_stream_is_stepped_aside_from_and_listening_goes_on(portaudio_on_jack,
                                                                                         speak) -> None:
    music = song("armygeddon", 40, 16)
    microphone = through(music, delay_ms=90, response=room(0.4), level=0.05)
    reference = music.copy()
    reference[7 * RATE:] = 0.0  # the REC out's cable is pulled; the PA plays on
    say_over(microphone, speak("play the second deck", pad_s=0.0), at_s=11.0, snr_db=10.0)
    heard = Heard()
    listen(np.stack([microphone, reference], axis=1), heard)

    states = [s.state for s in heard.of(events.ReferenceStatus)]
    cut = states.index("cancelling") + 1  # (silent before the player starts, too)
    assert "silent" in states[cut:]
    silent = heard.of(events.ReferenceStatus)[cut + states[cut:].index("silent")]
    assert "silent" in silent.message and silent.hint  # the DJ is told, and what to do
    assert understood(heard) == ["play(deck=2)"], why(heard)  # heard without the canceller
