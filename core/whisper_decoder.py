"""Whisper's text decoder in torch, with a key/value cache, on a CTranslate2 model's weights.

CTranslate2 runs Whisper's encoder and free decoding fast, but it has no way to ask
"given these tokens so far, how likely is each next token?" without recomputing the
whole prefix (and the cross-attention) on every call. The grammar search
(:mod:`djtui.core.grammar_search`) asks that question for a few prefixes at every step,
so it runs the decoder here: the same weights (read from ``model.bin``), the encoder
output CTranslate2 computed, and a cache that makes each step cost one token per
prefix.

Whisper's decoder is pre-norm: for each layer, causal self-attention, cross-attention
over the encoder output, a GELU feed-forward, each behind a layer norm and added back;
a last layer norm; logits against the (tied) token embeddings. A step for a few
prefixes is memory-bound on a CPU (38 MB of float32 weights, 80 MB more for the output
projection onto 51,864 tokens), so every linear layer runs int8 (dynamic quantization,
as CTranslate2's own int8 decoding does): a fifth of the time, log-probabilities within
~0.05 nats.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from djtui.core.errors import DjtuiError


@dataclass
class DecoderState:
    """The key/value cache of a batch of prefixes: per layer ``(keys, values)``, each
    ``[batch, heads, length, head_dim]``; ``length`` tokens decoded so far."""

    layers: list[tuple[Any, Any]]
    length: int

    def select(self, rows: list[int]) -> DecoderState:
        """The cache of the prefixes at ``rows`` (repeats allowed: a prefix that branches)."""
        import torch

        index = torch.tensor(rows, dtype=torch.long)
        return DecoderState([(k.index_select(0, index), v.index_select(0, index)) for k, v in self.layers],
                            self.length)


@dataclass(frozen=True)
class CrossAttention:
    """The encoder output projected to each layer's cross-attention keys and values,
    computed once per utterance."""

    layers: list[tuple[Any, Any]]


class WhisperDecoder:
    """``WhisperDecoder.from_folder(path)``; :meth:`cross` once per utterance, then
    :meth:`start` and :meth:`step`. Log-probabilities come back as numpy arrays."""

    def __init__(self, weights: dict[str, np.ndarray], quantize: bool = True) -> None:
        import torch

        def tensor(name: str) -> Any:
            if name not in weights:
                raise DjtuiError(f"the Whisper model has no {name}", "use a CTranslate2 Whisper model folder")
            return torch.from_numpy(np.ascontiguousarray(weights[name], dtype=np.float32))

        self.heads = int(weights["decoder/num_heads"])
        self.embeddings = tensor("decoder/embeddings/weight")
        self.positions = tensor("decoder/position_encodings/encodings")
        self.width = int(self.embeddings.shape[1])
        self.vocab = int(self.embeddings.shape[0])
        count = 0
        while f"decoder/layer_{count}/ffn/linear_0/weight" in weights:
            count += 1
        if not count:
            raise DjtuiError("the Whisper model has no decoder layers", "use a CTranslate2 Whisper model folder")
        module = _Decoder(self.width, count, self.vocab)
        for n, layer in enumerate(module.layers):
            for attribute, name in _LAYER_VARIABLES.items():
                target = layer.get_submodule(attribute.rsplit(".", 1)[0])
                getattr(target, attribute.rsplit(".", 1)[1]).data = tensor(f"decoder/layer_{n}/{name}")
        module.norm.weight.data, module.norm.bias.data = tensor("decoder/layer_norm/gamma"), tensor("decoder/layer_norm/beta")
        module.projection.weight.data = self.embeddings
        module.eval()
        self.module = _quantized(module) if quantize else module

    @classmethod
    def from_folder(cls, folder: str | Path) -> WhisperDecoder:
        """The decoder of the CTranslate2 Whisper model in ``folder`` (its ``model.bin``)."""
        from djtui.core.ct2 import MODEL_BIN, float_weights, read_model_bin

        return cls(float_weights(read_model_bin(Path(folder) / MODEL_BIN)))

    @property
    def max_length(self) -> int:
        """Tokens the decoder has positions for (448 for Whisper)."""
        return int(self.positions.shape[0])

    # --- running ------------------------------------------------------------------------

    def cross(self, encoder_output: np.ndarray) -> CrossAttention:
        """Cross-attention keys and values of ``encoder_output`` (``[1, frames, width]``)."""
        import torch

        with torch.inference_mode():
            encoded = torch.from_numpy(np.ascontiguousarray(encoder_output, dtype=np.float32))
            layers = []
            for layer in self.module.layers:
                keys, values = layer.cross_kv(encoded).split(self.width, dim=-1)
                layers.append((self._heads(keys), self._heads(values)))
        return CrossAttention(layers)

    def start(self, prompt: list[int], cross: CrossAttention) -> tuple[np.ndarray, DecoderState]:
        """Decode the ``prompt`` (start-of-transcript tokens): the log-probabilities of the
        token after it (``[vocab]``) and the cache of the one prefix."""
        logprobs, state = self._forward([prompt], None, cross, all_positions=False)
        return logprobs[0], state

    def step(self, tokens: list[int], state: DecoderState, cross: CrossAttention) -> tuple[np.ndarray, DecoderState]:
        """Append ``tokens[i]`` to prefix ``i`` of ``state``: the next-token
        log-probabilities of each (``[batch, vocab]``) and the grown cache."""
        return self._forward([[t] for t in tokens], state, cross, all_positions=False)

    def score(self, prompt: list[int], sentences: list[list[int]], cross: CrossAttention) -> list[np.ndarray]:
        """Log-probability of each token of each sentence after ``prompt`` and the tokens
        before it (teacher forcing): all sentences in one batched pass."""
        if not sentences:
            return []
        length = max(len(s) for s in sentences)
        # Right-padded: the decoder is causal, so what follows a sentence never touches it.
        rows = [prompt + s[:-1] + [0] * (length - len(s)) if s else prompt + [0] * (length - 1) for s in sentences]
        logprobs, _ = self._forward(rows, None, cross, all_positions=True)
        out = []
        for n, tokens in enumerate(sentences):
            picked = logprobs[n, len(prompt) - 1:len(prompt) - 1 + len(tokens)]
            out.append(picked[np.arange(len(tokens)), tokens])
        return out

    def _forward(self, tokens: list[list[int]], state: DecoderState | None, cross: CrossAttention,
                 all_positions: bool) -> tuple[np.ndarray, DecoderState]:
        import torch
        import torch.nn.functional as F

        with torch.inference_mode():
            batch, new = len(tokens), len(tokens[0])
            offset = state.length if state is not None else 0
            if offset + new > self.max_length:
                raise DjtuiError("the decoder ran past its 448 positions", "this is a bug: searches are bounded")
            x = self.embeddings[torch.tensor(tokens, dtype=torch.long)] + self.positions[offset:offset + new]
            mask = None if new == 1 else torch.ones(new, offset + new, dtype=torch.bool).tril(offset)
            grown = []
            for n, layer in enumerate(self.module.layers):
                q, k, v = (self._heads(part) for part in layer.self_qkv(layer.self_norm(x)).split(self.width, -1))
                if state is not None:
                    k = torch.cat([state.layers[n][0], k], dim=2)
                    v = torch.cat([state.layers[n][1], v], dim=2)
                grown.append((k, v))
                x = x + layer.self_out(self._merge(F.scaled_dot_product_attention(q, k, v, attn_mask=mask)))
                q = self._heads(layer.cross_q(layer.cross_norm(x)))
                keys, values = cross.layers[n]
                attended = F.scaled_dot_product_attention(q, keys.expand(batch, -1, -1, -1), values.expand(batch, -1, -1, -1))
                x = x + layer.cross_out(self._merge(attended))
                x = x + layer.ffn_out(F.gelu(layer.ffn_in(layer.ffn_norm(x))))
            x = self.module.norm(x)
            if not all_positions:
                x = x[:, -1]
            logprobs = torch.log_softmax(self.module.projection(x).float(), dim=-1)
            return logprobs.numpy(), DecoderState(grown, offset + new)

    def _heads(self, x: Any) -> Any:
        batch, length, _ = x.shape
        return x.view(batch, length, self.heads, -1).transpose(1, 2)

    def _merge(self, x: Any) -> Any:
        batch, _, length, _ = x.shape
        return x.transpose(1, 2).reshape(batch, length, self.width)


# Attribute of a decoder layer module -> its variable in a CTranslate2 Whisper spec.
_LAYER_VARIABLES = {
    "self_norm.weight": "self_attention/layer_norm/gamma", "self_norm.bias": "self_attention/layer_norm/beta",
    "self_qkv.weight": "self_attention/linear_0/weight", "self_qkv.bias": "self_attention/linear_0/bias",
    "self_out.weight": "self_attention/linear_1/weight", "self_out.bias": "self_attention/linear_1/bias",
    "cross_norm.weight": "attention/layer_norm/gamma", "cross_norm.bias": "attention/layer_norm/beta",
    "cross_q.weight": "attention/linear_0/weight", "cross_q.bias": "attention/linear_0/bias",
    "cross_kv.weight": "attention/linear_1/weight", "cross_kv.bias": "attention/linear_1/bias",
    "cross_out.weight": "attention/linear_2/weight", "cross_out.bias": "attention/linear_2/bias",
    "ffn_norm.weight": "ffn/layer_norm/gamma", "ffn_norm.bias": "ffn/layer_norm/beta",
    "ffn_in.weight": "ffn/linear_0/weight", "ffn_in.bias": "ffn/linear_0/bias",
    "ffn_out.weight": "ffn/linear_1/weight", "ffn_out.bias": "ffn/linear_1/bias",
}


def _Decoder(width: int, layers: int, vocab: int) -> Any:
    """The decoder's layers as torch modules (weights filled in by the caller)."""
    import torch.nn as nn

    def layer() -> nn.Module:
        module = nn.Module()
        for norm in ("self_norm", "cross_norm", "ffn_norm"):
            setattr(module, norm, nn.LayerNorm(width))
        module.self_qkv, module.self_out = nn.Linear(width, 3 * width), nn.Linear(width, width)
        module.cross_q, module.cross_kv = nn.Linear(width, width), nn.Linear(width, 2 * width)
        module.cross_out = nn.Linear(width, width)
        module.ffn_in, module.ffn_out = nn.Linear(width, 4 * width), nn.Linear(4 * width, width)
        return module

    decoder = nn.Module()
    decoder.layers = nn.ModuleList(layer() for _ in range(layers))
    decoder.norm = nn.LayerNorm(width)
    decoder.projection = nn.Linear(width, vocab, bias=False)
    return decoder


def _quantized(module: Any) -> Any:
    """Every linear layer of ``module`` int8 (dynamic quantization), or as it is where
    this torch build has no quantized engine."""
    import torch

    try:
        with warnings.catch_warnings():
            # Eager dynamic quantization is deprecated in favour of torchao, which is not
            # installed; it still works, as the wav2vec2 engine's does.
            warnings.simplefilter("ignore")
            return torch.ao.quantization.quantize_dynamic(module, {torch.nn.Linear}, dtype=torch.qint8)
    except (RuntimeError, AttributeError):
        return module
