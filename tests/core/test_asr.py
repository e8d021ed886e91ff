"""ASR engines: the tiny local wav2vec2 round-trips through save_pretrained, the bundled
Whisper transcribes synthetic speech, and load_engine picks and explains an engine."""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest

from djtui.core import paths
from djtui.core.asr import (Wav2Vec2Engine, WhisperEngine, built_context_model, bundled_whisper_path, choose_engine,
                            drop_repeats, is_whisper_folder, load_engine, whisper_features)
from djtui.core.config import AsrConfig
from djtui.core.context_file import parse_context
from djtui.core.errors import DjtuiError
from djtui.core.records import AsrResult
from djtui.core.seal import write_seal


def words(text: str) -> str:
    return re.sub(r"[^a-z0-9 ]", "", text.lower()).strip()


def test_wav2vec2_folder_gives_transcript_and_frame_logprobs(tiny_wav2vec2, speak):
    engine = Wav2Vec2Engine(tiny_wav2vec2, quantize=False)
    audio = speak("play deck one")
    result = engine.transcribe(audio)
    assert isinstance(result, AsrResult)
    assert (result.engine, result.model) == ("wav2vec2", str(tiny_wav2vec2))
    # one frame per 20 ms, a log-softmax over the 32-character vocabulary
    assert abs(result.logprobs.shape[0] - len(audio) / 320) <= 1
    assert result.logprobs.shape[1] == len(engine.vocab) == 32
    np.testing.assert_allclose(np.exp(result.logprobs).sum(axis=1), 1.0, rtol=1e-4)
    assert result.text == engine.decode(result.logprobs)
    assert result.text == result.text.lower() and result.seconds > 0
    assert (engine.blank_id, engine.word_delimiter, engine.upper_case) == (0, "|", True)


def test_wav2vec2_int8_quantization_keeps_the_output_close(tiny_wav2vec2, speak):
    import torch

    audio = speak("sync deck two")
    exact = Wav2Vec2Engine(tiny_wav2vec2, quantize=False).transcribe(audio).logprobs
    engine = Wav2Vec2Engine(tiny_wav2vec2, quantize=True)
    quantized = engine.transcribe(audio).logprobs
    assert any(isinstance(m, torch.ao.nn.quantized.dynamic.Linear) for m in engine.model.modules())
    assert quantized.shape == exact.shape
    assert np.abs(np.exp(quantized) - np.exp(exact)).max() < 0.1


def test_wav2vec2_handles_very_short_audio(tiny_wav2vec2):
    result = Wav2Vec2Engine(tiny_wav2vec2).transcribe(np.zeros(100, dtype=np.float32))
    assert result.logprobs.shape[0] == 1


def test_unreachable_hub_model_is_one_clear_error():
    with pytest.raises(DjtuiError) as caught:
        Wav2Vec2Engine("djtui-test/no-such-model")
    assert "djtui-test/no-such-model" in caught.value.message
    assert "djtui train" in caught.value.hint


def test_folder_that_is_not_a_model_is_one_clear_error(tmp_path):
    with pytest.raises(DjtuiError, match="not a wav2vec2 model folder"):
        Wav2Vec2Engine(tmp_path)
    with pytest.raises(DjtuiError, match="does not exist"):
        Wav2Vec2Engine(tmp_path / "missing" / "model")


def test_whisper_transcribes_a_spoken_command(whisper_engine, speak):
    result = whisper_engine.transcribe(speak("play left"))
    assert words(result.text) == "play left"
    assert result.logprobs is None and result.encoding is not None
    assert result.encoding.frames > 0
    assert result.engine == "whisper" and "tiny.en" in result.model


def test_whisper_hears_deck_commands_close_enough(whisper_engine, speak):
    # espeak's "deck" is often heard as "back"; rescoring fixes that, the words must be close.
    text = words(whisper_engine.transcribe(speak("play deck one")).text)
    assert text.startswith("play") and text.endswith(("1", "one"))


def test_whisper_on_silence_says_little(whisper_engine):
    result = whisper_engine.transcribe(np.zeros(16000, dtype=np.float32))
    assert len(words(result.text).split()) <= 2


def test_whisper_folder_without_model_is_one_clear_error(tmp_path):
    with pytest.raises(DjtuiError, match="not a CTranslate2 Whisper model folder"):
        WhisperEngine(tmp_path)


def test_auto_picks_bundled_whisper_without_a_fine_tuned_model():
    engine = load_engine(AsrConfig())
    assert isinstance(engine, WhisperEngine)
    assert "no model set" in engine.description


def _not_models(tmp_path):
    """Folders and files that are named as a model but are none (what a killed training
    run, a typo or a download cut short leaves)."""
    empty = tmp_path / "empty"
    empty.mkdir()
    broken = tmp_path / "broken-config"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    plain = tmp_path / "plain.txt"
    plain.write_text("hello")
    stub = tmp_path / "stub"
    stub.mkdir()
    (stub / "model.bin").write_bytes(b"0123456789")
    return [empty, broken, plain, stub]


