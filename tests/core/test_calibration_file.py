"""Each model carries its own confidence calibration: a file beside its weights, read by
the recognizer of the engine that listens; a model without one says so and listens with
a conservative default."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from djtui.core import calibration_file
from djtui.core.asr import WhisperEngine, bundled_whisper_path
from djtui.core.config import Config
from djtui.core.confidence import FEATURES, Calibration
from djtui.core.context_file import default_context
from djtui.core.errors import DjtuiError
from djtui.core.stages import build, recognizer_for

CONFIG = Config().updated({"resolver": {"semantic_weight": 0.0}})


def model_folder(folder: Path) -> Path:
    """A Whisper model folder as ``djtui train`` leaves one (here: the bundled weights)."""
    folder.mkdir(parents=True, exist_ok=True)
    for part in bundled_whisper_path().iterdir():
        (folder / part.name).symlink_to(part)
    return folder


def calibrated(folder: Path, calibration: Calibration, model: str = "mine") -> Path:
    return calibration_file.write(folder, calibration_file.ModelCalibration(
        calibration, folder / calibration_file.FILE, model, {"method": "test"}, {"utterances": 7}))


def test_a_model_folder_carries_its_calibration_and_the_recognizer_uses_it(tmp_path, whisper_engine, speak):
    folder = model_folder(tmp_path / "mine")
    stock = calibration_file.stock()
    trusting = dataclasses.replace(stock, bias=stock.bias + 3.0)  # this model's evidence is worth more
    path = calibrated(folder, trusting)

    mine = recognizer_for(CONFIG, default_context(), WhisperEngine(folder, threads=1), warm_up=False)
    assert mine.calibration == trusting and mine.calibrated.path == path
    assert "calibrated for mine on 7 utterances" in mine.calibrated.summary
    bundled = recognizer_for(CONFIG, default_context(), whisper_engine, warm_up=False)
    assert bundled.calibrated.calibrated and bundled.calibrated.model == "tiny.en (bundled)"

    audio = speak("sync deck two")
    heard, heard_stock = mine.understand(audio), bundled.understand(audio)
    # the same weights, the same evidence: only the calibration differs, and so do the confidences
    assert heard.best.key() == heard_stock.best.key() == ("sync", (("deck", "2"),))
    assert heard.best.evidence["audio"] == pytest.approx(heard_stock.best.evidence["audio"], abs=0.05)
    assert heard.best.score > heard_stock.best.score


def test_a_model_without_one_falls_back_to_a_conservative_default_and_says_so(tmp_path, whisper_engine, speak):
    folder = model_folder(tmp_path / "bare")
    stages = build(CONFIG.updated({"asr": {"engine": "whisper", "model": str(folder)}}), context=default_context(),
                   dry_run=True, session_log=False)
    fallback = stages.recognizer.calibrated
    assert not fallback.calibrated and fallback.path is None
    assert "no calibration for this model" in stages.engine_description
    audio = speak("sync deck two")
    stock = recognizer_for(CONFIG, default_context(), whisper_engine, warm_up=False)
    heard, heard_stock = stages.recognizer.understand(audio).best, stock.understand(audio).best
    assert heard.key() == heard_stock.key() and heard.score < heard_stock.score  # trusted less, never more


def test_the_bundled_models_calibration_ships_with_djtui():
    assert calibration_file.for_model(None, "tiny.en").calibrated
    assert calibration_file.for_model(None, "tiny.en").calibration == calibration_file.stock()


def test_a_file_from_before_a_feature_existed_weighs_it_zero(tmp_path):
    (tmp_path / calibration_file.FILE).write_text(json.dumps({
        "format": calibration_file.FORMAT, "version": 1, "model": "old",
        "weights": {"gap": 0.5, "text": 1.0, "pace": -1.0, "clarity": 0.5, "fit": 0.8}, "bias": 1.0}))
    calibration = calibration_file.for_model(tmp_path).calibration
    assert calibration.weights == (0.5, 1.0, -1.0, 0.5, 0.8) + (0.0,) * (len(FEATURES) - 5)


@pytest.mark.parametrize("text, says", [
    ("not json", "not JSON"),
    (json.dumps({"weights": {}}), "no \"format\""),
    (json.dumps({"format": calibration_file.FORMAT, "version": 99, "weights": {}}), "version 99"),
    (json.dumps({"format": calibration_file.FORMAT, "version": 1, "weights": {"loudness": 1.0}}), "unknown feature"),
    (json.dumps({"format": calibration_file.FORMAT, "version": 1, "weights": {"gap": "high"}}), "numbers"),
])
def test_a_broken_file_is_one_error_naming_it(tmp_path, text, says):
    path = tmp_path / calibration_file.FILE
    path.write_text(text)
    with pytest.raises(DjtuiError) as error:
        calibration_file.for_model(tmp_path)
    assert str(path) in error.value.message and says in error.value.message
    assert "djtui calibrate" in error.value.hint
