"""The echo canceller on its own: music through a room and a delay into the microphone,
the clean music as the reference; speech that is not in the reference must come through.

Music is a Debian fretsonfire song, speech espeak-ng, the room an exponentially
decaying noise tail behind a direct path (``tests/fixtures/booth.py``): nothing here is
one of the evaluation's booths.
"""

from __future__ import annotations

import numpy as np
import pytest

from djtui.core import echo_cancel
from djtui.core.audio import BLOCK, SAMPLE_RATE
from djtui.core.echo_cancel import DelayEstimator, EchoCanceller, ReferenceState, cancel_echo
from djtui.core.errors import DjtuiError
from tests.fixtures.booth import room, song, through

RATE = SAMPLE_RATE


def power_db(x: np.ndarray) -> float:
    return 10 * np.log10(np.mean(np.square(x, dtype=np.float64)) + 1e-20)


def seconds(a: float, b: float) -> slice:
    return slice(int(a * RATE), int(b * RATE))


def test_it_removes_a_known_echo_by_20_db_and_leaves_speech_within_1_db(speak) -> None:
    music = song("chaos_god", 50, 16)
    echo = through(music, delay_ms=120, response=room(0.5))
    voice = np.zeros_like(echo)
    said = speak("loop eight on the left, then play deck two", pad_s=0.0)
    voice[8 * RATE:8 * RATE + len(said)] = said
    talking = seconds(8, 8 + len(said) / RATE)
    voice *= 10 ** (-6 / 20) * np.sqrt(np.mean(echo[talking] ** 2) / np.mean(voice[talking] ** 2))  # 6 dB under the music

    alone = EchoCanceller()
    out = cancel_echo(echo, music, alone)
    assert alone.state == ReferenceState.CANCELLING
    assert abs(alone.delay_ms - 120) <= 2
    assert power_db(echo[seconds(3, 8)]) - power_db(out[seconds(3, 8)]) >= 20  # ERLE after convergence

    # The voice is what the canceller lets through beyond the music alone (the two runs
    # differ by the voice only); compared where it speaks, 16 ms later (the canceller's lag).
    spoken = cancel_echo(echo + voice, music, EchoCanceller())
    lag = int(alone.latency_ms * RATE / 1000)
    kept = (spoken - out)[talking.start + lag:talking.stop + lag]
    loud = np.abs(voice[talking]) > 0.1 * np.max(np.abs(voice[talking]))
    assert abs(power_db(kept[loud]) - power_db(voice[talking][loud])) <= 1.0


def test_it_converges_within_two_seconds_of_music() -> None:
    music = song("armygeddon", 40, 6)
    echo = through(music, delay_ms=200, response=room(0.6, seed=1))
    canceller = EchoCanceller()
    out = cancel_echo(echo, music, canceller)
    for start in np.arange(2.0, 5.5, 0.5):  # every half second from 2 s on
        window = seconds(start, start + 0.5)
        assert power_db(echo[window]) - power_db(out[window]) >= 20, f"at {start} s"


def test_a_delay_that_jumps_by_100_ms_is_followed() -> None:
    music = song("internal_degeneration", 60, 14)
    echo = through(music, delay_ms=60, response=room(0.4, seed=2), jump_at_s=7.0)
    canceller = EchoCanceller()
    delays = []
    canceller.on_change = lambda c: delays.append(c.delay_ms)
    out = cancel_echo(echo, music, canceller)
    assert abs(delays[0] - 60) <= 2 and abs(canceller.delay_ms - 160) <= 2
    assert power_db(echo[seconds(9, 14)]) - power_db(out[seconds(9, 14)]) >= 20


def test_a_silent_reference_leaves_the_microphone_exactly_as_it_is(speak) -> None:
    mic = np.tile(speak("play deck one"), 4)
    canceller = EchoCanceller()
    out = cancel_echo(mic, np.zeros_like(mic), canceller)
    assert canceller.state == ReferenceState.SILENT
    assert np.array_equal(out, mic[: len(out)])


def test_an_unrelated_reference_is_reported_and_stepped_aside_from() -> None:
    heard = through(song("chaos_god", 50, 8), delay_ms=100, response=room(0.5))
    other = song("mutilated_mime", 30, 8)  # music, but not what the microphone hears
    canceller = EchoCanceller()
    out = cancel_echo(heard, other, canceller)
    assert canceller.state == ReferenceState.UNRELATED
    assert np.array_equal(out, heard)