def test_a_model_that_is_named_but_is_none_is_one_clear_error_never_the_stock_model(tmp_path):
    for path in _not_models(tmp_path):
        with pytest.raises(DjtuiError, match="is not a model djtui can run") as raised:
            choose_engine(AsrConfig(model=str(path)))
        assert str(path) in raised.value.message
    with pytest.raises(DjtuiError, match="does not exist"):
        choose_engine(AsrConfig(model=str(tmp_path / "typo")))


def test_a_damaged_context_model_falls_back_to_the_bundled_model_and_says_so(tmp_path):
    """Cut short after its build sealed it: auto warns and listens with the bundled
    model (the build then runs again, as it finds no built model)."""
    context = parse_context("context:\n  name: booth\n  intents:\n    go:\n      expressions: [go]\n")
    built = paths.context_model_dir(context.name, context.text)
    built.mkdir(parents=True)
    shutil.copy(bundled_whisper_path() / "model.bin", built / "model.bin")
    write_seal(built)
    assert choose_engine(AsrConfig(), context).context_model == "booth"
    with open(built / "model.bin", "r+b") as f:
        f.truncate(4096)  # the header of a model, cut short
    choice = choose_engine(AsrConfig(), context)
    assert choice.model is None and choice.context_model is None
    assert "the context model for booth is damaged (model.bin is 4,096 bytes" in choice.why
    engine = load_engine(AsrConfig(), context)
    assert engine.model_id == "tiny.en (bundled)" and "is damaged" in engine.description
    assert built_context_model(context) is None


def test_a_sealed_context_model_that_will_not_load_falls_back_to_the_bundled_model(tmp_path):
    context = parse_context("context:\n  name: booth\n  intents:\n    go:\n      expressions: [go]\n")
    built = paths.context_model_dir(context.name, context.text)
    built.mkdir(parents=True)
    with open(bundled_whisper_path() / "model.bin", "rb") as f:
        (built / "model.bin").write_bytes(f.read(4096))  # sealed as it is: whole to the seal, no model to CTranslate2
    write_seal(built)
    assert choose_engine(AsrConfig(), context).context_model == "booth"
    engine = load_engine(AsrConfig(), context)
    assert engine.model_id == "tiny.en (bundled)"
    assert "the context model did not load" in engine.description


def test_auto_picks_a_local_fine_tuned_wav2vec2(tiny_wav2vec2):
    engine = load_engine(AsrConfig(model=str(tiny_wav2vec2), quantize=False))
    assert isinstance(engine, Wav2Vec2Engine)
    assert "fine-tuned wav2vec2" in engine.description and str(tiny_wav2vec2) in engine.description


def test_auto_picks_a_ctranslate2_whisper_folder(tiny_wav2vec2, tmp_path):
    """What ``djtui train`` writes by default is a CTranslate2 Whisper folder, like the
    bundled one."""
    assert is_whisper_folder(bundled_whisper_path())
    assert not is_whisper_folder(tiny_wav2vec2) and not is_whisper_folder(tmp_path)
    engine = load_engine(AsrConfig(model=str(bundled_whisper_path())))
    assert isinstance(engine, WhisperEngine) and engine.model_id == str(bundled_whisper_path())
    assert "fine-tuned Whisper model" in engine.description


def test_whisper_features_fill_the_window_with_zeros(whisper_engine, speak):
    audio = speak("play deck one")
    features, frames = whisper_features(whisper_engine.feature_extractor, audio, 1000)
    assert features.shape == (80, 1000) and frames == pytest.approx(len(audio) / 160, abs=2)
    assert not features[:, frames:].any() and features[:, :frames].any()
    long, frames = whisper_features(whisper_engine.feature_extractor, np.zeros(16000 * 23 // 2, np.float32), 1000)
    assert long.shape == (80, 1200) and frames > 1100  # the next whole second beyond the window


def test_unknown_engine_is_one_clear_error():
    with pytest.raises(DjtuiError, match="unknown ASR engine 'kaldi'"):
        load_engine(AsrConfig.model_construct(engine="kaldi"))  # past the config's own check


def test_a_transcript_that_loops_is_cut_to_one_copy():
    assert drop_repeats("previous track previous track previous track previous") == "previous track"
    assert drop_repeats("Cut, eyes are right. Cut, eyes are right. Cut, eyes are righ") == "Cut, eyes are right."
    assert drop_repeats("loop four beats on deck four") == "loop four beats on deck four"
    assert drop_repeats("") == ""
    assert drop_repeats("Cut, eyes are right. Cut, eyes") == "Cut, eyes are right."
    assert drop_repeats("fx on fx") == "fx on fx"
