"""The real host: what this machine offers the TUI, built the way every front end builds it."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from djtui.core import paths
from djtui.core.asr import bundled_whisper_path
from djtui.core.config import Config
from djtui.core.context_file import parse_context
from djtui.core.errors import DjtuiError
from djtui.core.seal import write_seal
from djtui.tui.host import Host, asr_summary, user_error

TINY = """\
context:
  name: booth
  intents:
    play: {expressions: ["play it"]}
"""


def test_the_context_is_the_configured_one(tmp_path):
    path = tmp_path / "booth.yaml"
    path.write_text(TINY)
    assert Host().context(Config()).name == "dj"  # the bundled one by default
    assert Host().context(Config().updated({"resolver": {"context": str(path)}})).name == "booth"


def test_the_resolver_follows_the_config(tmp_path):
    config = Config().updated({"resolver": {"semantic_weight": 0.0}})
    resolver = Host().resolver(Host().context(config), config)
    assert resolver.semantic is None  # weight 0: no embedding model is loaded
    assert resolver.resolve("play deck one")[0].intent == "play"


def test_a_file_can_stand_in_for_the_microphone(tmp_path):
    path = tmp_path / "take.wav"
    sf.write(path, np.zeros(8000, np.float32), 16000)
    blocks = list(Host().file_source(path, realtime=False).blocks())
    assert blocks and all(len(b) == 512 for b in blocks)
    with pytest.raises(DjtuiError, match="no such audio file"):
        Host().file_source(tmp_path / "gone.wav")


def test_a_microphone_that_is_not_there_is_a_clear_error():
    with pytest.raises(DjtuiError, match="not found") as info:
        Host().microphone(Config().updated({"audio": {"input_device": "no such interface 4711"}}))
    assert info.value.hint


def test_a_library_error_becomes_one_message_the_tui_can_show():
    error = user_error(RuntimeError("PortAudio said no"), "listing audio inputs")
    assert isinstance(error, DjtuiError)
    assert error.message == "listing audio inputs failed: PortAudio said no" and "djtui keeps running" in error.hint
    own = DjtuiError("x", "y")
    assert user_error(own, "anything") is own


def test_the_engine_is_named_from_the_config_without_loading_it():
    assert asr_summary(Config()) == "whisper · tiny.en (bundled)"
    assert asr_summary(Config().updated({"asr": {"model": "facebook/wav2vec2-base-960h"}})) == \
        "wav2vec2 · facebook/wav2vec2-base-960h · int8"  # a hub id: the choice the live engine makes
    assert asr_summary(Config().updated({"asr": {"model": "/models/mine"}})) == \
        "not usable: model folder /models/mine does not exist"
    bundled = str(bundled_whisper_path())  # a CTranslate2 Whisper folder: what djtui train writes
    assert asr_summary(Config().updated({"asr": {"model": bundled}})) == f"whisper · {bundled}"
    assert asr_summary(Config().updated({"asr": {"engine": "whisper", "model": "/models/ct2"}})) == \
        "whisper · /models/ct2 · no calibration: conservative confidence (djtui calibrate)"  # a folder without one
    assert asr_summary(Config().updated({"asr": {"model": "base"}})) == \
        "whisper · base · no calibration: conservative confidence (djtui calibrate)"  # none ships for base yet


def test_a_built_context_model_is_named_as_the_engine_listening():
    context = parse_context(TINY)
    assert asr_summary(Config(), context) == "whisper · tiny.en (bundled)"
    built = paths.context_model_dir(context.name, context.text)
    built.mkdir(parents=True)
    with open(bundled_whisper_path() / "model.bin", "rb") as f:
        (built / "model.bin").write_bytes(f.read(64))  # the header is what names a Whisper folder
    assert asr_summary(Config(), context) == "whisper · tiny.en (bundled)"  # not built until its build sealed it
    write_seal(built)
    assert asr_summary(Config(), context) == \
        "whisper · context model for booth · no calibration: conservative confidence (djtui calibrate)"
    from djtui.core import calibration_file
    calibration_file.write(built, calibration_file.ModelCalibration(calibration_file.stock(), None, "booth", {}, {}))
    assert asr_summary(Config(), context) == "whisper · context model for booth"  # it carries its own now
    assert asr_summary(Config().updated({"asr": {"engine": "whisper"}}), context) == "whisper · tiny.en (bundled)"
