"""wav2vec2 with a CTC head as a trainee of :func:`djtui.training.finetune.train`: a hub
base or local folder to fine-tune (``--base``), or a small model from scratch
(``--from-scratch tiny|small``).

The recipe is transformers' ``run_speech_recognition_ctc.py``, shorter: a processor
(feature extractor + character tokenizer), audio and labels padded separately, greedy CTC
decoding. The saved folder *is* the model: ``Wav2Vec2ForCTC.from_pretrained(out)`` and
``Wav2Vec2Processor.from_pretrained(out)`` load it, as does ``djtui listen --model out``.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from djtui.core.audio import SAMPLE_RATE
from djtui.core.errors import DjtuiError
from djtui.core.models import SCRATCH_SIZES
from djtui.core.text import normalize_text

VOCAB = ".vocab"
"""Sub-folder of the output holding a from-scratch model's vocabulary while it trains."""
STAGING = ".checkpoint.tmp"
"""Sub-folder of the output a checkpoint is saved in before its files move into place."""

# Character vocabulary of from-scratch models: letters, apostrophe and digits; "|"
# separates words, [PAD] doubles as the CTC blank.
SCRATCH_CHARS = "abcdefghijklmnopqrstuvwxyz'0123456789"

def build_scratch_processor(folder: Path, extra_text: Sequence[str] = ()) -> Any:
    """A character-level Wav2Vec2Processor saved in ``folder``: vocab.json holds
    [PAD] (the CTC blank), [UNK], "|" and :data:`SCRATCH_CHARS` plus any other character
    in ``extra_text``."""
    from transformers import Wav2Vec2CTCTokenizer, Wav2Vec2FeatureExtractor, Wav2Vec2Processor

    chars = list(dict.fromkeys(SCRATCH_CHARS + "".join(sorted(set("".join(extra_text)) - {" "}))))
    vocab = {"[PAD]": 0, "[UNK]": 1, "|": 2, **{c: i + 3 for i, c in enumerate(chars)}}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    tokenizer = Wav2Vec2CTCTokenizer(str(folder / "vocab.json"), unk_token="[UNK]", pad_token="[PAD]",
                                     word_delimiter_token="|", bos_token=None, eos_token=None)
    extractor = Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=SAMPLE_RATE, padding_value=0.0,
                                         do_normalize=True, return_attention_mask=True)
    return Wav2Vec2Processor(feature_extractor=extractor, tokenizer=tokenizer)


def build_scratch_model(size: str, processor: Any) -> Any:
    """An untrained Wav2Vec2ForCTC of ``size`` (tiny, small) for ``processor``'s vocabulary."""
    from transformers import Wav2Vec2Config, Wav2Vec2ForCTC

    if size not in SCRATCH_SIZES:
        raise DjtuiError(f"unknown model size {size!r}", f"--from-scratch takes {' or '.join(SCRATCH_SIZES)}")
    config = Wav2Vec2Config(
        vocab_size=len(processor.tokenizer), pad_token_id=processor.tokenizer.pad_token_id,
        feat_extract_norm="layer", do_stable_layer_norm=True, conv_bias=True,
        layerdrop=0.0, hidden_dropout=0.05, attention_dropout=0.05, activation_dropout=0.05,
        feat_proj_dropout=0.05, final_dropout=0.05, mask_time_prob=0.05, mask_time_length=5,
        ctc_loss_reduction="mean", ctc_zero_infinity=True, **SCRATCH_SIZES[size])
    return Wav2Vec2ForCTC(config)


def load_base(base: str) -> tuple[Any, Any]:
    """(model, processor) from a local folder or a hub id, set up for CTC training;
    offline-safe (see :func:`djtui.core.asr.load_wav2vec2`)."""
    from djtui.core.asr import load_wav2vec2

    model, processor = load_wav2vec2(base, ctc_loss_reduction="mean", ctc_zero_infinity=True, layerdrop=0.0)
    model.config.pad_token_id = processor.tokenizer.pad_token_id
    return model, processor


