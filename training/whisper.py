"""Whisper as a trainee of :func:`djtui.training.finetune.train`: the bundled tiny.en, or
any CTranslate2 Whisper folder (a context model, a model of your voice), fine-tuned
offline on the features the live engine computes.

The live engine (:class:`djtui.core.asr.WhisperEngine`) encodes faster-whisper's log-mel
features zero-padded to a 10 s window, not transformers' 30 s; training sees the same:

- **Encoder and decoder** (the default). The whole model learns in torch, but for the
  token embeddings (tied to the output layer) and the positions; the encoder's positional
  table is cut to the window for each pass (:func:`live_window`), which is what
  CTranslate2's encoder does with a short input. The encoder is what hears through the
  music: measured (README), it learning too bought 8–16 points at 10 dB over decoder-only
  training, with fewer misunderstood commands, for ~60 % more time.
- **Decoder only** (``decoder_only``). The encoder is frozen, so what the decoder trains
  on is exactly what the live engine's encoder (CTranslate2, int8) outputs for the clip.
  The decoder's self-attention, feed-forward, layer norms and cross-attention queries and
  outputs learn; the cross-attention keys and values (projections of the frozen encoder
  output, ~half the decoder's cost on a 10 s window) stay as they are.

Labels are the text as Whisper writes it (:func:`whisper_text`) after the engine's prompt
(start of transcript, no timestamps), closed by end-of-text. Checkpoints are CTranslate2
float16 folders (:func:`djtui.training.whisper_convert.save_ctranslate2`) that the live
engine loads like the bundled one, and validation transcribes with the live engine on
them: what is measured is what runs.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from djtui.core.asr import WhisperEngine, bundled_whisper_path, whisper_features
from djtui.core.text import normalize_text, whisper_text
from djtui.training.whisper_convert import load_transformers, save_ctranslate2

HOP = 160
"""Samples per log-mel frame (10 ms)."""
WINDOW_S = 10.0
"""The live engine's window (``WhisperEngine(window_s=10)``)."""
CANDIDATE = ".candidate"
"""Sub-folder of the output holding the weights being validated."""


@contextmanager
def live_window(model: Any, window_frames: int) -> Iterator[None]:
    """Within the block, ``model``'s encoder takes ``window_frames`` log-mel frames
    instead of 3000: its positional embedding is cut to the first ``window_frames // 2``
    positions (a view of the frozen table, no copy), as CTranslate2 does for a short
    input. Restored on exit, so saving always sees the whole table."""
    import torch

    encoder = model.model.encoder
    full = encoder.embed_positions
    positions = window_frames // 2
    encoder.embed_positions = torch.nn.Embedding.from_pretrained(full.weight[:positions], freeze=True)
    model.config.max_source_positions = positions
    try:
        yield
    finally:
        encoder.embed_positions = full
        model.config.max_source_positions = full.num_embeddings


