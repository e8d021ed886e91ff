"""CTranslate2 <-> transformers for Whisper: the bundled tiny.en goes to torch and back
bit for bit, transcribes the same generated clips after the trip, its torch logits are
CTranslate2's, and anything the mapping does not know is a loud error."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from djtui.core.asr import WhisperEngine, bundled_whisper_path
from djtui.core.errors import DjtuiError
from djtui.core.ct2 import float_weights, read_model_bin
from djtui.training.whisper_convert import (load_transformers, save_ctranslate2,
                                            transformers_state)

PHRASES = ("play deck one", "sync deck two", "loop four beats on the left", "filter on left",
           "reset the eq on the right", "cue point eight right")


@pytest.fixture(scope="module")
def round_trip(whisper_transformers, tmp_path_factory) -> Path:
    """The bundled model, through transformers, written back as CTranslate2 float16."""
    model, processor = whisper_transformers
    return save_ctranslate2(model, processor, tmp_path_factory.mktemp("whisper") / "round-trip")


def test_the_bundled_model_is_float16_with_a_tied_projection():
    bundled = read_model_bin(bundled_whisper_path() / "model.bin")
    assert bundled.spec == "WhisperSpec"
    weights = [v for v in bundled.variables.values() if v.ndim > 0]
    assert {v.dtype for v in weights} == {np.dtype("float16")}
    assert bundled.aliases == {"decoder/projection/weight": "decoder/embeddings/weight"}


def test_every_weight_survives_the_round_trip_bit_for_bit(round_trip):
    bundled = read_model_bin(bundled_whisper_path() / "model.bin")
    again = read_model_bin(round_trip / "model.bin")
    assert again.aliases == bundled.aliases
    for name, value in bundled.variables.items():
        assert again.variables[name].dtype == value.dtype and np.array_equal(again.variables[name], value), name
    # Newer converters add two alibi flags; both say "off", as the bundled model implies.
    assert {k: int(v) for k, v in again.variables.items() if k not in bundled.variables} in (
        {}, {"decoder/scale_alibi": 0, "decoder/alibi_use_positive_positions": 0})
    settings = json.loads((bundled_whisper_path() / "config.json").read_text())
    assert json.loads((round_trip / "config.json").read_text()) == settings
    vocabulary = (bundled_whisper_path() / "vocabulary.txt").read_text(encoding="utf-8").splitlines()
    assert json.loads((round_trip / "vocabulary.json").read_text(encoding="utf-8")) == vocabulary


def test_the_round_trip_transcribes_generated_speech_like_the_bundled_model(round_trip, speak):
    """Greedy decoding (temperature 0) of espeak and Piper clips, the live engine's way."""
    bundled, converted = WhisperEngine(threads=1), WhisperEngine(round_trip, threads=1)
    for text in PHRASES:
        for engine in ("espeak", "piper"):
            audio = speak(text, engine=engine)
            assert converted.transcribe(audio).text == bundled.transcribe(audio).text, (text, engine)


def test_the_tokenizer_travels_with_the_model(round_trip):
    """faster-whisper reads tokenizer.json from the folder (without it, it asks the hub)."""
    import tokenizers

    original = tokenizers.Tokenizer.from_file(str(bundled_whisper_path() / "tokenizer.json"))
    copied = tokenizers.Tokenizer.from_file(str(round_trip / "tokenizer.json"))
    assert copied.get_vocab(with_added_tokens=True) == original.get_vocab(with_added_tokens=True)
    for text in (" Play deck one.", " Cue point 8, right!", "<|startoftranscript|><|notimestamps|> Sync"):
        assert copied.encode(text).ids == original.encode(text).ids