def _uppercase_vocab(processor: Any) -> bool:
    letters = [t for t in processor.tokenizer.get_vocab() if len(t) == 1 and t.isalpha()]
    return bool(letters) and all(t.isupper() for t in letters)


class Wav2Vec2Trainee:
    """A wav2vec2 CTC model being trained: fine-tuned from ``base`` with its conv
    feature encoder frozen, or built from scratch (``from_scratch``: a size) with a
    character vocabulary covering ``texts``; ``work_dir`` holds the scratch vocabulary
    while it trains."""

    default_epochs = 30
    default_batch_size = 4

    def __init__(self, base: str, from_scratch: str | None, texts: Sequence[str], work_dir: Path,
                 device: str = "cpu") -> None:
        if from_scratch:
            self.processor = build_scratch_processor(work_dir / VOCAB, [normalize_text(t) for t in texts])
            self.model = build_scratch_model(from_scratch, self.processor)
            self.description = f"from scratch ({from_scratch})"
        else:
            self.model, self.processor = load_base(base)
            self.model.freeze_feature_encoder()
            self.description = base
        self.default_lr = 1e-3 if from_scratch else 1e-4
        self.device = device
        self.upper = _uppercase_vocab(self.processor)
        self.model.to(device)
        self._work_dir = work_dir

    def parameters(self) -> list[Any]:
        return [p for p in self.model.parameters() if p.requires_grad]

    def loss(self, clips: Sequence[np.ndarray], texts: Sequence[str]) -> Any:
        self.model.train()
        inputs = {k: v.to(self.device) for k, v in self._features(clips).items()}
        encoded = self.processor.tokenizer([t.upper() if self.upper else t for t in map(normalize_text, texts)],
                                           padding=True, return_tensors="pt", return_attention_mask=True)
        labels = encoded["input_ids"].masked_fill(encoded["attention_mask"] == 0, -100).to(self.device)
        return self.model(**inputs, labels=labels).loss

    def transcribe(self, clips: Sequence[np.ndarray], batch_size: int = 8) -> list[str]:
        """Greedy CTC transcripts (normalized lower case) of 16 kHz clips."""
        import torch

        self.model.eval()
        out: list[str] = []
        with torch.inference_mode():
            for i in range(0, len(clips), batch_size):
                inputs = self._features(clips[i:i + batch_size])
                logits = self.model(**{k: v.to(self.device) for k, v in inputs.items()}).logits
                out += [normalize_text(t) for t in self.processor.batch_decode(logits.argmax(dim=-1).cpu())]
        return out

    def transcribe_stock(self, clips: Sequence[np.ndarray]) -> None:
        """There is no stock wav2vec2 on an offline machine to compare with."""
        return None

    def music_labels(self, clips: Sequence[np.ndarray]) -> list[str]:
        """Music with no command is nothing: all blanks."""
        return [""] * len(clips)

    def save(self, output: Path) -> None:
        """The model and its processor in ``output`` (``save_pretrained`` layout). Saved
        beside, then moved file by file: each move is atomic and only the weights differ
        between checkpoints of one run, so a crash leaves a loadable model."""
        staging = output / STAGING
        shutil.rmtree(staging, ignore_errors=True)
        self.model.save_pretrained(staging)
        self.processor.save_pretrained(staging)
        for item in staging.iterdir():
            os.replace(item, output / item.name)
        staging.rmdir()

    def close(self) -> None:
        shutil.rmtree(self._work_dir / VOCAB, ignore_errors=True)

    def _features(self, clips: Sequence[np.ndarray]) -> dict[str, Any]:
        extractor = self.processor.feature_extractor
        inputs = extractor(list(clips), sampling_rate=SAMPLE_RATE, padding=True, return_tensors="pt",
                           return_attention_mask=bool(extractor.return_attention_mask))
        return {k: v for k, v in inputs.items() if k in ("input_values", "attention_mask")}
