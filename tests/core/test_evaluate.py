"""Evaluation: labels, benchmark-style noise mixing, the accept decision and scoring, on
constructed inputs; and one ``djtui eval`` run end to end on spoken commands."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from djtui.core import evaluate
from djtui.core.errors import DjtuiError
from djtui.core.evaluate import Label, Negatives, Trial


# --- labels ------------------------------------------------------------------------------


def test_label_json_trims_slot_values_and_keeps_null_intents(tmp_path: Path) -> None:
    labels_file = tmp_path / "label.json"
    labels_file.write_text(json.dumps({
        "a.flac": {"intent": "orderDrink", "slots": {"coffeeDrink": "latte", "milkAmount": " milk"}},
        "b.flac": {"intent": None, "slots": {}},
        "c.flac": {"intent": "orderDrink", "slots": {"size": "large"}, "text": "a large coffee"},
    }, indent=2))
    a, b, c = evaluate.read_labels(labels_file, tmp_path / "clean")
    assert a.path == tmp_path / "clean" / "a.flac"
    assert a.slots == {"coffeeDrink": "latte", "milkAmount": "milk"}
    assert a.text is None
    assert b.intent is None and b.command() == "—"
    assert c.text == "a large coffee"


def test_manifest_paths_are_relative_to_its_folder(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.jsonl"
    lines = [
        {"path": "recordings/0001.wav", "text": "play deck one", "intent": "play", "slots": {"deck": "1"}, "take": 1},
        {"path": "recordings/0002.wav", "text": "", "intent": None, "slots": {}},
    ]
    manifest.write_text("\n".join(json.dumps(line) for line in lines) + "\n\n")
    first, second = evaluate.read_labels(manifest)
    assert first == Label(tmp_path / "recordings/0001.wav", "play", {"deck": "1"}, "play deck one")
    assert second.path == tmp_path / "recordings/0002.wav" and second.intent is None and second.text is None


@pytest.mark.parametrize("name, words", [("/abs/0002.wav", "absolute path"), ("../up.wav", "climbs out")])
def test_label_paths_must_stay_in_the_data_folder(tmp_path: Path, name: str, words: str) -> None:
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text(json.dumps({"path": "a.wav", "intent": "play"}) + "\n" + json.dumps({"path": name, "intent": "play"}))
    with pytest.raises(DjtuiError, match=rf"manifest.jsonl:2: .*{words}"):
        evaluate.read_labels(manifest)
    labels = tmp_path / "label.json"
    labels.write_text(json.dumps({name: {"intent": "play"}}))
    with pytest.raises(DjtuiError, match=words):
        evaluate.read_labels(labels)


def test_a_one_line_manifest_without_the_jsonl_suffix_is_still_a_manifest(tmp_path: Path) -> None:
    manifest = tmp_path / "labels.txt"
    manifest.write_text(json.dumps({"path": "x.wav", "intent": "play", "slots": {}}))
    assert evaluate.read_labels(manifest)[0].path == tmp_path / "x.wav"


@pytest.mark.parametrize("text, words", [
    ("{not json", "not valid JSON"),
    ('{"a.flac": {"slots": {}}}', "needs an 'intent'"),
    ('{"a.flac": {"intent": "x", "slots": ["latte"]}}', "'slots' must be a mapping"),
    ("{}", "no labelled files"),
])
def test_broken_label_files_are_one_clear_error(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "label.json"
    path.write_text(text)
    with pytest.raises(DjtuiError, match=words):
        evaluate.read_labels(path)


def test_a_broken_manifest_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "manifest.jsonl"
    path.write_text('{"path": "a.wav", "intent": "play"}\n{"path": "b.wav"}\n')
    with pytest.raises(DjtuiError, match=r"manifest.jsonl:2: each line needs 'path' and 'intent'"):
        evaluate.read_labels(path)


# --- mixing ------------------------------------------------------------------------------


def _tone_burst(seconds: float = 1.5) -> np.ndarray:
    t = np.arange(int(seconds * 16000)) / 16000
    envelope = np.clip(np.sin(np.pi * t / seconds), 0, None) ** 2  # loud in the middle
    return (0.3 * envelope * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


@pytest.mark.parametrize("snr_db", [0.0, 6.0, 12.5, 24.0])
def test_mixed_noise_has_the_asked_peak_frame_snr(snr_db: float) -> None:
    speech = _tone_burst()
    noise = np.random.default_rng(1).normal(0, 0.05, 16000 * 10).astype(np.float32)
    segment = evaluate.noise_segment(noise, speech.size, np.random.default_rng(7))
    part = evaluate.scale_noise(speech, segment, snr_db)
    assert evaluate.peak_snr_db(speech, part) == pytest.approx(snr_db, abs=1e-3)

    # the same seed picks the same segment: the mix is exactly these parts (scaled down
    # as a whole only where the sum would clip)
    mixed = evaluate.mix_at_snr(speech, noise, snr_db, np.random.default_rng(7))
    assert np.allclose(mixed, (speech + part) / max(1.0, np.max(np.abs(speech + part))), atol=1e-6)


def test_mixing_is_seeded_and_never_clips() -> None:
    speech = _tone_burst()
    noise = np.random.default_rng(2).uniform(-1, 1, 16000 * 5).astype(np.float32)
    a = evaluate.mix_at_snr(speech, noise, -6.0, np.random.default_rng(3))
    b = evaluate.mix_at_snr(speech, noise, -6.0, np.random.default_rng(3))
    c = evaluate.mix_at_snr(speech, noise, -6.0, np.random.default_rng(4))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert np.max(np.abs(a)) <= 1.0
    # scaled as a whole when it would clip, so both parts keep their ratio
    part = evaluate.scale_noise(speech, evaluate.noise_segment(noise, speech.size, np.random.default_rng(3)), -6.0)
    peak = np.max(np.abs(speech + part))
    assert peak > 1.0 and np.allclose(a, (speech + part) / peak, atol=1e-6)


def test_short_noise_is_looped_and_silent_noise_refused() -> None:
    speech = _tone_burst(1.0)
    short = np.random.default_rng(0).normal(0, 0.1, 3000).astype(np.float32)
    assert evaluate.noise_segment(short, speech.size, np.random.default_rng(0)).size == speech.size
    with pytest.raises(DjtuiError, match="silent"):
        evaluate.scale_noise(speech, np.zeros(speech.size, np.float32), 6.0)


def test_the_same_file_and_condition_get_the_same_noise_in_every_run() -> None:
    a = evaluate.trial_rng(0, "a.flac", "6").integers(0, 1 << 30)
    assert a == evaluate.trial_rng(0, "a.flac", "6").integers(0, 1 << 30)
    assert a != evaluate.trial_rng(0, "a.flac", "9").integers(0, 1 << 30)
    assert a != evaluate.trial_rng(1, "a.flac", "6").integers(0, 1 << 30)


# --- the accept decision -----------------------------------------------------------------


@dataclass(frozen=True)
class Cand:
    intent: str
    slots: dict[str, str]
    score: float


def test_decide_accepts_only_a_confident_unambiguous_best() -> None:
    play = Cand("play", {"deck": "1"}, 0.9)
    assert evaluate.decide([play, Cand("pause", {"deck": "1"}, 0.3)], 0.6, 0.08).candidate is play
    assert evaluate.decide([], 0.6, 0.08).reason == "out of grammar"
    assert evaluate.decide([Cand("play", {"deck": "1"}, 0.2)], 0.6, 0.08, grammar_floor=0.3).reason == "out of grammar"
    assert evaluate.decide([Cand("pause", {"deck": "1"}, 0.3), play], 0.6, 0.08).candidate is play  # best first
    assert evaluate.decide([Cand("play", {"deck": "1"}, 0.5)], 0.6, 0.08).reason == "low confidence"
    assert evaluate.decide([play, Cand("play", {"deck": "2"}, 0.85)], 0.6, 0.08).reason == "ambiguous"
    # the same command again (another phrasing) is not a rival
    assert evaluate.decide([play, Cand("play", {"deck": " 1"}, 0.89)], 0.6, 0.08).accepted


# --- scoring -----------------------------------------------------------------------------


def _trial(expected: tuple[str | None, dict[str, str]], got: tuple[str | None, dict[str, str]], condition: str = "clean",
           latency: float = 0.1, reference: str | None = None, transcript: str = "",
           best: tuple[str, dict[str, str]] | None = None) -> Trial:
    return Trial(file="f.wav", condition=condition, expected_intent=expected[0], expected_slots=expected[1],
                 reference=reference, transcript=transcript, intent=got[0], slots=got[1],
                 score=0.9 if got[0] else 0.2, reason="accepted" if got[0] else "low confidence",
                 latency_s=latency, timings_ms={"asr": 1000 * latency / 2}, best=best or ((got[0], got[1]) if got[0] else None))


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
        _trial(LATTE, LATTE, "clean", 0.1),
        _trial(LATTE, LATTE, "clean", 0.2),
        _trial(LATTE, mocha, "6", 0.3),
        _trial(LATTE, mocha, "6", 0.4),
        _trial(LATTE, (None, {}), "6", 0.5, best=LATTE),  # right, but not sure enough
        _trial(LATTE, ("play", {}), "12", 0.6),
        _trial((None, {}), ("play", {}), "12", 0.7),
        _trial(LATTE, LATTE, "12", 0.8),
    ]
    report = evaluate.score(trials, engine="test")
    data = report.to_dict()
    assert data["n"] == 8 and data["accuracy"] == pytest.approx(3 / 8)
    assert list(data["by_snr"]) == ["clean", "6", "12"]  # clean first, then noisiest up
    assert data["by_snr"]["clean"] == {"accuracy": 1.0, "n": 2, "rejected": 0, "misunderstood": 0, "top1_accuracy": 1.0}
    assert data["by_snr"]["6"]["rejected"] == 1 and data["by_snr"]["6"]["misunderstood"] == 2
    assert data["rejected_because"] == {"low confidence": 1}
    assert data["by_snr"]["6"]["top1_accuracy"] == pytest.approx(1 / 3, abs=1e-4)
    assert data["trials"][2] == {"file": "f.wav", "condition": "6", "expected": "orderDrink(coffeeDrink=latte size=large)",
                                 "transcript": "", "got": "orderDrink(coffeeDrink=mocha size=large)",
                                 "best": "orderDrink(coffeeDrink=mocha size=large)", "outcome": "misunderstood", "reason": "accepted", "score": 0.9, "latency_ms": 300.0}
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
    assert data["by_snr"]["clean"]["top1_accuracy"] == 1.0


def test_wer_and_cer_ignore_case_and_punctuation() -> None:
    trials = [
        _trial(LATTE, LATTE, reference="play deck one", transcript="Play deck one."),
        _trial(LATTE, LATTE, reference="pause deck two", transcript="pause deck to"),
    ]
    data = evaluate.score(trials).to_dict()
    assert data["wer"] == pytest.approx(1 / 6, abs=1e-4)
    assert 0 < data["cer"] < data["wer"]


def test_false_accepts_per_hour_of_negative_audio() -> None:
    fa = evaluate.FalseAccept("song.ogg", 12.0, "play", "play(deck=1)", 0.9)
    negatives = Negatives(seconds=1800.0, utterances=900, false_accepts=[fa, fa, fa], segmentation="2 s windows")
    data = evaluate.score([_trial(LATTE, LATTE)], negatives=negatives).to_dict()
    assert data["false_accepts_per_hour"] == pytest.approx(6.0)
    assert data["negatives"]["utterances"] == 900 and data["negatives"]["false_accepts"] == 3


@dataclass
class _Understanding:
    transcript: str
    candidates: list[Cand]
    timings: dict[str, float] = field(default_factory=dict)


class _LoudnessRecognizer:
    """Stands in for the ASR: 'hears' a command when the audio is loud enough. Enough to
    drive the trial and negative loops through real audio files."""

    def understand(self, audio: np.ndarray) -> _Understanding:
        loud = float(np.sqrt(np.mean(audio**2))) > 0.05
        return _Understanding("play" if loud else "", [Cand("play", {"deck": "1"}, 0.9)] if loud else [], {"asr": 1.0})


def test_run_trials_and_negatives_on_audio_files(tmp_path: Path) -> None:
    sf.write(tmp_path / "cmd.wav", _tone_burst(), 16000)
    sf.write(tmp_path / "quiet.wav", 0.2 * _tone_burst(), 16000)
    noise = tmp_path / "noise.wav"
    sf.write(noise, np.random.default_rng(0).normal(0, 0.3, 16000 * 4).astype(np.float32), 16000)
    labels = [Label(tmp_path / "cmd.wav", "play", {"deck": "1"}), Label(tmp_path / "quiet.wav", None)]
    decider = lambda cands: evaluate.decide(cands, 0.6, 0.08)  # noqa: E731
    seen: list[Trial] = []
    trials = evaluate.run_trials(_LoudnessRecognizer(), labels, evaluate.conditions_for([-10]), decider,
                                 evaluate.NoiseBank.load([noise]), on_trial=seen.append)
    assert [(t.file, t.condition, t.outcome) for t in trials] == [
        ("cmd.wav", "clean", "understood"), ("cmd.wav", "-10", "understood"),
        ("quiet.wav", "clean", "correct reject"), ("quiet.wav", "-10", "false accept"),  # the noise itself is loud
    ]
    assert seen == trials
    negatives = evaluate.run_negatives(_LoudnessRecognizer(), [noise], decider)
    assert negatives.utterances == 2 and len(negatives.false_accepts) == 2
    assert negatives.per_hour == pytest.approx(2 / (4 / 3600))
    with pytest.raises(DjtuiError, match="need noise"):
        evaluate.run_trials(_LoudnessRecognizer(), labels, ["clean", "6"], decider)


def test_plot_is_a_png(tmp_path: Path) -> None:
    trials = [_trial(LATTE, LATTE, c) for c in ("clean", "6", "12")]
    path = evaluate.plot_accuracy(evaluate.score(trials, engine="test"), tmp_path / "plot.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_negatives_are_cut_as_the_live_endpointer_cuts(speak) -> None:
    from djtui.core.config import VadConfig

    gap = np.zeros(16000, dtype=np.float32)
    audio = np.concatenate([gap, speak("play deck one"), gap, speak("load the next track"), gap])
    pieces = evaluate.vad_utterances(VadConfig())(audio)
    assert len(pieces) == 2
    assert 0.9 < pieces[0][0] < pieces[1][0]
    assert [start for start, _ in evaluate.windows(audio, 2.0)][:3] == [0.0, 2.0, 4.0]


# --- the command -------------------------------------------------------------------------


def _write_labels(tmp_path: Path, entries: dict[str, dict]) -> Path:
    path = tmp_path / "label.json"
    path.write_text(json.dumps(entries))
    return path


def test_eval_refuses_snrs_without_noise_and_missing_audio(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from djtui.cli import main

    assert main(["eval"]) == 2
    assert "nothing to measure" in capsys.readouterr().err
    labels = _write_labels(tmp_path, {"gone.wav": {"intent": "play", "slots": {}}})
    assert main(["eval", "--labels", str(labels), "--snr", "6"]) == 2
    assert "--snr needs noise" in capsys.readouterr().err
    assert main(["eval", "--labels", str(labels)]) == 2
    assert "labelled audio file(s) not found" in capsys.readouterr().err
    sf.write(tmp_path / "gone.wav", np.zeros(1600, np.float32), 16000)
    coffee = _write_labels(tmp_path, {"gone.wav": {"intent": "orderDrink", "slots": {}}})
    assert main(["eval", "--labels", str(coffee)]) == 2  # the default DJ context has no orderDrink
    assert "intents context 'dj' does not have: orderDrink" in capsys.readouterr().err


TINY_CONTEXT = """\
context:
  name: tiny
  slots:
    deck:
      "1": [one]
      "2": [two]
  intents:
    play:
      expressions: ["play deck $deck:deck"]
    stop:
      expressions: ["stop deck $deck:deck"]
    load:
      expressions: ["load the next track"]
