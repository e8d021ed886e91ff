"""Whisper weights between CTranslate2 and transformers, both ways, offline.

The live engine runs Whisper on CTranslate2 (a folder with ``model.bin``); fine-tuning
and anything else that needs gradients or torch logits runs on transformers'
``WhisperForConditionalGeneration``. This module is the bridge:

- :func:`djtui.core.ct2.read_model_bin` reads CTranslate2's ``ModelSpec`` serialisation
  (the live grammar search reads the same weights);
- :func:`load_transformers` maps every variable of a CTranslate2 Whisper folder onto a
  transformers model by name and builds its processor from the folder's
  ``tokenizer.json`` — a variable left over, or one missing, is a :class:`DjtuiError`;
- :func:`save_ctranslate2` goes back with CTranslate2's own transformers converter, in
  float16 by default (int8 would re-quantise the convolutions and change transcripts),
  and copies the tokenizer so that faster-whisper never asks the hub for one.

Naming, CTranslate2 → transformers: self-attention ``linear_0`` is q, k and v fused,
``linear_1`` the output; cross-attention ``linear_0`` is q, ``linear_1`` k and v fused,
``linear_2`` the output. The fused k bias is zero (transformers' Whisper has no k bias)
and ``decoder/projection`` is an alias of ``decoder/embeddings`` (tied weights).
"""

from __future__ import annotations

import copy
import json
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from djtui.core.ct2 import MODEL_BIN, float_weights, read_model_bin
from djtui.core.errors import DjtuiError
from djtui.core.fileio import write_problems_said

CONFIG = "config.json"
TOKENIZER = "tokenizer.json"
WHISPER_SPEC = "WhisperSpec"
GELU = 3  # CTranslate2's Activation.GELU
# The scalars of a Whisper spec and the value transformers' Whisper needs (None: any;
# the head counts go into the config, the alignment settings serve CTranslate2's own
# alignment only). The last two are written by newer CTranslate2 versions only.
SCALARS: dict[str, int | None] = {
    "encoder/num_heads": None, "decoder/num_heads": None, "decoder/activation": GELU, "decoder/pre_norm": 1,
    "decoder/scale_embeddings": 0, "decoder/alibi": 0, "decoder/start_from_zero_embedding": 0,
    "decoder/alignment_heads": None, "decoder/alignment_layer": None,
    "decoder/scale_alibi": 0, "decoder/alibi_use_positive_positions": 0,
}


def load_transformers(folder: str | Path) -> tuple[Any, Any]:
    """``(WhisperForConditionalGeneration, WhisperProcessor)`` holding the weights of the
    CTranslate2 Whisper model in ``folder`` (float32, eval mode). The processor's
    tokenizer is the folder's ``tokenizer.json``; the generation config carries the
    folder's ``config.json`` (suppressed tokens, alignment heads, language ids), so
    :func:`save_ctranslate2` writes the same one back."""
    import torch

    folder = Path(folder)
    ct2 = read_model_bin(folder / MODEL_BIN)
    if ct2.spec != WHISPER_SPEC:
        raise DjtuiError(f"{folder} holds a {ct2.spec}, not a Whisper model", "point at a CTranslate2 Whisper folder")
    weights = float_weights(ct2)
    settings = _ct2_settings(folder)
    processor = build_processor(folder, n_mels=weights["encoder/conv1/weight"].shape[1])
    config = whisper_config(weights, processor.tokenizer, settings)
    from transformers import GenerationConfig, WhisperForConditionalGeneration

    with torch.device("meta"):  # no random init of 39 M weights we overwrite at once
        model = WhisperForConditionalGeneration(config)
    state = transformers_state(weights, config.encoder_layers, config.decoder_layers)
    model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in state.items()}, strict=True, assign=True)
    model.tie_weights()
    model.generation_config = GenerationConfig(
        decoder_start_token_id=config.decoder_start_token_id, eos_token_id=config.eos_token_id,
        pad_token_id=config.pad_token_id, bos_token_id=config.bos_token_id,
        suppress_tokens=settings.get("suppress_ids", []), begin_suppress_tokens=settings.get("suppress_ids_begin", []),
        alignment_heads=settings.get("alignment_heads"),
        lang_to_id={processor.tokenizer.convert_ids_to_tokens(i): i for i in settings.get("lang_ids", [])},
        no_timestamps_token_id=processor.tokenizer.convert_tokens_to_ids("<|notimestamps|>"))
    return model.eval(), processor


