"""Fine-tune a speech model on a manifest of takes: one loop for every kind of model.

``train(TrainConfig(data=..., output=...))`` fine-tunes the bundled Whisper tiny.en,
offline, in minutes on a CPU (:mod:`djtui.training.whisper`). ``base`` starts from
another model: a CTranslate2 Whisper folder (a context model, to make a model of one
voice on top of it) or a wav2vec2 hub id or folder; ``from_scratch`` trains a small
wav2vec2 (:mod:`djtui.training.wav2vec2`). Each is a
:class:`~djtui.training.trainee.Trainee` to the loop below, which holds what they share:
the held-back takes and their scores (:mod:`djtui.training.validation`), augmented
batches with music alone among them (:mod:`djtui.training.augment`), the learning-rate
schedule (:mod:`djtui.training.schedule`), early stopping with the best checkpoint
always on disk (:mod:`djtui.training.stopping`), and the report comparing the model
before and after (:mod:`djtui.training.report`).

Progress events (:mod:`djtui.training.progress`) go to the subscriber (the TUI's Train
screen, the CLI's progress bar). The output folder *is* the model: ``djtui listen
--model OUTPUT`` loads it.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from djtui.core.errors import DjtuiError
from djtui.core.audio import SAMPLE_RATE, read_audio
from djtui.training.manifest import Take, read_manifest
from djtui.training.progress import Calibrating, Checkpointed, Done, Evaluated, Started, Stepped, Stopped, TrainEvent
from djtui.training.report import write_report
from djtui.training.schedule import lr_factor, warmup_steps
from djtui.training.stopping import EarlyStopping, StopRules
from djtui.training.trainee import Trainee, open_trainee
from djtui.training.validation import Metrics, command_checker, hold_back, score

MAX_CLIP_S = 10.0


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
    calibrate: bool = True
    """Whisper: fit the model's own confidence calibration on the held-back takes once
    trained (:func:`djtui.training.calibrate.after_training`), writing
    ``calibration.json`` beside it."""


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
    calibration: dict[str, Any] | None = None
    """The held-back takes judged before (the base model) and after (this one, with its
    new calibration), clean and in music: :func:`djtui.training.calibrate.after_training`."""


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
        from djtui.training.augment import MUSIC_ALONE_SHARE, Augmenter, MusicAlone

        self.augmenter = Augmenter(config.noise_dir, seed=config.seed) if config.augment else None
        self.music = (MusicAlone(config.noise_dir, math.ceil(self.batch_size * MUSIC_ALONE_SHARE), config.seed)
                      if config.noise_dir else None)
        self.checker = command_checker(config.context) if config.accuracy else None
        self.params = trainee.parameters()
        self.optimizer = torch.optim.AdamW(self.params, lr=config.lr or trainee.default_lr, weight_decay=0.005)
        warmup = warmup_steps(self.total_steps, config.warmup_fraction)
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
        self.emit(Started(total_steps=self.total_steps, epochs=self.epochs, wer=before.wer, cer=before.cer,
                          accuracy=before.accuracy, stock_accuracy=stock.accuracy if stock else None,
                          train_takes=len(self.train_takes), held_back=len(self.val_takes), device=self.device))
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
        self.emit(Stepped(step=self.step, total_steps=self.total_steps, epoch=epoch, epochs=self.epochs, loss=loss,
                          lr=float(self.schedule.get_last_lr()[0]), elapsed_s=time.monotonic() - self.started,
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
        self.emit(Evaluated(step=self.step, epoch=epoch, wer=metrics.wer, cer=metrics.cer, accuracy=metrics.accuracy,
                            elapsed_s=time.monotonic() - self.started))
        if self.early.improved(metrics, epoch):
            output = Path(self.config.output)
            self.trainee.save(output)
            self.emit(Checkpointed(step=self.step, epoch=epoch, output=output))

    def calibrate(self, output: Path) -> dict[str, Any] | None:
        """The new model's own confidence calibration, from the held-back takes (Whisper)."""
        from djtui.core.asr import is_whisper_folder
        from djtui.training.calibrate import after_training

        if not self.config.calibrate or not is_whisper_folder(output):
            return None
        data = Path(self.config.data)
        return after_training(output, self.config.base, self.val_takes, data if data.is_dir() else data.parent,
                              music_dir=self.config.noise_dir, context_path=self.config.context,
                              seed=self.config.seed,
                              on_progress=lambda done, total: self.emit(Calibrating(done, total)))

    def finish(self, epoch: int, stopped: str, before: Metrics, stock: Metrics | None) -> TrainResult:
        """Validate an epoch cut short, write the report, say it is done."""
        if self.validated != epoch and self.step > 0:
            self.end_of_epoch(epoch)
        if stopped != "epochs":
            self.emit(Stopped(step=self.step, epoch=epoch, why=stopped))
        best = self.early.best
        if best is None:
            raise DjtuiError("training stopped before the first step; no model was saved",
                             "let it run at least one step (check --max-minutes / --max-steps)")
        output = Path(self.config.output)
        result = TrainResult(output, before, best, self.early.best_epoch, self.step, stopped, self.device,
                             self.history, self.losses, stock, time.monotonic() - self.started)
        result.calibration = self.calibrate(output) if stopped != "interrupted" else None
        result.duration_s = time.monotonic() - self.started
        write_report(result, self.config, self.trainee.description, len(self.train_takes), len(self.val_takes))
        self.emit(Done(step=self.step, epoch=epoch, best_epoch=self.early.best_epoch, wer=best.wer, cer=best.cer,
                       accuracy=best.accuracy, elapsed_s=result.duration_s, output=output))
        return result

