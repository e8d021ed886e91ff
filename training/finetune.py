"""Fine-tune a speech model on a manifest of takes: one loop for every kind of model.

``train(TrainConfig(data=..., output=...))`` fine-tunes the bundled Whisper tiny.en,
offline, in minutes on a CPU (:mod:`djtui.training.whisper`). ``base`` starts from
another model: a CTranslate2 Whisper folder (a context model, to make a model of one
voice on top of it) or a wav2vec2 hub id or folder; ``from_scratch`` trains a small
wav2vec2 (:mod:`djtui.training.wav2vec2`). Each is a :class:`Trainee` to the loop below,
which holds what they share: the held-back takes and their scores
(:mod:`djtui.training.validation`), progress events, the learning-rate schedule, early
stopping with the best checkpoint always on disk, and the report comparing the model
before and after.

:class:`TrainEvent` s go to the subscriber (the TUI's Train screen, the CLI's progress
bar). The output folder *is* the model: ``djtui listen --model OUTPUT`` loads it.
"""

from __future__ import annotations

import json
import math
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from djtui.core.errors import DjtuiError
from djtui.core.audio import SAMPLE_RATE, read_audio
from djtui.training.manifest import Take, read_manifest
from djtui.training.validation import Metrics, command_checker, hold_back, score

MAX_CLIP_S = 10.0
MUSIC_ALONE_SHARE = 0.25
"""With a music folder, this share of every batch is music alone (1-4 s, no command),
labelled with what the stock model writes for it (:meth:`Trainee.music_labels`): a model
that only ever heard commands finds them in any music, sung lyrics above all."""
MUSIC_ALONE_S = (1.0, 4.0)
MAX_WARMUP_STEPS = 200
REPORT_JSON = "training_report.json"
REPORT_MD = "training_report.md"


@dataclass
class TrainConfig:
    """Everything ``djtui train`` takes. ``base``: ``None`` for the bundled Whisper
    tiny.en, a CTranslate2 Whisper folder, or a wav2vec2 hub id or folder;
    ``from_scratch`` (a size of :data:`djtui.core.models.SCRATCH_SIZES`) trains a
    new wav2vec2 and ignores ``base``. ``epochs``, ``batch_size`` and ``lr`` default to
    the trainee's own (Whisper: 5, 8, 3e-5; wav2vec2: 30, 4, 1e-4 or 1e-3 from scratch).
    ``decoder_only`` keeps Whisper's encoder as it is (faster; it learns by default, which
    measurably helps in music). ``max_steps`` bounds optimizer
    steps (tests), ``max_minutes`` wall time; both stop with the best checkpoint kept.
    ``accuracy`` False skips command accuracy (the resolver); ``context`` (default: the
    bundled DJ context) is what it resolves against. ``device`` applies to wav2vec2;
    Whisper trains on the CPU."""

    data: Path
    output: Path
    epochs: int | None = None
    batch_size: int | None = None
    grad_accum: int = 1
    lr: float | None = None
    max_minutes: float | None = None
    max_steps: int | None = None
    augment: bool = True
    noise_dir: Path | None = None
    seed: int = 0
    base: str | None = None
    from_scratch: str | None = None
    decoder_only: bool = False
    context: Path | None = None
    patience: int = 5
    device: str = "auto"
    warmup_fraction: float = 0.1
    accuracy: bool = True
    threads: int = 0
    """CPU threads for training (0: all); a build in the background leaves the live
    pipeline its cores with 1."""


@dataclass(frozen=True)
class TrainEvent:
    """Progress, for any subscriber. ``kind``: ``start`` (the model before training,
    scored on the held-back takes; ``stock_accuracy`` is the bundled model's when
    training started from another), ``step`` (after each optimizer step), ``eval``
    (after each epoch's validation), ``checkpoint`` (a new best was saved), ``stop`` (why
    training ended early) and ``done``."""

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
    stock_accuracy: float | None = None
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
    stock: Metrics | None = None
    """The bundled model on the same takes, when training started from another model."""
    duration_s: float = 0.0


