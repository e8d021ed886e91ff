"""Scoring trials: accuracy per condition, confusions, calibration, latency, the report."""

from __future__ import annotations

from pathlib import Path

import pytest

from djtui.evaluation.plot import plot_accuracy
from djtui.evaluation.report import calibration, score
from djtui.evaluation.trials import FalseAccept, Negatives, Trial


def _trial(expected: tuple[str | None, dict[str, str]], got: tuple[str | None, dict[str, str]], condition: str = "clean",
           latency_ms: float = 100.0, reference: str | None = None, transcript: str = "",
           best: tuple[str, dict[str, str]] | None = None, score: float | None = None) -> Trial:
    return Trial(file="f.wav", condition=condition, expected_intent=expected[0], expected_slots=expected[1],
                 reference=reference, transcript=transcript, intent=got[0], slots=got[1],
                 score=score if score is not None else (0.9 if got[0] else 0.2),
                 reason="accepted" if got[0] else "low_confidence", latency_ms=latency_ms,
                 timings_ms={"asr": latency_ms / 2}, best=best or ((got[0], got[1]) if got[0] else None))


LATTE = ("orderDrink", {"coffeeDrink": "latte", "size": "large"})


def test_acceptance_needs_the_intent_and_every_slot() -> None:
    assert _trial(LATTE, ("orderDrink", {"coffeeDrink": "latte", "size": "large"})).outcome == "understood"
    assert _trial(LATTE, ("orderDrink", {"coffeeDrink": "latte", "size": " large "})).outcome == "understood"
    assert _trial(LATTE, ("orderDrink", {"coffeeDrink": "latte"})).outcome == "misunderstood"
    assert _trial(LATTE, ("orderDrink", {"coffeeDrink": "mocha", "size": "large"})).outcome == "misunderstood"
    assert _trial(LATTE, ("orderDrink", {**LATTE[1], "roast": "dark roast"})).outcome == "misunderstood"
    assert _trial(LATTE, (None, {})).outcome == "rejected"
    assert _trial((None, {}), (None, {})).outcome == "correct reject"
    assert _trial((None, {}), ("orderDrink", {})).outcome == "false accept"


def test_score_counts_by_condition_and_lists_confusions() -> None:
    mocha = ("orderDrink", {"coffeeDrink": "mocha", "size": "large"})
    trials = [
        _trial(LATTE, LATTE, "clean", 100),
        _trial(LATTE, LATTE, "clean", 200),
        _trial(LATTE, mocha, "6", 300),
        _trial(LATTE, mocha, "6", 400),
        _trial(LATTE, (None, {}), "6", 500, best=LATTE),  # right, but not sure enough
        _trial(LATTE, ("play", {}), "12", 600),
        _trial((None, {}), ("play", {}), "12", 700),
        _trial(LATTE, LATTE, "12", 800),
    ]
    report = score(trials, engine="test")
    data = report.to_dict()
    assert data["n"] == 8 and data["accuracy"] == pytest.approx(3 / 8)
    assert list(data["by_snr"]) == ["clean", "6", "12"]  # clean first, then noisiest up
    assert data["by_snr"]["clean"] == {"accuracy": 1.0, "n": 2, "rejected": 0, "misunderstood": 0, "top1_accuracy": 1.0}
    assert data["by_snr"]["6"]["rejected"] == 1 and data["by_snr"]["6"]["misunderstood"] == 2
    assert data["rejected_because"] == {"low_confidence": 1}
    assert data["by_snr"]["6"]["top1_accuracy"] == pytest.approx(1 / 3, abs=1e-4)
    assert data["trials"][2] == {"file": "f.wav", "condition": "6", "expected": "orderDrink(coffeeDrink=latte size=large)",
                                 "transcript": "", "got": "orderDrink(coffeeDrink=mocha size=large)",
                                 "best": "orderDrink(coffeeDrink=mocha size=large)", "outcome": "misunderstood",
                                 "reason": "accepted", "score": 0.9, "latency_ms": 300.0, "utterances": 1, "early": False,
                                 "readings": []}
    assert data["by_snr"]["12"]["false_accepts"] == 1
    assert data["accuracy_noisy"] == pytest.approx((0 + 1 / 3) / 2, abs=1e-4)
    assert data["confusions"][0] == {"field": "coffeeDrink", "expected": "latte", "got": "mocha", "count": 2}
    assert {"field": "intent", "expected": "orderDrink", "got": "play", "count": 1} in data["confusions"]
    assert {"field": "intent", "expected": "—", "got": "play", "count": 1} in data["confusions"]
    assert data["latency"]["p50"] == pytest.approx(450.0)
    assert data["latency"]["stages"]["asr"]["p50"] == pytest.approx(225.0)
    assert data["wer"] is None and data["false_accepts_per_hour"] is None
    assert "| 6 dB | 0.0 % | 3 | 1 | 2 | 33.3 % | 93.5 % |" in report.to_markdown()
    assert "| **mean of SNRs** | **16.7 %** |  |  |  | 41.7 % |  |" in report.to_markdown()  # not all benchmark SNRs: no Rhino mean