def _ct2_settings(folder: Path) -> dict[str, Any]:
    try:
        return json.loads((folder / CONFIG).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise DjtuiError(f"cannot read {folder / CONFIG}: {exc}", "restore the model folder's config.json") from None


def build_processor(folder: Path, n_mels: int = 80) -> Any:
    """A ``WhisperProcessor`` from the folder's ``tokenizer.json`` and default log-mel
    settings (``n_mels`` bins), built locally: nothing is fetched."""
    from transformers import WhisperFeatureExtractor, WhisperProcessor, WhisperTokenizerFast

    if not (folder / TOKENIZER).is_file():
        raise DjtuiError(f"{folder} has no {TOKENIZER}", "use a Whisper folder that ships its tokenizer (the bundled one does)")
    tokenizer = WhisperTokenizerFast(tokenizer_file=str(folder / TOKENIZER))
    return WhisperProcessor(feature_extractor=WhisperFeatureExtractor(feature_size=n_mels), tokenizer=tokenizer)


def whisper_config(weights: dict[str, np.ndarray], tokenizer: Any, settings: dict[str, Any]) -> Any:
    """The transformers ``WhisperConfig`` the weights' shapes and head counts describe."""
    from transformers import WhisperConfig

    def count(prefix: str) -> int:
        return len({name.split("/")[1] for name in weights if re.match(rf"{prefix}/layer_\d+/", name)})

    vocab, d_model = weights["decoder/embeddings/weight"].shape
    token = tokenizer.convert_tokens_to_ids
    eot, sot = token("<|endoftext|>"), token("<|startoftranscript|>")
    return WhisperConfig(
        vocab_size=int(vocab), num_mel_bins=int(weights["encoder/conv1/weight"].shape[1]), d_model=int(d_model),
        encoder_layers=count("encoder"), decoder_layers=count("decoder"),
        encoder_attention_heads=int(weights["encoder/num_heads"]), decoder_attention_heads=int(weights["decoder/num_heads"]),
        encoder_ffn_dim=int(weights["encoder/layer_0/ffn/linear_0/weight"].shape[0]),
        decoder_ffn_dim=int(weights["decoder/layer_0/ffn/linear_0/weight"].shape[0]),
        max_source_positions=int(weights["encoder/position_encodings/encodings"].shape[0]),
        max_target_positions=int(weights["decoder/position_encodings/encodings"].shape[0]),
        bos_token_id=eot, eos_token_id=eot, pad_token_id=eot, decoder_start_token_id=sot,
        suppress_tokens=settings.get("suppress_ids", []), begin_suppress_tokens=settings.get("suppress_ids_begin", []),
        tie_word_embeddings=True)


def transformers_state(weights: dict[str, np.ndarray], encoder_layers: int, decoder_layers: int) -> dict[str, np.ndarray]:
    """transformers' state dict from CTranslate2's variables, mapped by name. Every
    variable must be used exactly once, each scalar must be one of :data:`SCALARS` with
    the value it lists; a variable left over or missing is a :class:`DjtuiError`."""
    left = dict(weights)

    def take(name: str) -> np.ndarray:
        try:
            return left.pop(name)
        except KeyError:
            raise DjtuiError(f"model.bin has no {name}", "this is not a Whisper model djtui can convert") from None

    def norm(ct2: str, hf: str) -> dict[str, np.ndarray]:
        return {f"{hf}.weight": take(f"{ct2}/gamma"), f"{hf}.bias": take(f"{ct2}/beta")}

    def linear(ct2: str, hf: str) -> dict[str, np.ndarray]:
        return {f"{hf}.weight": take(f"{ct2}/weight"), f"{hf}.bias": take(f"{ct2}/bias")}

    def split(ct2: str, hf: str, parts: tuple[str, ...]) -> dict[str, np.ndarray]:
        """A fused projection into its parts; k has no bias in transformers (CT2's is zero)."""
        weight, bias = take(f"{ct2}/weight"), take(f"{ct2}/bias")
        out = {}
        for part, w, b in zip(parts, np.split(weight, len(parts)), np.split(bias, len(parts))):
            out[f"{hf}.{part}.weight"] = w
            if part == "k_proj":
                if np.any(b):
                    raise DjtuiError(f"{ct2} has a non-zero k bias", "transformers' Whisper has none: not convertible")
            else:
                out[f"{hf}.{part}.bias"] = b
        return out

    def attention(ct2: str, hf: str, cross: bool) -> dict[str, np.ndarray]:
        if cross:
            return {**linear(f"{ct2}/linear_0", f"{hf}.q_proj"), **split(f"{ct2}/linear_1", hf, ("k_proj", "v_proj")),
                    **linear(f"{ct2}/linear_2", f"{hf}.out_proj")}
        return {**split(f"{ct2}/linear_0", hf, ("q_proj", "k_proj", "v_proj")),
                **linear(f"{ct2}/linear_1", f"{hf}.out_proj")}

    def layer(ct2: str, hf: str, decoder: bool) -> dict[str, np.ndarray]:
        out = {**attention(f"{ct2}/self_attention", f"{hf}.self_attn", cross=False),
               **norm(f"{ct2}/self_attention/layer_norm", f"{hf}.self_attn_layer_norm"),
               **linear(f"{ct2}/ffn/linear_0", f"{hf}.fc1"), **linear(f"{ct2}/ffn/linear_1", f"{hf}.fc2"),
               **norm(f"{ct2}/ffn/layer_norm", f"{hf}.final_layer_norm")}
        if decoder:
            out |= {**attention(f"{ct2}/attention", f"{hf}.encoder_attn", cross=True),
                    **norm(f"{ct2}/attention/layer_norm", f"{hf}.encoder_attn_layer_norm")}
        return out

    state = {
        **linear("encoder/conv1", "model.encoder.conv1"), **linear("encoder/conv2", "model.encoder.conv2"),
        "model.encoder.embed_positions.weight": take("encoder/position_encodings/encodings"),
        **norm("encoder/layer_norm", "model.encoder.layer_norm"),
        "model.decoder.embed_tokens.weight": take("decoder/embeddings/weight"),
        "model.decoder.embed_positions.weight": take("decoder/position_encodings/encodings"),
        **norm("decoder/layer_norm", "model.decoder.layer_norm"),
    }
    for i in range(encoder_layers):
        state |= layer(f"encoder/layer_{i}", f"model.encoder.layers.{i}", decoder=False)
    for i in range(decoder_layers):
        state |= layer(f"decoder/layer_{i}", f"model.decoder.layers.{i}", decoder=True)
    projection = take("decoder/projection/weight")
    if projection is not state["model.decoder.embed_tokens.weight"] and not np.array_equal(
            projection, state["model.decoder.embed_tokens.weight"]):
        raise DjtuiError("the output projection differs from the token embeddings",
                         "transformers' Whisper ties them: not convertible")
    state["proj_out.weight"] = state["model.decoder.embed_tokens.weight"]
    for name in [n for n, value in left.items() if value.ndim == 0 and n in SCALARS]:
        value, expected = int(take(name)), SCALARS[name]
        if expected is not None and value != expected:
            raise DjtuiError(f"{name} is {value} in model.bin; transformers' Whisper has {expected}",
                             "this Whisper variant is not supported")
    if left:
        raise DjtuiError(f"model.bin has variables djtui does not know how to convert: {', '.join(sorted(left))}",
                         "this Whisper variant is not supported")
    return state


# --------------------------------------------------------------------------- to CTranslate2


def save_ctranslate2(model: Any, processor: Any, output: str | Path, quantization: str = "float16") -> Path:
    """Write ``model`` as a CTranslate2 Whisper folder in ``output`` (``model.bin``,
    ``config.json``, vocabulary, ``tokenizer.json``) with CTranslate2's own transformers
    converter, the weights taken from memory. The folder is built beside ``output`` and
    its files moved in one by one (each move atomic), so a reader never sees a half-written
    ``model.bin``. Returns ``output``."""
    import os

    from ctranslate2.converters import TransformersConverter

    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)

    class FromMemory(TransformersConverter):
        """The converter reads config and tokenizer from the folder, the weights from a copy
        in memory: int8 quantisation scales the tensors it is given in place."""

        def load_model(self, model_class: Any, model_name_or_path: str, **kwargs: Any) -> Any:
            return copy.deepcopy(model)

    # Named after the output, so the next run on it knows a killed run's scratch for its
    # own (djtui.training.leftovers) and never touches a sibling's.
    # The tokenizer's "No space left on device (os error 28)", CTranslate2's OSError:
    # one line saying the disk is full or the folder read-only.
    with write_problems_said(f"saving the model to {output}"):
        with tempfile.TemporaryDirectory(prefix=f".{output.name}.whisper-", dir=output.parent) as scratch:
            source, built = Path(scratch) / "transformers", Path(scratch) / "ctranslate2"
            model.config.save_pretrained(source)
            model.generation_config.save_pretrained(source)
            processor.save_pretrained(source)
            with _quiet_transformers():
                FromMemory(str(source), copy_files=[TOKENIZER]).convert(str(built), quantization=quantization,
                                                                        force=True)
            output.mkdir(parents=True, exist_ok=True)
            for item in sorted(built.iterdir(), key=lambda p: p.name == MODEL_BIN):  # model.bin last
                os.replace(item, output / item.name)
    return output


@contextmanager
def _quiet_transformers() -> Iterator[None]:
    """The converter loads the config the way transformers deprecates; that warning is
    not the DJ's concern."""
    from transformers.utils import logging as transformers_logging

    level = transformers_logging.get_verbosity()
    transformers_logging.set_verbosity_error()
    try:
        yield
    finally:
        transformers_logging.set_verbosity(level)
