"""Fitting a model's confidence: the logistic fit recovers the weights that made the data,
a MAP fit on a few takes stays near its prior instead of running off to certainty, and
the per-class thresholds keep wrong commands of each class within the budget."""

from __future__ import annotations

import numpy as np
import pytest

from djtui.core.config import SafetyConfig
from djtui.core.confidence import FEATURES, Calibration
from djtui.core.context_file import default_context
from djtui.core.safety import SafetyGate
from djtui.training.calibrate import Heard, fit, judge, logistic, rows, table, thresholds


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def test_the_fit_recovers_known_weights():
    rng = np.random.default_rng(0)
    truth = np.array([1.5, -2.0, 0.5])
    x = rng.normal(size=(20000, 3))
    y = rng.random(20000) < sigmoid(x @ truth - 0.7)
    theta = logistic(x, y, prior_sd=100.0)
    assert theta[:3] == pytest.approx(truth, abs=0.1) and theta[3] == pytest.approx(-0.7, abs=0.1)


def test_few_takes_move_a_map_fit_only_as_far_as_they_show():
    rng = np.random.default_rng(1)
    prior = np.array([1.0, 0.0, 0.5])
    x = rng.normal(size=(12, 2))
    y = x[:, 0] > 0  # perfectly separable: maximum likelihood would send the weight to infinity
    theta = logistic(x, y, prior_mean=prior, prior_sd=0.5)
    assert np.all(np.isfinite(theta)) and np.all(np.abs(theta - prior) < 2.0)
    assert theta[0] > prior[0]  # but it does move the way the data points
    # with enough data the same prior gives way to the truth
    x = rng.normal(size=(20000, 2))
    y = rng.random(20000) < sigmoid(3.0 * x[:, 0] - 1.0 * x[:, 1])
    assert logistic(x, y, prior_mean=prior, prior_sd=0.5)[:2] == pytest.approx([3.0, -1.0], abs=0.15)


def evidence(audio: float, text: float) -> dict[str, float]:
    """One reading's evidence as the recognizer records it (a 5-token sentence in 1 s)."""
    return {"audio": audio, "tokens": 5, "text": text, "phonemes": 12, "free": -3.0, "free_tokens": 5,
            "speech_s": 1.0, "agree": 0.0}


PLAY_1 = ("play", (("deck", "1"),))
PLAY_2 = ("play", (("deck", "2"),))


def synthetic_utterances(n: int, seed: int) -> list[Heard]:
    """Utterances where the transcript (text) knows the answer and the audio is unsure."""
    rng = np.random.default_rng(seed)
    out = []
    for number in range(n):
        right, wrong = (PLAY_1, PLAY_2) if rng.random() < 0.5 else (PLAY_2, PLAY_1)
        a, b = rng.normal(-3, 1.5, size=2)
        readings = ((right, evidence(a, 0.9)), (wrong, evidence(b, 0.1)))
        out.append(Heard(readings, right, "clean", f"f{number}", number))
    return out


def test_a_fit_learns_what_this_models_evidence_is_worth():
    heard = synthetic_utterances(400, 0)
    # a prior that does not trust the transcript at all
    distrust = Calibration(weights=(0.2, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0), bias=0.0)
    fitted = fit(heard, distrust)
    assert fitted.weights[FEATURES.index("text")] > 0.5
    x, y = rows(heard, fitted)
    assert x.shape == (400, len(FEATURES)) and y.mean() > 0.9  # the best of each, nearly always the right one
    log_loss = lambda c: -np.mean(np.log(np.where(y, c.confidences_of(x), 1 - c.confidences_of(x))))  # noqa: E731
    assert log_loss(fitted) < log_loss(distrust)


def test_thresholds_keep_each_classes_wrong_commands_within_the_budget():
    context = default_context()
    # 100 'play' trials (safe): right at 0.6-0.95, and one wrong 'play' accepted at 0.74
    heard, ranked = [], []
    for n in range(100):
        expected = PLAY_1 if n else PLAY_2
        heard.append(Heard(((PLAY_1, {}),), expected, "clean", f"f{n}", n))
        ranked.append([(PLAY_1, 0.74 if n == 0 else 0.6 + 0.0035 * n)])
    # 100 'pause' trials (destructive): two wrong ones at 0.85 and 0.9
    pause_1, pause_2 = ("pause", (("deck", "1"),)), ("pause", (("deck", "2"),))
    for n in range(100, 200):
        expected = pause_2 if n in (100, 101) else pause_1
        heard.append(Heard(((pause_1, {}),), expected, "clean", f"f{n}", n))
        ranked.append([(pause_1, {100: 0.85, 101: 0.9}.get(n, 0.95))])
    found = thresholds([(heard, ranked, context)], SafetyConfig(), budget=0.01)
    assert found["min_confidence_safe"] == 0.5  # one wrong in 100 is within 1 %
    assert found["min_confidence_destructive"] == 0.86  # two are not: the higher one must go
    judged = judge(heard, ranked, SafetyGate(context, SafetyConfig(**found)))
    assert table(judged)["clean"]["misunderstood"] == 2  # the safe one, and pause at 0.9