def test_wer_and_cer_ignore_case_and_punctuation() -> None:
    trials = [
        _trial(LATTE, LATTE, reference="play deck one", transcript="Play deck one."),
        _trial(LATTE, LATTE, reference="pause deck two", transcript="pause deck to"),
    ]
    data = score(trials).to_dict()
    assert data["wer"] == pytest.approx(1 / 6, abs=1e-4)
    assert 0 < data["cer"] < data["wer"]


def test_false_accepts_per_hour_of_negative_audio() -> None:
    fa = FalseAccept("song.ogg", 12.0, "play", "play(deck=1)", 0.9)
    negatives = Negatives(seconds=1800.0, utterances=900, false_accepts=[fa, fa, fa], segmentation="2 s windows")
    data = score([_trial(LATTE, LATTE)], negatives=negatives).to_dict()
    assert data["false_accepts_per_hour"] == pytest.approx(6.0)
    assert data["negatives"]["utterances"] == 900 and data["negatives"]["false_accepts"] == 3


def test_calibration_compares_confidence_with_how_often_it_was_right() -> None:
    mocha = ("orderDrink", {"coffeeDrink": "mocha", "size": "large"})
    # 0.95-confident readings right 3 times in 4; 0.55-confident ones right 1 time in 2
    trials = ([_trial(LATTE, LATTE, score=0.95)] * 3 + [_trial(LATTE, mocha, score=0.95)]
              + [_trial(LATTE, (None, {}), best=LATTE, score=0.55), _trial(LATTE, (None, {}), best=mocha, score=0.55)]
              + [_trial((None, {}), (None, {}), score=0.1)])  # audio with no command: not counted
    result = calibration(trials)
    assert result["n"] == 6
    assert result["table"] == [{"bin": "0.5-0.6", "n": 2, "confidence": 0.55, "accuracy": 0.5},
                               {"bin": "0.9-1.0", "n": 4, "confidence": 0.95, "accuracy": 0.75}]
    assert result["ece"] == pytest.approx((2 * 0.05 + 4 * 0.2) / 6, abs=1e-4)
    assert score(trials).to_dict()["calibration"] == result
    assert calibration([]) == {}


def test_plot_is_a_png(tmp_path: Path) -> None:
    trials = [_trial(LATTE, LATTE, c) for c in ("clean", "6", "12")]
    path = plot_accuracy(score(trials, engine="test"), tmp_path / "plot.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_by_class_counts_each_safety_class_of_the_command_said_and_what_its_threshold_let_through() -> None:
    from djtui.core.context_file import default_context
    from djtui.evaluation.report import by_class, safety_classes

    classes = safety_classes(default_context())
    assert (classes["browse_up"], classes["sync"], classes["load"], classes["arm"]) == \
        ("safe", "guarded", "destructive", "control")
    trials = [
        _trial(("browse_up", {}), ("browse_up", {})),  # safe, understood
        _trial(("browse_up", {}), (None, {}), best=("browse_up", {})),  # safe, rejected though top-1 right
        _trial(("sync", {"deck": "2"}), ("load", {"deck": "2"})),  # guarded said, a destructive one fired
        _trial((None, {}), ("load", {"deck": "1"})),  # chatter taken for load
        _trial(("arm", {}), ("arm", {})),
    ]
    found = by_class(trials, classes)
    assert found["safe"] == {"n": 2, "accepted": 0.5, "top1": 1.0, "misunderstood": 0, "fired_wrong": 0}
    assert found["guarded"] == {"n": 1, "accepted": 0.0, "top1": 0.0, "misunderstood": 1, "fired_wrong": 0}
    assert found["destructive"] == {"n": 0, "accepted": None, "top1": None, "misunderstood": 0, "fired_wrong": 2}
    assert found["control"]["n"] == 1 and found["control"]["accepted"] == 1.0
