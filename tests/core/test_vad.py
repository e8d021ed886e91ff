"""End of speech: silero-vad and the energy gate feeding the endpointer."""

from __future__ import annotations

import numpy as np
import pytest

from djtui.core.audio import BLOCK, SAMPLE_RATE
from djtui.core.records import Utterance
from djtui.core.vad import EnergyVad, Endpointer, SileroVad

BLOCK_S = BLOCK / SAMPLE_RATE


def blocks_of(audio: np.ndarray) -> list[np.ndarray]:
    audio = np.concatenate([audio, np.zeros(-len(audio) % BLOCK, dtype=np.float32)])
    return list(audio.reshape(-1, BLOCK))


def run(endpointer: Endpointer, audio: np.ndarray) -> list[Utterance]:
    found = [endpointer.push(b) for b in blocks_of(audio)]
    return [u for u in [*found, endpointer.flush()] if u is not None]


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * SAMPLE_RATE), dtype=np.float32)


def noise(seconds: float, dbfs: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(int(seconds * SAMPLE_RATE)) * 10 ** (dbfs / 20)).astype(np.float32)


def voiced_span(speech: np.ndarray, offset_s: float) -> tuple[float, float]:
    loud = np.nonzero(np.abs(speech) > 0.01)[0]
    return offset_s + loud[0] / SAMPLE_RATE, offset_s + loud[-1] / SAMPLE_RATE


@pytest.fixture(scope="module")
def silero() -> SileroVad:
    return SileroVad()


def test_silero_tells_speech_from_silence_and_noise(silero, speak) -> None:
    speech = speak("play deck two", pad_s=0.0)
    speech_p = [silero.probability(b) for b in blocks_of(speech)]
    silero.reset()
    noise_p = [silero.probability(b) for b in blocks_of(noise(1.0, -40))]
    assert max(speech_p) > 0.9
    assert max(noise_p) < 0.3


def test_speech_then_silence_gives_one_utterance_at_the_right_place(silero, speak) -> None:
    silero.reset()
    speech = speak("play deck two", pad_s=0.0)
    audio = np.concatenate([noise(1.0, -50), speech, silence(1.0)])
    endpointer = Endpointer(silero, hangover_ms=300, pre_roll_ms=200)

    [utterance] = run(endpointer, audio)

    voice_start, voice_end = voiced_span(speech, 1.0)
    assert utterance.start_time == pytest.approx(voice_start, abs=0.1)
    assert utterance.end_time == pytest.approx(voice_end, abs=0.15)
    assert not utterance.cut
    # the audio holds the pre-roll, the speech and a short tail, not the hang-over
    assert utterance.audio.dtype == np.float32
    assert len(utterance.audio) / SAMPLE_RATE == pytest.approx(utterance.duration_s + 0.2 + 0.1, abs=2 * BLOCK_S)


def test_the_endpoint_comes_one_hangover_after_speech_ends(silero, speak) -> None:
    """Endpoint = the block at which hang-over silence has run out, no later."""
    silero.reset()
    speech = speak("pause deck one", pad_s=0.0)
    blocks = blocks_of(np.concatenate([silence(0.5), speech, silence(1.0)]))
    endpointer = Endpointer(silero, hangover_ms=256)
    ended_at = next(i for i, b in enumerate(blocks) if endpointer.push(b) is not None)
    speech_end_block = (0.5 + voiced_span(speech, 0.0)[1]) / BLOCK_S
    assert (ended_at + 1 - speech_end_block) * BLOCK_S == pytest.approx(0.256, abs=0.12)


def test_two_commands_with_a_pause_are_two_utterances(silero, speak) -> None:
    silero.reset()
    audio = np.concatenate([speak("play deck one"), silence(0.6), speak("stop deck two")])
    assert len(run(Endpointer(silero, hangover_ms=300), audio)) == 2


def test_short_bursts_are_ignored_and_long_speech_is_cut() -> None:
    gate = EnergyVad(-30)
    click = np.concatenate([silence(0.5), noise(0.064, -10), silence(0.5)])
    assert run(Endpointer(gate, min_speech_ms=200), click) == []

    chorus = np.concatenate([silence(0.2), noise(6.0, -10), silence(1.0), noise(0.5, -10), silence(0.5)])
    first, second = run(Endpointer(gate, max_speech_ms=2000, hangover_ms=200), chorus)
    assert first.cut and first.duration_s == pytest.approx(2.0, abs=BLOCK_S)
    assert not second.cut and second.start_time == pytest.approx(7.2, abs=BLOCK_S)


def test_push_to_talk_release_ends_the_utterance_at_once(speak) -> None:
    endpointer = Endpointer(EnergyVad(-30), hangover_ms=1000, listening=False)
    loud = blocks_of(noise(2.0, -10))
    assert all(endpointer.push(b) is None for b in loud[:10])  # key not pressed: nothing

    endpointer.set_listening(True)
    assert all(endpointer.push(b) is None for b in loud[10:30])
    assert endpointer.speaking
    endpointer.set_listening(False)
    utterance = endpointer.push(loud[30])
    assert utterance is not None
    assert utterance.start_time == pytest.approx(10 * BLOCK_S)
    assert utterance.end_time == pytest.approx(30 * BLOCK_S)


def test_energy_gate_threshold() -> None:
    gate = EnergyVad(-35)
    assert gate.probability(noise(BLOCK_S, -20)[:BLOCK]) == 1.0
    assert gate.probability(noise(BLOCK_S, -50)[:BLOCK]) == 0.0


def test_the_draft_taken_at_the_first_silence_is_the_final_utterance(silero, speak) -> None:
    """ASR may start on the draft while the hang-over runs: it must be the same audio."""
    silero.reset()
    endpointer = Endpointer(silero, hangover_ms=400, tail_ms=100)
    drafts, finals = [], []
    for block in blocks_of(np.concatenate([silence(0.3), speak("sync deck one", pad_s=0.0), silence(1.0)])):
        final = endpointer.push(block)
        if (draft := endpointer.take_draft()) is not None:
            drafts.append((endpointer.blocks_seen, draft))
        if final is not None:
            finals.append((endpointer.blocks_seen, final))
    (drafted_at, draft), (ended_at, final) = drafts[-1], finals[0]
    assert len(finals) == 1
    assert (ended_at - drafted_at) * BLOCK_S == pytest.approx(0.3, abs=BLOCK_S)  # hang-over minus tail
    assert (draft.start_time, draft.end_time) == (final.start_time, final.end_time)
    np.testing.assert_array_equal(draft.audio, final.audio)


def test_no_draft_survives_speech_that_goes_on() -> None:
    gate = EnergyVad(-30)
    endpointer = Endpointer(gate, hangover_ms=500, tail_ms=64, min_speech_ms=64)
    loud, quiet = noise(0.5, -10), silence(0.1)
    paused = np.concatenate([silence(0.2), loud, quiet])
    for block in blocks_of(paused):
        endpointer.push(block)
    assert endpointer.take_draft() is not None  # ASR could start here...

    endpointer = Endpointer(gate, hangover_ms=500, tail_ms=64, min_speech_ms=64)
    for block in blocks_of(np.concatenate([paused, loud])):  # ...but the pause was mid-command
        endpointer.push(block)
    assert endpointer.take_draft() is None
