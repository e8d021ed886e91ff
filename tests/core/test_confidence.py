"""The confidence: a calibrated probability from the audio's evidence, rising with what
should raise it and falling with what should lower it."""

from __future__ import annotations

import numpy as np
import pytest

from djtui.core.confidence import FEATURES, Calibration, Evidence, Reference

CALIBRATION = Calibration()
# "play deck two" (11 phonemes, 5 tokens) heard in 0.9 s of speech, its free decoding as likely
REFERENCE = Reference(logprob=-2.0, tokens=5, speech_s=0.9)


def confidence(best: float, runner_up: float = -12.0, text: float = 0.9, phonemes: int = 11,
               reference: Reference = REFERENCE) -> float:
    evidence = [Evidence(best, 5, text, phonemes), Evidence(runner_up, 5, 0.0, phonemes)]
    return float(CALIBRATION.confidences(evidence, reference)[0])


def test_one_row_of_features_per_command_in_order():
    evidence = [Evidence(-2.0, 5, 0.9, 11), Evidence(-9.0, 5, 0.0, 11), Evidence(-np.inf, 5, 0.0, 11)]
    features = CALIBRATION.features(evidence, REFERENCE)
    assert features.shape == (3, len(FEATURES))
    gap = features[:, FEATURES.index("gap")]
    assert gap[0] == pytest.approx(7.0) and gap[1] == pytest.approx(-7.0) and gap[2] == -10  # clipped
    assert CALIBRATION.confidences([], REFERENCE).size == 0


def test_the_further_ahead_of_the_next_command_the_surer():
    assert confidence(-2.0, runner_up=-3.0) < confidence(-2.0, runner_up=-8.0) < confidence(-2.0, runner_up=-20.0)


def test_a_transcript_that_reads_as_the_same_command_raises_it():
    assert confidence(-2.0, text=0.0) < confidence(-2.0, text=0.95)


def test_an_implausible_pace_lowers_it():
    # the same sentence found in 4 s of audio (music, a long mumble) or in 0.1 s (a click)
    assert confidence(-2.0, reference=Reference(-2.0, 5, 4.0)) < confidence(-2.0)
    assert confidence(-2.0, reference=Reference(-2.0, 5, 0.1)) < confidence(-2.0)


def test_audio_whisper_hears_badly_lowers_it():
    # the same constrained-vs-free difference, 4 nats a token instead of 0.4 (loud music)
    murky = Reference(logprob=-20.0, tokens=5, speech_s=0.9)
    assert confidence(-20.0, runner_up=-30.0, reference=murky) < confidence(-2.0, runner_up=-12.0)


def test_a_constrained_reading_far_below_the_free_one_lowers_it():
    """Talon's test: the grammar's best sentence scores much worse than what Whisper
    writes freely: what was said is probably not in the grammar."""
    assert confidence(-12.0, runner_up=-22.0) < confidence(-2.0, runner_up=-12.0)


def test_confidences_are_probabilities_even_for_absurd_evidence():
    values = [confidence(best, runner_up, text) for best in (-1e6, -50.0, 0.0) for runner_up in (-1e6, 0.0)
              for text in (0.0, 1.0)]
    assert all(0.0 < v < 1.0 for v in values)


# --- the four later features: what each one measures ---------------------------------------

SYNC_2 = ("sync", (("deck", "2"),))
KEY_SYNC_2 = ("key_sync", (("deck", "2"),))
PLAY_1 = ("play", (("deck", "1"),))
PLAY_2 = ("play", (("deck", "2"),))


def feature(name: str, evidence: list[Evidence], reference: Reference = REFERENCE, row: int = 0) -> float:
    return float(CALIBRATION.features(evidence, reference)[row, FEATURES.index(name)])


def test_glimpses_that_read_the_same_command_agree_and_later_ones_count_more():
    evidence = [Evidence(-2.0, 5, 0.9, 11, SYNC_2), Evidence(-9.0, 5, 0.0, 11, PLAY_2)]
    def agree(*glimpses):
        return feature("agree", evidence, Reference(-2.0, 5, 0.9, tuple(glimpses)))
    assert agree() == 0.0  # no glimpse, no evidence either way
    assert agree(SYNC_2, SYNC_2) == 1.0 and agree(PLAY_2, None) == -1.0
    assert agree(PLAY_2, SYNC_2) > agree(SYNC_2, PLAY_2)  # it settled on sync: better than drifting away


def test_mass_is_the_share_of_the_whole_beam_not_just_the_best_two():
    alone = [Evidence(-2.0, 5, 0.9, 11, SYNC_2), Evidence(-5.0, 5, 0.0, 11, PLAY_2)]
    crowded = alone + [Evidence(-5.0, 5, 0.0, 11, PLAY_1), Evidence(-5.0, 5, 0.0, 11, KEY_SYNC_2)]
    assert feature("gap", alone) == feature("gap", crowded)  # the best two are the same
    assert feature("mass", crowded) < feature("mass", alone)
    assert float(CALIBRATION.features(crowded, REFERENCE)[:, FEATURES.index("mass")].sum()) == pytest.approx(1.0)


def test_a_transcript_that_reads_as_another_command_weighs_against_this_one():
    # "Key sync right": the audio fits "sync right" best; the transcript says key_sync
    heard = [Evidence(-2.0, 5, 0.3, 11, SYNC_2), Evidence(-3.5, 6, 0.95, 14, KEY_SYNC_2)]
    assert feature("against", heard) == pytest.approx(0.65)
    assert feature("against", heard, row=1) == 0.0
    agreeing = [Evidence(-2.0, 5, 0.95, 11, SYNC_2), Evidence(-3.5, 6, 0.3, 14, KEY_SYNC_2)]
    assert feature("against", agreeing) == 0.0


def test_a_slot_split_between_values_is_the_least_sure_part_of_the_command():
    # a deck word drowned in music: play(deck=1) and play(deck=2) nearly alike
    drowned = [Evidence(-2.0, 5, 0.5, 11, PLAY_1), Evidence(-2.2, 5, 0.5, 11, PLAY_2), Evidence(-9.0, 5, 0.0, 11, SYNC_2)]
    heard = [Evidence(-2.0, 5, 0.5, 11, PLAY_1), Evidence(-8.0, 5, 0.5, 11, PLAY_2), Evidence(-9.0, 5, 0.0, 11, SYNC_2)]
    assert feature("slot", drowned) == pytest.approx(1 / (1 + np.exp(-0.2)), abs=1e-6)
    assert feature("slot", heard) > 0.99
    assert feature("slot", [Evidence(-2.0, 5, 0.5, 11, ("browse_up", ()))]) == 1.0  # nothing to be unsure of