def test_a_class_that_changes_more_never_gets_a_lower_threshold_than_a_safer_one():
    """Fitted apart, 'sync' (guarded, all right) could go through at 0.5 while 'play'
    (safe) needs 0.86: what changes what the crowd hears must not be the easier one."""
    context = default_context()
    play_2, sync_1 = ("play", (("deck", "2"),)), ("sync", (("deck", "1"),))
    heard, ranked = [], []
    for n in range(100):  # 'play': two wrong at 0.85 and 0.9, the rest right at 0.95
        heard.append(Heard(((PLAY_1, {}),), play_2 if n < 2 else PLAY_1, "clean", f"p{n}", n))
        ranked.append([(PLAY_1, {0: 0.85, 1: 0.9}.get(n, 0.95))])
    for n in range(100, 200):  # 'sync': always right
        heard.append(Heard(((sync_1, {}),), sync_1, "clean", f"s{n}", n))
        ranked.append([(sync_1, 0.7)])
    found = thresholds([(heard, ranked, context)], SafetyConfig(), budget=0.01)
    assert found["min_confidence_safe"] == 0.86
    assert found["min_confidence_guarded"] == 0.86  # its own fit alone: 0.5
    assert found["min_confidence_destructive"] == 0.99  # nothing destructive was said: no evidence to go lower


def test_after_training_calibrates_the_new_model_on_its_held_back_takes_in_music(
        synthetic_set, small_context, tmp_path, monkeypatch):
    """What ``djtui train`` runs once a model is written, with training music: the takes
    heard clean and in music by the base and the new model, music alone as negatives, and
    the new model's calibration.json beside its weights (cut down: one SNR, few windows)."""
    import functools
    import json

    import soundfile as sf

    from djtui.core import calibration_file
    from djtui.core.asr import bundled_whisper_path
    from djtui.training import calibrate
    from djtui.training.manifest import read_manifest

    model = tmp_path / "model"  # stands for the model training wrote: the bundled weights
    model.mkdir()
    for f in bundled_whisper_path().iterdir():
        (model / f.name).symlink_to(f)
    music = tmp_path / "music"
    music.mkdir()
    noise = np.convolve(np.random.default_rng(0).standard_normal(16000 * 6), np.ones(8) / 8, "same")
    sf.write(music / "crowd.wav", (0.2 * noise).astype(np.float32), 16000)
    monkeypatch.setattr(calibrate, "SNRS", (10,))
    monkeypatch.setattr(calibrate, "TRAINING_CHATTER", 2)
    monkeypatch.setattr(calibrate, "music_alone", functools.partial(calibrate.music_alone, windows=4))
    held_back = read_manifest(synthetic_set)[:3]
    progress: list[tuple[int, int]] = []

    result = calibrate.after_training(model, None, held_back, synthetic_set.parent, music_dir=music,
                                      context_path=small_context.source, on_progress=lambda *p: progress.append(p))

    written = calibration_file.for_model(model)
    assert written.calibrated and written.path == model / calibration_file.FILE
    assert written.fitted["prior"] == "tiny.en (bundled)" and written.fitted["conditions"] == ["clean", "10"]
    assert any("music alone" in d["what"] for d in written.fitted["data"])
    assert result["base"] == "tiny.en (bundled)" and result["base_calibrated"] and result["held_back"] == 3
    for table_ in (result["before"], result["after"]):
        assert table_["clean"]["n"] == 3 and table_["10"]["n"] == 3  # the takes, clean and in music
        assert {"accepted", "top1", "misunderstood"} <= set(table_["clean"])
        assert table_["clean"]["negatives"] == 2  # the chatter: audio that must be refused
    assert progress and progress[-1][1] == 2 * (3 + 2) * 2  # two models, five clips, two conditions
    assert result["after"]["music alone"]["negatives"] == 4  # and music alone, as audio that must be refused
    assert json.loads((model / calibration_file.FILE).read_text())["model"] == "model"


def eval_report(n: int, seed: int) -> dict:
    """What ``djtui eval --json`` records, for ``n`` trials of 'play deck 1/2' (clean) and
    a few windows of music: every utterance's readings with their evidence."""
    rng = np.random.default_rng(seed)
    trials = []
    for number in range(n):
        deck, other = ("1", "2") if rng.random() < 0.5 else ("2", "1")
        a, b = rng.normal(-3, 1.5, size=2)
        right_text = 0.9 if rng.random() < 0.9 else 0.1
        trials.append({"file": f"f{number}.wav", "condition": "clean", "expected": f"play(deck={deck})",
                       "readings": [[["play", {"deck": deck}, evidence(a, right_text)],
                                     ["play", {"deck": other}, evidence(b, 1 - right_text)]]]})
    music = [{"file": "song.ogg", "start_s": 2.0 * k,
              "readings": [["pause", {"deck": "1"}, evidence(-9.0, 0.0)], ["cue", {"deck": "1"}, evidence(-10.0, 0.0)]]}
             for k in range(10)]
    return {"trials": trials, "negatives": {"readings": music}}