def test_a_reference_that_stops_mid_stream_hands_the_microphone_back_untouched() -> None:
    music = song("armygeddon", 40, 10)
    echo = through(music, delay_ms=80, response=room(0.4))
    reference = music.copy()
    reference[6 * RATE:] = 0.0  # the cable is pulled: the input reads silence
    canceller = EchoCanceller()
    states = []
    canceller.on_change = lambda c: states.append(c.state)
    out = cancel_echo(echo, reference, canceller)
    assert states == [ReferenceState.CANCELLING, ReferenceState.SILENT]
    assert np.array_equal(out[seconds(7.1, 10)], echo[seconds(7.1, 10)])  # after the second of silence and the fade


def test_no_reference_block_is_a_lost_reference() -> None:
    mic = np.random.default_rng(0).standard_normal(BLOCK).astype(np.float32) * 0.1
    canceller = EchoCanceller()
    assert canceller.process(mic, None) is mic
    assert canceller.state == ReferenceState.LOST


@pytest.mark.parametrize("delay_ms", [0, 35, 180, 420, 750])
def test_the_delay_estimator_finds_the_bulk_delay(delay_ms: float) -> None:
    music = song("chaos_god", 70, 3)
    echo = through(music, delay_ms=delay_ms, response=room(0.3, seed=3))
    estimator = DelayEstimator()
    for start in range(0, len(music) - BLOCK + 1, BLOCK):
        estimator.push(echo[start:start + BLOCK], music[start:start + BLOCK])
    match = estimator.estimate()
    assert match is not None and match.related
    assert abs(match.delay_ms - delay_ms) <= 1


def test_cancelling_costs_well_under_5_percent_of_a_core_and_lags_16_ms() -> None:
    music = song("chaos_god", 50, 10)
    canceller = EchoCanceller()
    cancel_echo(through(music, 150, room(0.5)), music, canceller)
    assert canceller.cpu_s / 10.0 < 0.05
    assert canceller.latency_ms == 16.0


def test_a_missing_library_is_one_error_saying_what_to_install() -> None:
    with pytest.raises(DjtuiError) as error:
        echo_cancel.speexdsp("/nowhere/libspeexdsp.so.1")
    assert "speexdsp" in error.value.message
    assert "apt install libspeexdsp1" in error.value.hint and "brew install speexdsp" in error.value.hint


@pytest.mark.slow
def test_a_broken_reference_leaves_what_is_understood_exactly_as_without_one(speak) -> None:
    """Silent or unrelated, the reference is stepped aside from sample for sample, so the
    listener hears, and understands, exactly what it would without a reference."""
    from djtui.core.config import Config
    from djtui.core.listener import Listener
    from djtui.evaluation.trials import hear
    from tests.fixtures.booth import say_over

    config = Config().updated({"asr": {"engine": "whisper"}, "resolver": {"semantic_weight": 0.0}})
    listener = Listener(config, dry_run=True, session_log=False, act=False)
    microphone = through(song("chaos_god", 50, 9), delay_ms=120, response=room(0.5))
    say_over(microphone, speak("play the second deck", pad_s=0.0), at_s=6.0, snr_db=10.0)

    def heard(audio: np.ndarray) -> list[tuple[str, str, float, str]]:
        return [(o.transcript, o.best.label(), o.best.score, o.verdict.reason) for o in hear(listener, audio)]

    without = heard(microphone)
    assert without  # something to compare
    for broken in (np.zeros_like(microphone), song("mutilated_mime", 30, 9)):
        cleaned = cancel_echo(microphone, broken)
        assert np.array_equal(cleaned, microphone)
        assert heard(cleaned) == without


def test_without_a_reference_the_microphone_is_not_wrapped(monkeypatch) -> None:
    from djtui.core import audio, stages
    from djtui.core.config import Config
    from djtui.core.echo_cancel import CancellingSource

    class Microphone:
        def __init__(self, device: object, **settings: object) -> None:
            self.device, self.settings = device, settings

        def close(self) -> None: ...

    monkeypatch.setattr(audio, "MicrophoneSource", Microphone)
    plain = stages.microphone_for(Config())
    assert type(plain) is Microphone  # the microphone as it is: no canceller in the way
    cancelled = stages.microphone_for(Config().updated({"audio": {"reference_channel": 2}}))
    assert isinstance(cancelled, CancellingSource) and cancelled.source.settings["reference_channel"] == 2