class Trainee(Protocol):
    """A model being trained, as the loop sees it."""

    description: str
    """What training started from, for the report."""
    default_epochs: int
    default_batch_size: int
    default_lr: float

    def parameters(self) -> list[Any]:
        """The parameters that learn."""

    def loss(self, clips: Sequence[np.ndarray], texts: Sequence[str]) -> Any:
        """The training loss of one batch (a torch scalar with gradients)."""

    def transcribe(self, clips: Sequence[np.ndarray]) -> list[str]:
        """Transcripts with the weights as they are now."""

    def transcribe_stock(self, clips: Sequence[np.ndarray]) -> list[str] | None:
        """The stock model's transcripts, when training did not start from it."""

    def music_labels(self, clips: Sequence[np.ndarray]) -> list[str]:
        """What the model should write for clips of music with no command in them."""

    def save(self, output: Path) -> None:
        """The weights as they are now, as a model folder in ``output``."""

    def close(self) -> None:
        """Remove whatever the trainee kept in the work folder."""


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


def open_trainee(config: TrainConfig, takes: Sequence[Take]) -> tuple[Trainee, str]:
    """``(trainee, device)`` for the config: Whisper unless a wav2vec2 base or a
    from-scratch size is asked for."""
    from djtui.core.asr import is_whisper_folder

    output = Path(config.output)
    if config.base and not config.from_scratch and config.base.startswith((".", "~", "/")) \
            and not Path(config.base).expanduser().exists():
        raise DjtuiError(f"model folder {config.base} does not exist",
                         "check --base, or leave it out to fine-tune the bundled Whisper tiny.en")
    if config.from_scratch or (config.base and not is_whisper_folder(config.base)):
        from djtui.core.models import DEFAULT_WAV2VEC2
        from djtui.training.wav2vec2 import Wav2Vec2Trainee

        device = pick_device(config.device)
        trainee = Wav2Vec2Trainee(config.base or DEFAULT_WAV2VEC2, config.from_scratch, [t.text for t in takes], output, device)
        return trainee, device
    from djtui.training.whisper import WhisperTrainee

    return WhisperTrainee(config.base, output, decoder_only=config.decoder_only, threads=config.threads), "cpu"


@dataclass
class EarlyStopping:
    """The best validation so far — highest command accuracy, then lowest WER and CER —
    and how many epochs have passed without a better one."""

    patience: int
    best: Metrics | None = None
    best_epoch: int = 0
    stale: int = 0

    def improved(self, metrics: Metrics, epoch: int) -> bool:
        """Record an epoch's validation; True when it is the new best."""
        def rank(m: Metrics) -> tuple[float, float, float]:
            return (-(m.accuracy or 0.0), m.wer, m.cer)

        if self.best is None or rank(metrics) < rank(self.best):
            self.best, self.best_epoch, self.stale = metrics, epoch, 0
            return True
        self.stale += 1
        return False

    @property
    def exhausted(self) -> bool:
        return self.stale >= self.patience


@dataclass(frozen=True)
class StopRules:
    """When to end before the last epoch: a stop request, the wall-clock deadline
    (``time.monotonic()``), a step budget."""

    stop: threading.Event | None = None
    deadline: float | None = None
    max_steps: int | None = None

    def reason(self, step: int) -> str | None:
        if self.stop is not None and self.stop.is_set():
            return "interrupted"
        if self.deadline is not None and time.monotonic() >= self.deadline:
            return "max minutes"
        if self.max_steps and step >= self.max_steps:
            return "max steps"
        return None


class MusicAlone:
    """``count`` clips of music with no command per batch: 1-4 s excerpts of the tracks
    in ``folder`` at a random level (-30 to -6 dBFS RMS), seeded."""

    def __init__(self, folder: Path, count: int, seed: int = 0) -> None:
        from djtui.core.noise import NoiseBank

        self.bank = NoiseBank([folder])
        self.count = count
        self.rng = np.random.default_rng(seed + 1)

    def clips(self) -> list[np.ndarray]:
        from djtui.core.noise import rms

        out = []
        for _ in range(self.count):
            excerpt = self.bank.excerpt(int(self.rng.uniform(*MUSIC_ALONE_S) * SAMPLE_RATE), self.rng)
            level = 10 ** (float(self.rng.uniform(-30.0, -6.0)) / 20)
            out.append(np.clip(excerpt * (level / max(rms(excerpt), 1e-6)), -1.0, 1.0).astype(np.float32))
        return out