class WhisperTrainee:
    """A CTranslate2 Whisper model (``base``; ``None`` = the bundled tiny.en) being
    fine-tuned in torch. ``work_dir`` (the output folder) holds the candidate being
    validated; ``threads`` are CTranslate2's (0: its default)."""

    default_epochs = 5
    default_batch_size = 8
    default_lr = 3e-5
    """Measured against 1e-4 for a model of one voice: 4 points more at 10 dB, 6 at 0 dB."""

    def __init__(self, base: str | Path | None = None, work_dir: Path | None = None, *, decoder_only: bool = False,
                 window_s: float = WINDOW_S, threads: int = 0) -> None:
        self.base = Path(base).expanduser() if base else None
        self.engine = WhisperEngine(self.base, threads=threads, window_s=window_s)
        self.description = "Whisper tiny.en (bundled)" if self.base is None else f"Whisper {self.base}"
        self.model, self.processor = load_transformers(self.base or bundled_whisper_path())
        self.window_frames = int(window_s * 100)
        self.max_samples = self.window_frames * HOP - HOP  # the extractor adds a frame of padding
        self.train_encoder = not decoder_only
        self.threads = threads
        self.work_dir = Path(work_dir) if work_dir else None
        self._stock: WhisperEngine | None = None
        tokenizer = self.processor.tokenizer
        self.prompt = list(self.engine.prompt)
        self.eot = tokenizer.convert_tokens_to_ids("<|endoftext|>")
        self._freeze()

    def _freeze(self) -> None:
        self.model.requires_grad_(False)
        decoder = self.model.model.decoder
        decoder.layers.requires_grad_(True)
        decoder.layer_norm.requires_grad_(True)
        if self.train_encoder:
            self.model.model.encoder.requires_grad_(True)
            self.model.model.encoder.embed_positions.requires_grad_(False)
        else:
            for layer in decoder.layers:
                layer.encoder_attn.k_proj.requires_grad_(False)
                layer.encoder_attn.v_proj.requires_grad_(False)

    def parameters(self) -> list[Any]:
        return [p for p in self.model.parameters() if p.requires_grad]

    def labels(self, texts: Sequence[str]) -> tuple[Any, Any]:
        """``(decoder_input_ids, targets)`` for teacher forcing: prompt + text tokens in,
        text tokens + end-of-text out; the prompt's own predictions and the padding are
        ignored (-100)."""
        import torch

        tokenizer = self.processor.tokenizer
        sequences = [self.prompt + tokenizer.encode(whisper_text(normalize_text(t)), add_special_tokens=False) + [self.eot]
                     for t in texts]
        length = max(len(s) for s in sequences) - 1
        inputs = torch.full((len(texts), length), self.eot, dtype=torch.long)
        targets = torch.full((len(texts), length), -100, dtype=torch.long)
        for row, sequence in enumerate(sequences):
            inputs[row, :len(sequence) - 1] = torch.tensor(sequence[:-1])
            targets[row, len(self.prompt) - 1:len(sequence) - 1] = torch.tensor(sequence[len(self.prompt):])
        return inputs, targets

    def encoder_states(self, clips: Sequence[np.ndarray]) -> Any:
        """The encoder's output for each clip, ``[batch, window_frames // 2, d_model]``:
        the live engine's own (CTranslate2) when the encoder is frozen, torch's (with
        gradients) when it learns."""
        import torch

        clips = [np.asarray(c, dtype=np.float32)[: self.max_samples] for c in clips]
        if not self.train_encoder:
            return torch.from_numpy(np.stack([np.asarray(self.engine.encode(c).output)[0] for c in clips]))
        extractor = self.engine.feature_extractor
        features = np.stack([whisper_features(extractor, c, self.window_frames)[0] for c in clips])
        with live_window(self.model, self.window_frames):
            return self.model.model.encoder(torch.from_numpy(features)).last_hidden_state

    def loss(self, clips: Sequence[np.ndarray], texts: Sequence[str]) -> Any:
        """Mean cross-entropy of the text tokens and end-of-text, teacher-forced."""
        import torch

        self.model.train()
        states = self.encoder_states(clips)
        inputs, targets = self.labels(texts)
        hidden = self.model.model.decoder(input_ids=inputs, encoder_hidden_states=states).last_hidden_state
        logits = self.model.proj_out(hidden)
        return torch.nn.functional.cross_entropy(logits.transpose(1, 2), targets, ignore_index=-100)

    def transcribe(self, clips: Sequence[np.ndarray]) -> list[str]:
        """What the live engine hears in each clip with the weights as they are now
        (written as a CTranslate2 candidate in the work folder and loaded there)."""
        if self.work_dir is None:
            raise ValueError("transcribing the weights being trained needs a work_dir")
        candidate = save_ctranslate2(self.model, self.processor, self.work_dir / CANDIDATE)
        engine = WhisperEngine(candidate, threads=self.threads, window_s=self.window_frames / 100)
        return [engine.transcribe(c).text for c in clips]

    def transcribe_stock(self, clips: Sequence[np.ndarray]) -> list[str] | None:
        """What the bundled tiny.en hears, when training started from another model."""
        if self.base is None:
            return None
        stock = WhisperEngine(threads=self.threads, window_s=self.window_frames / 100)
        return [stock.transcribe(c).text for c in clips]

    def music_labels(self, clips: Sequence[np.ndarray]) -> list[str]:
        """What the bundled tiny.en writes for music with no command — a lyric, a "You",
        often nothing: keeping that, the model does not learn to hear commands in a
        song, and the resolver goes on refusing what it writes."""
        if self._stock is None:
            self._stock = self.engine if self.base is None else WhisperEngine(threads=self.threads,
                                                                             window_s=self.window_frames / 100)
        return [self._stock.transcribe(c).text for c in clips]

    def save(self, output: Path) -> None:
        """The weights as they are now, as a CTranslate2 float16 Whisper folder."""
        save_ctranslate2(self.model, self.processor, output)

    def close(self) -> None:
        if self.work_dir is not None:
            shutil.rmtree(self.work_dir / CANDIDATE, ignore_errors=True)
