"""Fine-tune (or train from scratch) a wav2vec2 CTC model on a manifest of takes.

The recipe is transformers' ``run_speech_recognition_ctc.py``, shorter: a processor
(feature extractor + character tokenizer), audio and labels padded separately, greedy
CTC decoding, WER as the metric — plus what a DJ needs: command accuracy through the
resolver each epoch, early stopping, the best checkpoint always on disk, and a report
comparing the model before and after.

``train(TrainConfig(...), on_event=print)`` runs it; :class:`TrainEvent` s go to the
subscriber (the TUI's training monitor, or the CLI's progress bar). The output folder
*is* the model: ``Wav2Vec2ForCTC.from_pretrained(out)`` and
``Wav2Vec2Processor.from_pretrained(out)`` load it, as does ``djtui listen --model out``.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from djtui.core.errors import DjtuiError
from djtui.core.audio import SAMPLE_RATE, read_audio
from djtui.core.text import normalize_text
from djtui.training.manifest import Take, read_manifest

DEFAULT_BASE = "facebook/wav2vec2-base-960h"
MAX_CLIP_S = 10.0
MAX_WARMUP_STEPS = 200
REPORT_JSON = "training_report.json"
REPORT_MD = "training_report.md"

# Character vocabulary of from-scratch models: letters, apostrophe and digits; "|"
# separates words, [PAD] doubles as the CTC blank.
SCRATCH_CHARS = "abcdefghijklmnopqrstuvwxyz'0123456789"

# The conv front end downsamples 320x (20 ms frames) like wav2vec2-base, in fewer and
# narrower layers: on a CPU it, not the transformer, is what costs when training small.
SCRATCH_SIZES: dict[str, dict[str, Any]] = {
    # ~0.2 M parameters: trains in seconds on a laptop CPU; for tests and quick bootstraps.
    "tiny": dict(conv_dim=(32, 32, 32), conv_stride=(5, 4, 16), conv_kernel=(10, 8, 16),
                 hidden_size=96, num_hidden_layers=2, num_attention_heads=2, intermediate_size=192,
                 num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4),
    # ~2.5 M parameters: a small command recognizer for machines with no hub access.
    "small": dict(conv_dim=(64, 128, 128, 192), conv_stride=(5, 4, 4, 4), conv_kernel=(10, 8, 4, 4),
                  hidden_size=192, num_hidden_layers=4, num_attention_heads=4, intermediate_size=768,
                  num_conv_pos_embeddings=32, num_conv_pos_embedding_groups=8),
}


@dataclass
class TrainConfig:
    """Everything ``djtui train`` takes. ``base`` is a hub id or a local folder;
    ``from_scratch`` (a key of :data:`SCRATCH_SIZES`) ignores ``base``. ``lr`` defaults
    to 1e-4 for fine-tuning and 1e-3 from scratch. ``max_steps`` bounds optimizer steps
    (tests), ``max_minutes`` wall time; both stop with the best checkpoint kept.
    ``accuracy`` False skips command accuracy (the resolver).
    ``context`` (default: the bundled DJ context) is what command accuracy resolves
    against."""

    data: Path
    output: Path
    epochs: int = 30
    batch_size: int = 4
    grad_accum: int = 1
    lr: float | None = None
    max_minutes: float | None = None
    max_steps: int | None = None
    augment: bool = True
    noise_dir: Path | None = None
    seed: int = 0
    base: str = DEFAULT_BASE
    from_scratch: str | None = None
    context: Path | None = None
    val_fraction: float = 0.15
    patience: int = 5
    device: str = "auto"
    warmup_fraction: float = 0.1
    accuracy: bool = True

    def learning_rate(self) -> float:
        return self.lr if self.lr is not None else (1e-3 if self.from_scratch else 1e-4)


@dataclass(frozen=True)
class Metrics:
    """Validation scores: word and character error rates (0-1), command accuracy (0-1,
    None without a resolver) and how many takes they cover."""

    wer: float
    cer: float
    accuracy: float | None
    n: int


@dataclass(frozen=True)
class TrainEvent:
    """Progress, for any subscriber. ``kind``: ``start``, ``step`` (after each optimizer
    step), ``eval`` (after each epoch's validation), ``checkpoint`` (a new best was
    saved), ``stop`` (why training ended early) and ``done``."""

    kind: str
    step: int = 0
    total_steps: int = 0
    epoch: int = 0
    epochs: int = 0
    loss: float | None = None
    lr: float | None = None
    val_wer: float | None = None
    val_cer: float | None = None
    accuracy: float | None = None
    elapsed_s: float = 0.0
    eta_s: float | None = None
    message: str = ""


@dataclass
class TrainResult:
    output: Path
    before: Metrics
    after: Metrics
    best_epoch: int
    steps: int
    stopped: str
    """Why training ended: "epochs", "early stopping", "max minutes", "max steps",
    "interrupted"."""
    device: str
    history: list[dict[str, Any]] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)


def pick_device(requested: str = "auto") -> str:
    """``cuda`` if present, else Apple ``mps``, else ``cpu`` (or ``requested``)."""
    import torch

    if requested != "auto":
        return requested
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def split_groups(takes: Sequence[Take], val_fraction: float = 0.15, seed: int = 0) -> tuple[list[Take], list[Take]]:
    """(train, validation): whole prompt-and-speaker groups (:meth:`Take.group`) go to one
    side, never both, so validation never scores a sentence the model heard from that
    speaker. About ``val_fraction`` of the takes, at least one group on each side."""
    groups: dict[tuple[str, str], list[Take]] = {}
    for take in takes:
        groups.setdefault(take.group(), []).append(take)
    if len(groups) < 2:
        raise DjtuiError("all takes are one sentence by one speaker: nothing to hold out for validation",
                         "record or synthesize at least two different sentences")
    keys = sorted(groups)
    random.Random(seed).shuffle(keys)
    target = max(1, round(val_fraction * len(takes)))
    val_keys: list[tuple[str, str]] = []
    n_val = 0
    for key in keys[:-1]:
        if n_val >= target:
            break
        val_keys.append(key)
        n_val += len(groups[key])
    chosen = set(val_keys)
    train = [t for k in keys if k not in chosen for t in groups[k]]
    val = [t for k in val_keys for t in groups[k]]
    return train, val


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


def transcribe(model: Any, processor: Any, audios: Sequence[np.ndarray], device: str = "cpu",
               batch_size: int = 8) -> list[str]:
    """Greedy CTC transcripts (normalized lower case) of 16 kHz clips."""
    import torch

    model.eval()
    out: list[str] = []
    with torch.inference_mode():
        for i in range(0, len(audios), batch_size):
            inputs = _features(processor, audios[i:i + batch_size])
            logits = model(**{k: v.to(device) for k, v in inputs.items()}).logits
            ids = logits.argmax(dim=-1).cpu()
            out += [normalize_text(t) for t in processor.batch_decode(ids)]
    return out


def _features(processor: Any, audios: Sequence[np.ndarray]) -> dict[str, Any]:
    extractor = processor.feature_extractor
    inputs = extractor(list(audios), sampling_rate=SAMPLE_RATE, padding=True, return_tensors="pt",
                       return_attention_mask=bool(extractor.return_attention_mask))
    return {k: v for k, v in inputs.items() if k in ("input_values", "attention_mask")}


def _labels(processor: Any, texts: Sequence[str], upper: bool) -> Any:
    encoded = processor.tokenizer([t.upper() if upper else t for t in texts], padding=True, return_tensors="pt",
                                  return_attention_mask=True)
    return encoded["input_ids"].masked_fill(encoded["attention_mask"] == 0, -100)


def command_checker(context_path: Path | None) -> CommandChecker | None:
    """A command checker over the context's resolver, or None if this install has no
    resolver."""
    try:
        from djtui.core.resolve import Resolver
    except ImportError:
        return None
    from djtui.core.context import default_context, load_context

    context = load_context(context_path) if context_path else default_context()
    return CommandChecker(Resolver(context))


class CommandChecker:
    """Is a transcript the right command? The resolver's top candidate must match the
    take's intent and slots. Verdicts are cached per transcript: validation transcripts
    repeat across epochs and resolving garbled text is the slow case."""

    def __init__(self, resolver: Any) -> None:
        self.resolver = resolver
        self._top: dict[str, tuple[str, dict[str, str]] | None] = {}

    def top(self, transcript: str) -> tuple[str, dict[str, str]] | None:
        if transcript not in self._top:
            from djtui.core.resolve import TranscriptTooLong

            try:
                candidates = self.resolver.resolve(transcript) if transcript else []
            except TranscriptTooLong:  # an untrained model babbling: no command, so a wrong one
                candidates = []
            self._top[transcript] = (candidates[0].intent, dict(candidates[0].slots)) if candidates else None
        return self._top[transcript]

    def correct(self, transcript: str, take: Take) -> bool:
        return self.top(transcript) == (take.intent, take.slots)


def score(transcripts: Sequence[str], takes: Sequence[Take], checker: CommandChecker | None = None) -> Metrics:
    """WER and CER (jiwer, over the whole set) and command accuracy of ``transcripts``."""
    import jiwer

    refs = [normalize_text(t.text) for t in takes]
    hyps = [h if h else "<empty>" for h in transcripts]  # jiwer refuses empty hypotheses
    accuracy = None
    if checker is not None:
        accuracy = sum(checker.correct(h, t) for h, t in zip(transcripts, takes)) / max(1, len(takes))
    return Metrics(float(jiwer.wer(refs, hyps)), float(jiwer.cer(refs, hyps)), accuracy, len(takes))


def _save_checkpoint(model: Any, processor: Any, output: Path) -> None:
    # Save beside, then move file by file: every rename is atomic and only the weights
    # differ between checkpoints of one run, so a crash leaves a loadable model.
    staging = output / ".checkpoint.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    model.save_pretrained(staging)
    processor.save_pretrained(staging)
    for item in staging.iterdir():
        os.replace(item, output / item.name)
    staging.rmdir()


def _lr_factor(step: int, warmup: int, total: int) -> float:
    """Linear warm-up to the full rate, then linear decay to zero at ``total``."""
    if step < warmup:
        return (step + 1) / warmup
    return max(0.0, (total - step) / max(1, total - warmup))


def _is_oom(exc: BaseException) -> bool:
    return "out of memory" in str(exc).lower()


def train(config: TrainConfig, on_event: Callable[[TrainEvent], None] | None = None,
          stop: threading.Event | None = None) -> TrainResult:
    """Train, validating each epoch; the best checkpoint (lowest validation WER) and its
    processor are in ``config.output`` whenever this returns or raises, once the first
    epoch (or stop) has been validated. Ctrl-C, ``stop.set()``, ``max_minutes`` and
    ``max_steps`` end training early and still write the report."""
    import torch
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # our own progress events replace its bars
    emit = on_event or (lambda event: None)
    started = time.monotonic()
    random.seed(config.seed)
    np.random.seed(config.seed)
    torch.manual_seed(config.seed)

    data = Path(config.data)
    takes = read_manifest(data)
    root = data if data.is_dir() else data.parent
    train_takes, val_takes = split_groups(takes, config.val_fraction, config.seed)
    audio = {t.path: read_audio(root / t.path)[: int(MAX_CLIP_S * SAMPLE_RATE)] for t in takes}

    output = Path(config.output)
    output.mkdir(parents=True, exist_ok=True)
    device = pick_device(config.device)
    if config.from_scratch:
        processor = build_scratch_processor(output / ".vocab", [normalize_text(t.text) for t in takes])
        model = build_scratch_model(config.from_scratch, processor)
        base_name = f"from scratch ({config.from_scratch})"
    else:
        model, processor = load_base(config.base)
        model.freeze_feature_encoder()
        base_name = config.base
    upper = _uppercase_vocab(processor)
    model.to(device)

    augmenter = None
    if config.augment:
        from djtui.training.augment import Augmenter

        augmenter = Augmenter(config.noise_dir, seed=config.seed)
    checker = command_checker(config.context) if config.accuracy else None

    val_audio = [audio[t.path] for t in val_takes]

    def validate() -> Metrics:
        return score(transcribe(model, processor, val_audio, device, batch_size=max(4, config.batch_size)), val_takes, checker)

    before = validate()
    per_epoch = math.ceil(len(train_takes) / (config.batch_size * config.grad_accum))
    total_steps = per_epoch * config.epochs
    if config.max_steps:
        total_steps = min(total_steps, config.max_steps)
    lr = config.learning_rate()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.005)
    warmup = max(1, min(int(config.warmup_fraction * total_steps), MAX_WARMUP_STEPS))
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: _lr_factor(s, warmup, total_steps))
    emit(TrainEvent("start", 0, total_steps, 0, config.epochs, val_wer=before.wer, val_cer=before.cer,
                    accuracy=before.accuracy, message=f"{len(train_takes)} train / {len(val_takes)} validation takes on {device}"))

    deadline = started + config.max_minutes * 60 if config.max_minutes else None
    loop_started = time.monotonic()
    generator = torch.Generator().manual_seed(config.seed)
    best: Metrics | None = None
    best_epoch = 0
    stale = 0
    step = 0
    epoch = 0
    stopped = "epochs"
    history: list[dict[str, Any]] = []
    losses: list[float] = []
    validated_epoch = -1

    def stop_reason() -> str | None:
        if stop is not None and stop.is_set():
            return "interrupted"
        if deadline is not None and time.monotonic() >= deadline:
            return "max minutes"
        if config.max_steps and step >= config.max_steps:
            return "max steps"
        return None

    def end_of_epoch() -> bool:
        """Validate, keep the best; True when early stopping says enough."""
        nonlocal best, best_epoch, stale, validated_epoch
        validated_epoch = epoch
        metrics = validate()
        history.append({"epoch": epoch, "step": step, **asdict(metrics)})
        emit(TrainEvent("eval", step, total_steps, epoch, config.epochs, val_wer=metrics.wer, val_cer=metrics.cer,
                        accuracy=metrics.accuracy, elapsed_s=time.monotonic() - started))
        if best is None or (metrics.wer, metrics.cer) < (best.wer, best.cer):
            best, best_epoch, stale = metrics, epoch, 0
            _save_checkpoint(model, processor, output)
            emit(TrainEvent("checkpoint", step, total_steps, epoch, config.epochs, val_wer=metrics.wer,
                            message=f"saved best checkpoint (epoch {epoch}) to {output}"))
            return False
        stale += 1
        return stale >= config.patience

    try:
        for epoch in range(1, config.epochs + 1):
            model.train()
            order = torch.randperm(len(train_takes), generator=generator).tolist()
            batches = [order[i:i + config.batch_size] for i in range(0, len(order), config.batch_size)]
            running: list[float] = []
            for index, batch in enumerate(batches):
                batch_takes = [train_takes[i] for i in batch]
                clips = [audio[t.path] for t in batch_takes]
                if augmenter is not None:
                    clips = [augmenter(c) for c in clips]
                inputs = {k: v.to(device) for k, v in _features(processor, clips).items()}
                labels = _labels(processor, [normalize_text(t.text) for t in batch_takes], upper).to(device)
                try:
                    loss = model(**inputs, labels=labels).loss
                    (loss / config.grad_accum).backward()
                except (RuntimeError, MemoryError) as exc:
                    if _is_oom(exc) or isinstance(exc, MemoryError):
                        raise DjtuiError(f"out of memory on {device} at --batch-size {config.batch_size}",
                                         "lower --batch-size and raise --grad-accum to keep the effective batch") from None
                    raise
                running.append(float(loss.detach()))
                if (index + 1) % config.grad_accum and index + 1 < len(batches):
                    continue
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                optimizer.step()
                schedule.step()
                optimizer.zero_grad(set_to_none=True)
                step += 1
                mean_loss = float(np.mean(running))
                running = []
                losses.append(mean_loss)
                elapsed = time.monotonic() - started
                eta = (time.monotonic() - loop_started) / step * (total_steps - step)
                if deadline is not None:
                    eta = min(eta, deadline - time.monotonic())
                emit(TrainEvent("step", step, total_steps, epoch, config.epochs, loss=mean_loss,
                                lr=schedule.get_last_lr()[0], elapsed_s=elapsed, eta_s=max(0.0, eta)))
                if (reason := stop_reason()) is not None:
                    stopped = reason
                    break
            if stopped != "epochs":
                break
            if end_of_epoch():
                stopped = "early stopping"
                break
    except KeyboardInterrupt:
        stopped = "interrupted"
    if validated_epoch != epoch and step > 0:
        end_of_epoch()
    if stopped != "epochs":
        emit(TrainEvent("stop", step, total_steps, epoch, config.epochs, message=stopped))
    if best is None:
        raise DjtuiError("training stopped before the first step; no model was saved",
                         "let it run at least one step (check --max-minutes / --max-steps)")

    shutil.rmtree(output / ".vocab", ignore_errors=True)
    result = TrainResult(output, before, best, best_epoch, step, stopped, device, history, losses)
    write_report(result, config, base_name, len(train_takes), len(val_takes), time.monotonic() - started)
    emit(TrainEvent("done", step, total_steps, epoch, config.epochs, val_wer=best.wer, val_cer=best.cer,
                    accuracy=best.accuracy, elapsed_s=time.monotonic() - started,
                    message=f"best checkpoint: epoch {best_epoch}, saved in {output}"))
    return result


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


def write_report(result: TrainResult, config: TrainConfig, base_name: str, n_train: int, n_val: int,
                 duration_s: float) -> tuple[Path, Path]:
    """``training_report.json`` and ``training_report.md`` in the output folder: before
    and after WER, CER and command accuracy on the validation takes, and the run."""
    from djtui.core import fileio

    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(config).items()}
    report = {
        "base": base_name, "device": result.device, "train_takes": n_train, "validation_takes": n_val,
        "before": asdict(result.before), "after": asdict(result.after), "best_epoch": result.best_epoch,
        "steps": result.steps, "stopped": result.stopped, "duration_s": round(duration_s, 1),
        "history": result.history, "config": settings,
    }
    json_path = fileio.write_text_atomic(result.output / REPORT_JSON, json.dumps(report, indent=2) + "\n")
    b, a = result.before, result.after
    lines = [
        "# Training report", "",
        f"Base: {base_name} · device: {result.device} · {n_train} training / {n_val} validation takes "
        f"(held-out sentence-and-speaker groups) · {result.steps} steps in {duration_s / 60:.1f} min, "
        f"stopped by {result.stopped} · best epoch {result.best_epoch}", "",
        "| Model | WER | CER | Command accuracy |", "|---|---|---|---|",
        f"| Before ({base_name}) | {_pct(b.wer)} | {_pct(b.cer)} | {_pct(b.accuracy)} |",
        f"| After (this model) | {_pct(a.wer)} | {_pct(a.cer)} | {_pct(a.accuracy)} |", "",
        f"Use it: `djtui listen --model {result.output}`", "",
    ]
    md_path = fileio.write_text_atomic(result.output / REPORT_MD, "\n".join(lines))
    return json_path, md_path