"""


@pytest.mark.slow
def test_djtui_eval_end_to_end_on_spoken_commands(tmp_path: Path, speak, capsys: pytest.CaptureFixture[str]) -> None:
    """The real recognizer (bundled Whisper tiny.en, resolver, rescoring) on espeak
    commands, clean and in noise, with a music-free negative file for false accepts."""
    from djtui.cli import main

    context = tmp_path / "tiny.yaml"
    context.write_text(TINY_CONTEXT)
    data = tmp_path / "audio"
    data.mkdir()
    said = {"a.wav": ("play deck one", "play", {"deck": "1"}), "b.wav": ("stop deck two", "stop", {"deck": "2"}),
            "c.wav": ("load the next track", "load", {})}
    for name, (text, _, _) in said.items():
        sf.write(data / name, speak(text), 16000)
    sf.write(data / "silence.wav", np.zeros(16000, np.float32), 16000)
    labels = _write_labels(tmp_path, {
        **{name: {"intent": intent, "slots": slots, "text": text} for name, (text, intent, slots) in said.items()},
        "silence.wav": {"intent": None, "slots": {}},
    })
    rng = np.random.default_rng(0)
    noise = tmp_path / "noise.wav"
    sf.write(noise, (0.1 * rng.standard_normal(16000 * 5)).astype(np.float32), 16000)
    report, plot = tmp_path / "report.json", tmp_path / "plot.png"

    code = main(["eval", "--context", str(context), "--labels", str(labels), "--data", str(data),
                 "--noise", str(noise), "--snr", "20", "--negatives", str(noise), "--segment", "windows",
                 "--json", str(report), "--plot", str(plot)])

    assert code == 0
    result = json.loads(report.read_text())
    assert result["n"] == 8 and list(result["by_snr"]) == ["clean", "20"]
    assert result["by_snr"]["clean"]["accuracy"] >= 0.75  # espeak is clear; tiny.en gets most of it
    assert result["false_accepts"] == 0  # silence is never a command
    assert result["wer"] is not None and result["negatives"]["utterances"] == 3
    assert result["false_accepts_per_hour"] is not None
    assert result["latency"]["p50"] > 0 and "asr" in result["latency"]["stages"]
    assert result["engine"].startswith("whisper")
    assert result["top1_accuracy"] >= result["by_snr"]["clean"]["accuracy"] / 2
    assert plot.read_bytes()[:4] == b"\x89PNG"
    out = capsys.readouterr().out
    assert "command acceptance" in out and "20 dB" in out


@pytest.mark.parametrize("samples, words", [(np.zeros(0, np.float32), "holds no audio"),
                                             (np.array([0.1, np.nan], np.float32), "holds NaN or infinite")])
def test_empty_or_nan_audio_is_one_clear_error(tmp_path: Path, samples: np.ndarray, words: str) -> None:
    path = tmp_path / "bad.wav"
    sf.write(path, samples, 16000, subtype="FLOAT")
    with pytest.raises(DjtuiError, match=f"bad.wav: {words}"):
        evaluate.load_audio(path)