def test_torch_logits_are_ctranslate2s(whisper_transformers, speak):
    """Teacher-forced torch logits on CTranslate2's own greedy output equal the logits
    CTranslate2 (float32) computed on the same features."""
    import ctranslate2
    import torch
    from faster_whisper.feature_extractor import FeatureExtractor

    model, processor = whisper_transformers
    mel = FeatureExtractor()(speak("sync deck two", engine="piper"))
    features = np.zeros((1, 80, 3000), dtype=np.float32)  # transformers' full 30 s window
    features[0, :, :mel.shape[1]] = mel
    ct2 = ctranslate2.models.Whisper(str(bundled_whisper_path()), device="cpu", compute_type="float32")
    prompt = processor.tokenizer.convert_tokens_to_ids(["<|startoftranscript|>", "<|notimestamps|>"])
    result = ct2.generate(ctranslate2.StorageView.from_array(features), [prompt], beam_size=1,
                          return_logits_vocab=True, suppress_blank=False, suppress_tokens=[])[0]
    tokens = result.sequences_ids[0]
    expected = np.stack([np.asarray(step).reshape(-1) for step in result.logits[0]])
    with torch.no_grad():
        logits = model(input_features=torch.from_numpy(features),
                       decoder_input_ids=torch.tensor([prompt + tokens])).logits[0].numpy()
    assert len(tokens) >= 3
    np.testing.assert_allclose(logits[len(prompt) - 1:len(prompt) - 1 + len(expected)], expected, atol=2e-3)


def test_an_int8_model_converts_back_close_to_the_original(whisper_transformers, tmp_path):
    """int8 weights come back within one quantisation step; converting leaves the torch
    model alone (CTranslate2's quantiser scales the tensors it is handed in place)."""
    model, processor = whisper_transformers
    original = model.model.encoder.layers[0].fc1.weight.detach().numpy().copy()
    folder = save_ctranslate2(model, processor, tmp_path / "int8", quantization="int8")
    assert np.array_equal(model.model.encoder.layers[0].fc1.weight.detach().numpy(), original)
    stored = read_model_bin(folder / "model.bin").variables
    assert stored["encoder/layer_0/ffn/linear_0/weight"].dtype == np.int8
    back, _ = load_transformers(folder)
    restored = back.model.encoder.layers[0].fc1.weight.detach().numpy()
    step = np.abs(original).max(axis=1, keepdims=True) / 127
    assert np.all(np.abs(restored - original) <= step / 2 + 1e-6)


def bundled_weights() -> dict[str, np.ndarray]:
    return float_weights(read_model_bin(bundled_whisper_path() / "model.bin"))


def test_a_variable_the_mapping_does_not_know_is_an_error():
    weights = bundled_weights()
    weights["decoder/layer_0/attention/linear_3/weight"] = np.zeros((384, 384), np.float32)
    with pytest.raises(DjtuiError, match="does not know how to convert: decoder/layer_0/attention/linear_3/weight"):
        transformers_state(weights, 4, 4)


def test_a_missing_variable_is_an_error():
    weights = bundled_weights()
    del weights["encoder/layer_3/ffn/linear_1/bias"]
    with pytest.raises(DjtuiError, match="no encoder/layer_3/ffn/linear_1/bias"):
        transformers_state(weights, 4, 4)


def test_a_k_bias_transformers_cannot_hold_is_an_error():
    weights = bundled_weights()
    bias = weights["encoder/layer_1/self_attention/linear_0/bias"].copy()
    bias[384 + 7] = 0.5  # the k third of q, k, v
    weights["encoder/layer_1/self_attention/linear_0/bias"] = bias
    with pytest.raises(DjtuiError, match="non-zero k bias"):
        transformers_state(weights, 4, 4)


def test_an_architecture_flag_whisper_does_not_have_is_an_error():
    weights = bundled_weights()
    weights["decoder/pre_norm"] = np.array(0, dtype=np.int8)
    with pytest.raises(DjtuiError, match="decoder/pre_norm is 0"):
        transformers_state(weights, 4, 4)


def test_a_file_that_is_not_a_model_is_one_clear_error(tmp_path):
    (tmp_path / "model.bin").write_bytes(b"\x06\x00\x00\x00\x0c\x00WhisperSp")
    with pytest.raises(DjtuiError, match="not a readable CTranslate2 model"):
        read_model_bin(tmp_path / "model.bin")
    with pytest.raises(DjtuiError, match="no model.bin"):
        load_transformers(tmp_path / "nowhere")