def lr_factor(step: int, warmup: int, total: int) -> float:
    """Linear warm-up to the full rate, then linear decay to zero at ``total``."""
    if step < warmup:
        return (step + 1) / warmup
    return max(0.0, (total - step) / max(1, total - warmup))


def _is_oom(exc: BaseException) -> bool:
    return isinstance(exc, MemoryError) or "out of memory" in str(exc).lower()


def train(config: TrainConfig, on_event: Callable[[TrainEvent], None] | None = None,
          stop: threading.Event | None = None) -> TrainResult:
    """Train, validating on the held-back takes each epoch; the best checkpoint is in
    ``config.output`` whenever this returns or raises, once the first epoch (or stop)
    has been validated. Ctrl-C, ``stop.set()``, ``max_minutes`` and ``max_steps`` end
    training early and still write the report."""
    import torch
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # our own progress events replace its bars
    emit = on_event or (lambda event: None)
    started = time.monotonic()
    random.seed(config.seed)
    np.random.seed(config.seed)
    torch.manual_seed(config.seed)
    if config.threads > 0:
        torch.set_num_threads(config.threads)

    data = Path(config.data)
    takes = read_manifest(data)
    root = data if data.is_dir() else data.parent
    train_takes, val_takes = hold_back(takes, config.seed)
    audio = {t.path: read_audio(root / t.path)[: int(MAX_CLIP_S * SAMPLE_RATE)] for t in takes}
    Path(config.output).mkdir(parents=True, exist_ok=True)
    trainee, device = open_trainee(config, takes)
    rules = StopRules(stop, started + config.max_minutes * 60 if config.max_minutes else None, config.max_steps)
    try:
        run = _Run(trainee, device, config, train_takes, val_takes, audio, emit, rules, started)
        return run.fit()
    finally:
        trainee.close()