def test_djtui_calibrate_fits_on_an_eval_report_and_writes_where_it_is_told(tmp_path, capsys):
    import json

    from djtui.cli import main
    from djtui.core import calibration_file

    report = tmp_path / "eval.json"
    report.write_text(json.dumps(eval_report(120, 0)))
    out = tmp_path / "new.json"
    assert main(["calibrate", "--model", "tiny.en", "--from-report", str(report)]) == 2  # the bundled file stays
    assert "--output" in capsys.readouterr().err
    assert main(["calibrate", "--model", "tiny.en", "--from-report", str(report), "--output", str(out),
                 "--thresholds"]) == 0
    printed = capsys.readouterr().out
    assert "min_confidence_safe = " in printed and "expected calibration error" in printed
    written = calibration_file.read(out)
    assert written.fitted["prior"] == "tiny.en (bundled)" and written.numbers["utterances"] == 130
    assert written.calibration != calibration_file.stock()  # fitted on this evidence, not copied
    assert main(["calibrate", "--model", "tiny.en", "--from-report", str(report), "--output",
                 str(tmp_path / "not.json"), "--dry-run"]) == 0
    assert not (tmp_path / "not.json").exists()


def test_thresholds_for_the_calibration_a_model_listens_with_now(tmp_path, capsys):
    """`--thresholds current` sets [safety] for the calibration kept, not for a new fit."""
    import json

    from djtui.cli import main
    from djtui.core import calibration_file
    from djtui.core.config import SafetyConfig
    from djtui.core.context_file import default_context
    from djtui.training.calibrate import heard_in_report, rescored

    data = eval_report(200, 1)
    report = tmp_path / "eval.json"
    report.write_text(json.dumps(data))
    assert main(["calibrate", "--model", "tiny.en", "--from-report", str(report), "--dry-run",
                 "--thresholds", "current"]) == 0
    printed = capsys.readouterr().out
    assert "the confidences it listens with now" in " ".join(printed.split())
    heard = heard_in_report(data)
    stock = calibration_file.stock()
    expected = thresholds([(heard, [rescored(h, stock) for h in heard], default_context())], SafetyConfig())
    assert f"min_confidence_safe = {expected['min_confidence_safe']:.2f}" in printed
    assert f"min_confidence = {expected['min_confidence']:.2f}" in printed


def test_an_order_cut_in_two_by_a_pause_is_judged_against_the_command_said():
    """A report's trial of two utterances, the first a fragment that never read the
    command: the second one's right reading, accepted, is understood, not misunderstood
    (the fragment once took the trial's expected command to be 'never read')."""
    from djtui.core import calibration_file
    from djtui.core.config import SafetyConfig
    from djtui.core.context_file import default_context
    from djtui.core.safety import SafetyGate
    from djtui.training.calibrate import heard_in_report, rescored

    sure = evidence(-0.5, 1.0)
    trial = {"file": "order.wav", "condition": "clean", "expected": "play(deck=1)",
             "readings": [[["sync", {"deck": "2"}, evidence(-30.0, 0.0)]],
                          [["play", {"deck": "1"}, sure], ["play", {"deck": "2"}, evidence(-30.0, 0.0)]]]}
    heard = heard_in_report({"trials": [trial]})
    assert [h.expected for h in heard] == [PLAY_1, PLAY_1]
    stock = calibration_file.stock()
    judged = judge(heard, [rescored(h, stock) for h in heard], SafetyGate(default_context(), SafetyConfig()))
    assert [j.outcome for j in judged] == ["understood"]


def test_a_fit_where_wrong_and_right_readings_look_alike_stays_near_its_prior():
    """A model taught one command hears an order in every bar of music: its readings of
    music look like its readings of orders. The fit must find that the evidence means
    less, not run away (a full Newton step overshot to weights in the hundreds, and the
    model's calibration then accepted 81 of 90 windows of music)."""
    import dataclasses

    from djtui.core import calibration_file

    rng = np.random.default_rng(3)
    said = []
    for number in range(160):
        a, b = rng.normal(-0.5, 0.6), rng.normal(-9, 3)
        readings = ((PLAY_1, evidence(a, rng.uniform(0.8, 1.0))), (PLAY_2, evidence(b, rng.uniform(0.0, 0.2))))
        said.append(Heard(readings, PLAY_1, "clean", f"f{number}", number))
    music = [dataclasses.replace(h, expected=None, condition="music alone", source=f"m{n}", trial=1000 + n)
             for n, h in enumerate(said[:140])]
    stock = calibration_file.stock()
    fitted = fit(said + music, stock)
    assert max(abs(w) for w in (*fitted.weights, fitted.bias)) < 5
    x, _ = rows(said, fitted)
    stock_x, _ = rows(said, stock)
    assert fitted.confidences_of(x).mean() < stock.confidences_of(stock_x).mean()  # it trusts this evidence less