class _Run:
    """One training run: the optimizer and its schedule, the augmented batches, the
    steps, validations and checkpoints so far, and the events that report them."""

    def __init__(self, trainee: Trainee, device: str, config: TrainConfig, train_takes: list[Take],
                 val_takes: list[Take], audio: dict[str, np.ndarray], emit: Callable[[TrainEvent], None],
                 rules: StopRules, started: float) -> None:
        import torch

        self.trainee, self.device, self.config, self.emit, self.rules = trainee, device, config, emit, rules
        self.train_takes, self.val_takes, self.audio = train_takes, val_takes, audio
        self.started = started
        self.epochs = config.epochs or trainee.default_epochs
        self.batch_size = config.batch_size or trainee.default_batch_size
        per_epoch = math.ceil(len(train_takes) / (self.batch_size * config.grad_accum))
        self.total_steps = min(per_epoch * self.epochs, config.max_steps or per_epoch * self.epochs)
        self.augmenter = None
        if config.augment:
            from djtui.training.augment import Augmenter

            self.augmenter = Augmenter(config.noise_dir, seed=config.seed)
        self.music = (MusicAlone(config.noise_dir, math.ceil(self.batch_size * MUSIC_ALONE_SHARE), config.seed)
                      if config.noise_dir else None)
        self.checker = command_checker(config.context) if config.accuracy else None
        self.params = trainee.parameters()
        self.optimizer = torch.optim.AdamW(self.params, lr=config.lr or trainee.default_lr, weight_decay=0.005)
        warmup = max(1, min(int(config.warmup_fraction * self.total_steps), MAX_WARMUP_STEPS))
        self.schedule = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda s: lr_factor(s, warmup, self.total_steps))
        self.generator = torch.Generator().manual_seed(config.seed)
        self.early = EarlyStopping(config.patience)
        self.history: list[dict[str, Any]] = []
        self.losses: list[float] = []
        self.step = 0
        self.validated = 0
        self.loop_started = time.monotonic()

    def fit(self) -> TrainResult:
        """Score the model as it starts, train epoch by epoch, write the report."""
        before, stock = self.start()
        epoch, stopped = 0, "epochs"
        try:
            for epoch in range(1, self.epochs + 1):
                if (reason := self.run_epoch(epoch)) is not None:
                    stopped = reason
                    break
                self.end_of_epoch(epoch)
                if self.early.exhausted:
                    stopped = "early stopping"
                    break
        except KeyboardInterrupt:
            stopped = "interrupted"
        return self.finish(epoch, stopped, before, stock)

    def validate(self) -> Metrics:
        clips = [self.audio[t.path] for t in self.val_takes]
        return score(self.trainee.transcribe(clips), self.val_takes, self.checker)

    def start(self) -> tuple[Metrics, Metrics | None]:
        """The model before training and, when it is not the stock model, the stock
        model, on the held-back takes."""
        before = self.validate()
        stock_transcripts = self.trainee.transcribe_stock([self.audio[t.path] for t in self.val_takes])
        stock = score(stock_transcripts, self.val_takes, self.checker) if stock_transcripts is not None else None
        self.emit(TrainEvent("start", 0, self.total_steps, 0, self.epochs, val_wer=before.wer, val_cer=before.cer,
                             accuracy=before.accuracy, stock_accuracy=stock.accuracy if stock else None,
                             message=f"{len(self.train_takes)} train / {len(self.val_takes)} held-back takes on "
                                     f"{self.device}"))
        self.loop_started = time.monotonic()
        return before, stock

    def batch(self, takes: list[Take]) -> tuple[list[np.ndarray], list[str]]:
        """The takes' clips, augmented, and their texts; plus music alone, when there is music."""
        clips = [self.audio[t.path] for t in takes]
        if self.augmenter is not None:
            clips = [self.augmenter(c) for c in clips]
        texts = [t.text for t in takes]
        if self.music is not None:
            negatives = self.music.clips()
            clips, texts = clips + negatives, texts + self.trainee.music_labels(negatives)
        return clips, texts

    def backward(self, clips: list[np.ndarray], texts: list[str]) -> float:
        """Accumulate one batch's gradients; its loss. Out of memory is a clear error."""
        try:
            loss = self.trainee.loss(clips, texts)
            (loss / self.config.grad_accum).backward()
        except (RuntimeError, MemoryError) as exc:
            if _is_oom(exc):
                raise DjtuiError(f"out of memory on {self.device} at --batch-size {self.batch_size}",
                                 "lower --batch-size and raise --grad-accum to keep the effective batch") from None
            raise
        return float(loss.detach())

    def optimizer_step(self, epoch: int, loss: float) -> str | None:
        """Apply the accumulated gradients, report the step; why to stop now, if so."""
        import torch

        torch.nn.utils.clip_grad_norm_(self.params, 1.0)
        self.optimizer.step()
        self.schedule.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        self.losses.append(loss)
        eta = (time.monotonic() - self.loop_started) / self.step * (self.total_steps - self.step)
        if self.rules.deadline is not None:
            eta = min(eta, self.rules.deadline - time.monotonic())
        self.emit(TrainEvent("step", self.step, self.total_steps, epoch, self.epochs, loss=loss,
                             lr=self.schedule.get_last_lr()[0], elapsed_s=time.monotonic() - self.started,
                             eta_s=max(0.0, eta)))
        return self.rules.reason(self.step)

    def run_epoch(self, epoch: int) -> str | None:
        """One pass over the training takes in a seeded order; why to stop, if so."""
        import torch

        order = torch.randperm(len(self.train_takes), generator=self.generator).tolist()
        batches = [order[i:i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        running: list[float] = []
        for index, batch in enumerate(batches):
            running.append(self.backward(*self.batch([self.train_takes[i] for i in batch])))
            if (index + 1) % self.config.grad_accum and index + 1 < len(batches):
                continue
            reason = self.optimizer_step(epoch, float(np.mean(running)))
            running = []
            if reason is not None:
                return reason
        return None

    def end_of_epoch(self, epoch: int) -> None:
        """Validate; a new best is saved at once."""
        self.validated = epoch
        metrics = self.validate()
        self.history.append({"epoch": epoch, "step": self.step, **asdict(metrics)})
        self.emit(TrainEvent("eval", self.step, self.total_steps, epoch, self.epochs, val_wer=metrics.wer,
                             val_cer=metrics.cer, accuracy=metrics.accuracy, elapsed_s=time.monotonic() - self.started))
        if self.early.improved(metrics, epoch):
            self.trainee.save(Path(self.config.output))
            self.emit(TrainEvent("checkpoint", self.step, self.total_steps, epoch, self.epochs, val_wer=metrics.wer,
                                 accuracy=metrics.accuracy,
                                 message=f"saved best checkpoint (epoch {epoch}) to {self.config.output}"))

    def finish(self, epoch: int, stopped: str, before: Metrics, stock: Metrics | None) -> TrainResult:
        """Validate an epoch cut short, write the report, say it is done."""
        if self.validated != epoch and self.step > 0:
            self.end_of_epoch(epoch)
        if stopped != "epochs":
            self.emit(TrainEvent("stop", self.step, self.total_steps, epoch, self.epochs, message=stopped))
        best = self.early.best
        if best is None:
            raise DjtuiError("training stopped before the first step; no model was saved",
                             "let it run at least one step (check --max-minutes / --max-steps)")
        output = Path(self.config.output)
        result = TrainResult(output, before, best, self.early.best_epoch, self.step, stopped, self.device,
                             self.history, self.losses, stock, time.monotonic() - self.started)
        write_report(result, self.config, self.trainee.description, len(self.train_takes), len(self.val_takes))
        self.emit(TrainEvent("done", self.step, self.total_steps, epoch, self.epochs, val_wer=best.wer,
                             val_cer=best.cer, accuracy=best.accuracy, elapsed_s=result.duration_s,
                             message=f"best checkpoint: epoch {self.early.best_epoch}, saved in {output}"))
        return result


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


def write_report(result: TrainResult, config: TrainConfig, base_name: str, n_train: int, n_val: int) -> tuple[Path, Path]:
    """``training_report.json`` and ``training_report.md`` in the output folder: WER,
    CER and command accuracy on the held-back takes before and after (and of the stock
    model, when training started from another), and the run."""
    from djtui.core import fileio

    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(config).items()}
    report = {
        "base": base_name, "device": result.device, "train_takes": n_train, "validation_takes": n_val,
        "before": asdict(result.before), "after": asdict(result.after),
        "stock": asdict(result.stock) if result.stock else None, "best_epoch": result.best_epoch,
        "steps": result.steps, "stopped": result.stopped, "duration_s": round(result.duration_s, 1),
        "history": result.history, "config": settings,
    }
    json_path = fileio.write_text_atomic(result.output / REPORT_JSON, json.dumps(report, indent=2) + "\n")
    b, a, s = result.before, result.after, result.stock
    lines = [
        "# Training report", "",
        f"Base: {base_name} · device: {result.device} · {n_train} training / {n_val} held-back takes "
        f"(one of each command) · {result.steps} steps in {result.duration_s / 60:.1f} min, "
        f"stopped by {result.stopped} · best epoch {result.best_epoch}", "",
        "| Model | WER | CER | Command accuracy |", "|---|---|---|---|",
        *([f"| Stock (Whisper tiny.en) | {_pct(s.wer)} | {_pct(s.cer)} | {_pct(s.accuracy)} |"] if s else []),
        f"| Before ({base_name}) | {_pct(b.wer)} | {_pct(b.cer)} | {_pct(b.accuracy)} |",
        f"| After (this model) | {_pct(a.wer)} | {_pct(a.cer)} | {_pct(a.accuracy)} |", "",
        f"Use it: `djtui listen --model {result.output}`", "",
    ]
    md_path = fileio.write_text_atomic(result.output / REPORT_MD, "\n".join(lines))
    return json_path, md_path
