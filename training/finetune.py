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
--model OUTPUT`` loads it. Before any work the output must take a file (and have room
for the checkpoints, where the file system says); what a killed run left there is
cleared first (:mod:`djtui.training.leftovers`); a write that fails on the way (disk
full, read-only) is one :class:`DjtuiError` saying so.

A run with a ``resume_state`` file can be stopped at any moment and go on where it was
(:mod:`djtui.training.checkpoint`): a stop request, Ctrl-C or ``max_minutes`` keep the
state instead of finishing, a kill loses at most :data:`~djtui.training.checkpoint.EVERY_S`
of training, and the next run of the same plan resumes from the state.
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

from djtui.core import fileio
from djtui.core.errors import DjtuiError
from djtui.core.audio import SAMPLE_RATE, read_audio
from djtui.training import checkpoint, leftovers
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
    resume_state: Path | None = None
    """Where a resumable run keeps its state (:mod:`djtui.training.checkpoint`); None:
    the run is not resumable, and a stop finishes it with the best checkpoint."""
    resume_every_s: float = checkpoint.EVERY_S
    """Seconds of training between two states written mid-epoch (0: after every step)."""
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
    "interrupted" (a stop request, Ctrl-C or SIGTERM)."""
    device: str
    history: list[dict[str, Any]] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    stock: Metrics | None = None
    """The bundled model on the same takes, when training started from another model."""
    duration_s: float = 0.0
    """Seconds this run took (a resumed run: since it resumed)."""
    resumed_at: int = 0
    """The step this run resumed at (0: it started from the beginning)."""
    finished: bool = True
    """False when a resumable run stopped to go on later: nothing is in the output yet
    but the best so far, no report, and ``resume_state`` holds where it was."""
    calibration: dict[str, Any] | None = None
    """The held-back takes judged before (the base model) and after (this one, with its
    new calibration), clean and in music: :func:`djtui.training.calibrate.after_training`."""


def _is_oom(exc: BaseException) -> bool:
    return isinstance(exc, MemoryError) or "out of memory" in str(exc).lower()



SUSPENDING = ("interrupted", "max minutes")
"""Why a resumable run stops to go on later instead of finishing."""


def train(config: TrainConfig, on_event: Callable[[TrainEvent], None] | None = None,
          stop: threading.Event | None = None, clock: Callable[[], float] = time.monotonic) -> TrainResult:
    """Train, validating on the held-back takes each epoch; the best checkpoint is in
    ``config.output`` whenever this returns or raises, once the first epoch (or stop)
    has been validated. Ctrl-C, ``stop.set()``, ``max_minutes`` and ``max_steps`` end
    training early and still write the report (a resumable run keeps its state instead,
    see the module). ``clock`` is the run's time (the context model's build leaves out
    the time it was paused): ``max_minutes``, the ETA and the duration are measured on it."""
    output = Path(config.output)
    fileio.check_writable(output, f"training into {output}", _room_needed(config))
    leftovers.clear(output)
    # The tokenizer's "No space left on device (os error 28)", an OSError from a writer:
    # the one line a full disk or a read-only folder deserves.
    with fileio.write_problems_said(f"training into {output}"):
        return _train(config, on_event or (lambda event: None), stop, clock)


def _room_needed(config: TrainConfig) -> int:
    """Bytes a Whisper run writes at most at once: the candidate, the best checkpoint and
    the scratch folder of a save, each the size of its base, and a resumable run's state
    (its learning weights and the optimizer's two moments in float32: about three times
    the base again); 0 when the size is not known (wav2vec2)."""
    from djtui.core.asr import bundled_whisper_path, is_whisper_folder

    if config.from_scratch:
        return 0
    base = Path(config.base).expanduser() if config.base else bundled_whisper_path()
    if not is_whisper_folder(base):
        return 0
    size = (base / "model.bin").stat().st_size
    return 3 * size + (3 * size if config.resume_state else 0)


def _train(config: TrainConfig, emit: Callable[[TrainEvent], None], stop: threading.Event | None,
           clock: Callable[[], float]) -> TrainResult:
    import torch
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # our own progress events replace its bars
    started = clock()
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
    trainee, device = open_trainee(config, takes)
    rules = StopRules(stop, started + config.max_minutes * 60 if config.max_minutes else None, config.max_steps, clock)
    try:
        run = _Run(trainee, device, config, train_takes, val_takes, audio, emit, rules, started, clock)
        return run.fit(checkpoint.plan_of(takes, _recipe(config)))
    finally:
        trainee.close()


def _recipe(config: TrainConfig) -> dict[str, Any]:
    """The settings that make a run what it is: a resume state of other settings is
    another run's. Time limits, threads and where things go are not among them."""
    skip = {"data", "output", "max_minutes", "threads", "resume_state", "resume_every_s", "device"}
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(config).items() if k not in skip}


class _Run:
    """One training run: the optimizer and its schedule, the augmented batches, the
    steps, validations and checkpoints so far, and the events that report them."""

    def __init__(self, trainee: Trainee, device: str, config: TrainConfig, train_takes: list[Take],
                 val_takes: list[Take], audio: dict[str, np.ndarray], emit: Callable[[TrainEvent], None],
                 rules: StopRules, started: float, clock: Callable[[], float]) -> None:
        import torch

        self.trainee, self.device, self.config, self.emit, self.rules = trainee, device, config, emit, rules
        self.train_takes, self.val_takes, self.audio = train_takes, val_takes, audio
        self.started, self.clock = started, clock
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
        self.loop_started = clock()
        # Where the run is, as of the last optimizer step's end: what a resume state holds.
        self.epoch, self.order, self.next_batch = 1, None, 0
        self.resumed_at = 0
        self.random: dict[str, Any] = {}
        self.updating = False
        """True while the weights change: a state taken then would be half a step."""
        self.state_written = clock()
        self.plan = ""

    def fit(self, plan: str) -> TrainResult:
        """Score the model as it starts (or take up a resume state), train epoch by
        epoch, then finish with the report, or keep the state to go on later."""
        self.plan = plan
        state = checkpoint.load(self.config.resume_state, plan) if self.config.resume_state else None
        before, stock = self.restore(state) if state else self.start()
        self.before, self.stock = before, stock
        self.keep_random()
        epoch, stopped = min(self.epoch, self.epochs), "epochs"
        try:
            for epoch in range(self.epoch, self.epochs + 1):
                if self.early.exhausted:  # a resumed run that had stopped early
                    stopped = "early stopping"
                    break
                if (reason := self.run_epoch(epoch)) is not None:
                    stopped = reason
                    break
                self.end_of_epoch(epoch)
                if self.early.exhausted:
                    stopped = "early stopping"
                    break
        except KeyboardInterrupt:
            stopped = "interrupted"
        if self.config.resume_state and stopped in SUSPENDING:
            return self.suspend(epoch, stopped, before, stock)
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
        self.announce(before, stock)
        return before, stock

    def announce(self, before: Metrics, stock: Metrics | None) -> None:
        self.emit(Started(total_steps=self.total_steps, epochs=self.epochs, wer=before.wer, cer=before.cer,
                          accuracy=before.accuracy, stock_accuracy=stock.accuracy if stock else None,
                          train_takes=len(self.train_takes), held_back=len(self.val_takes), device=self.device,
                          step=self.step))
        self.loop_started = self.clock()

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

    def optimizer_step(self, epoch: int, loss: float, step_s: float) -> str | None:
        """Apply the accumulated gradients, report the step; why to stop now, if so."""
        import torch

        self.updating = True
        torch.nn.utils.clip_grad_norm_(self.params, 1.0)
        self.optimizer.step()
        self.schedule.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        self.losses.append(loss)
        self.updating = False
        now = self.clock()
        eta = (now - self.loop_started) / (self.step - self.resumed_at) * (self.total_steps - self.step)
        if self.rules.deadline is not None:
            eta = min(eta, self.rules.deadline - now)
        self.emit(Stepped(step=self.step, total_steps=self.total_steps, epoch=epoch, epochs=self.epochs, loss=loss,
                          lr=float(self.schedule.get_last_lr()[0]), elapsed_s=now - self.started,
                          eta_s=max(0.0, eta)))
        return self.rules.reason(self.step, step_s)

    def run_epoch(self, epoch: int) -> str | None:
        """One pass over the training takes in a seeded order (a resumed epoch: its own
        order, from the batch it stopped before); why to stop, if so."""
        import torch

        if self.order is None or self.epoch != epoch:
            self.order = torch.randperm(len(self.train_takes), generator=self.generator).tolist()
            self.epoch, self.next_batch = epoch, 0
        order = self.order
        batches = [order[i:i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        running: list[float] = []
        step_began = self.clock()
        for index in range(self.next_batch, len(batches)):
            running.append(self.backward(*self.batch([self.train_takes[i] for i in batches[index]])))
            if (index + 1) % self.config.grad_accum and index + 1 < len(batches):
                continue
            reason = self.optimizer_step(epoch, float(np.mean(running)), self.clock() - step_began)
            self.next_batch = index + 1
            self.keep_random()
            running = []
            if reason is not None:
                return reason
            if self.config.resume_state and self.clock() - self.state_written >= self.config.resume_every_s:
                self.write_state()
            step_began = self.clock()
        return None

    def end_of_epoch(self, epoch: int) -> None:
        """Validate; a new best is saved at once (and a resumable run's state after it)."""
        metrics = self.validate()
        self.history.append({"epoch": epoch, "step": self.step, **asdict(metrics)})
        self.emit(Evaluated(step=self.step, epoch=epoch, wer=metrics.wer, cer=metrics.cer, accuracy=metrics.accuracy,
                            elapsed_s=self.clock() - self.started))
        if self.early.improved(metrics, epoch):
            output = Path(self.config.output)
            self.trainee.save(output)
            self.emit(Checkpointed(step=self.step, epoch=epoch, output=output))
        if self.config.resume_state:
            self.epoch, self.order, self.next_batch = epoch + 1, None, 0
            self.write_state()

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
        if self.step > (self.history[-1]["step"] if self.history else 0):
            self.end_of_epoch(epoch)
        if stopped != "epochs":
            self.emit(Stopped(step=self.step, epoch=epoch, why=stopped))
        best = self.early.best
        if best is None:
            raise DjtuiError("training stopped before the first step; no model was saved",
                             "let it run at least one step (check --max-minutes / --max-steps)")
        output = Path(self.config.output)
        result = self.result(before, best, stopped, stock)
        result.calibration = self.calibrate(output) if stopped != "interrupted" else None
        result.duration_s = self.clock() - self.started  # the calibration included
        write_report(result, self.config, self.trainee.description, len(self.train_takes), len(self.val_takes))
        if self.config.resume_state:
            Path(self.config.resume_state).unlink(missing_ok=True)  # the run is over: nothing to go on from
        self.emit(Done(step=self.step, epoch=epoch, best_epoch=self.early.best_epoch, wer=best.wer, cer=best.cer,
                       accuracy=best.accuracy, elapsed_s=result.duration_s, output=output))
        return result

    def suspend(self, epoch: int, stopped: str, before: Metrics, stock: Metrics | None) -> TrainResult:
        """Keep where the run is, to go on from there next time; no report yet."""
        if not self.updating:  # else the state written at the last step's end stands
            self.write_state()
        self.emit(Stopped(step=self.step, epoch=epoch, why=stopped))
        result = self.result(before, self.early.best or before, stopped, stock)
        result.finished = False
        return result

    def result(self, before: Metrics, after: Metrics, stopped: str, stock: Metrics | None) -> TrainResult:
        return TrainResult(Path(self.config.output), before, after, self.early.best_epoch, self.step, stopped,
                           self.device, self.history, self.losses, stock, self.clock() - self.started,
                           resumed_at=self.resumed_at)

    # --- the resume state (djtui.training.checkpoint) -----------------------------------

    def keep_random(self) -> None:
        """Every generator as it is at this step's end, for the next state written."""
        import torch

        self.random = {
            "python": random.getstate(), "numpy": _numpy_saved(np.random.get_state(legacy=False)),
            "torch": torch.get_rng_state(), "order": self.generator.get_state(),
            "augment": self.augmenter.rng.bit_generator.state if self.augmenter else None,
            "music": self.music.rng.bit_generator.state if self.music else None,
        }

    def write_state(self) -> None:
        checkpoint.save(self.config.resume_state, {
            "plan": self.plan,
            "position": {"epoch": self.epoch, "order": self.order, "next_batch": self.next_batch, "step": self.step},
            "weights": [p.detach().clone() for p in self.params],
            "optimizer": self.optimizer.state_dict(), "schedule": self.schedule.state_dict(),
            "random": self.random,
            "scores": {"before": asdict(self.before), "stock": asdict(self.stock) if self.stock else None,
                       "history": self.history, "losses": self.losses,
                       "best": asdict(self.early.best) if self.early.best else None,
                       "best_epoch": self.early.best_epoch, "stale": self.early.stale},
        })
        self.state_written = self.clock()

    def restore(self, state: dict[str, Any]) -> tuple[Metrics, Metrics | None]:
        """Take up a resume state: the weights, optimizer, schedule, generators, scores
        and position it holds; the scores of the run it resumes."""
        import torch

        with torch.no_grad():
            for param, saved in zip(self.params, state["weights"], strict=True):
                param.copy_(saved)
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["schedule"])
        rng = state["random"]
        random.setstate(rng["python"])
        np.random.set_state(_numpy_restored(rng["numpy"]))
        torch.set_rng_state(rng["torch"])
        self.generator.set_state(rng["order"])
        if self.augmenter is not None and rng["augment"] is not None:
            self.augmenter.rng.bit_generator.state = rng["augment"]
        if self.music is not None and rng["music"] is not None:
            self.music.rng.bit_generator.state = rng["music"]
        position, scores = state["position"], state["scores"]
        self.epoch, self.order, self.next_batch = position["epoch"], position["order"], position["next_batch"]
        self.step = self.resumed_at = position["step"]
        self.history, self.losses = list(scores["history"]), list(scores["losses"])
        if scores["best"] is not None:
            self.early.best = Metrics(**scores["best"])
        self.early.best_epoch, self.early.stale = scores["best_epoch"], scores["stale"]
        before = Metrics(**scores["before"])
        stock = Metrics(**scores["stock"]) if scores["stock"] else None
        self.announce(before, stock)
        return before, stock



def _numpy_saved(state: dict[str, Any]) -> dict[str, Any]:
    """NumPy's global generator state with its key as a tensor: a resume state holds
    only tensors and plain values."""
    import torch

    inner = dict(state["state"])
    inner["key"] = torch.from_numpy(np.asarray(inner["key"]).astype(np.int64))
    return {**state, "state": inner}


def _numpy_restored(saved: dict[str, Any]) -> dict[str, Any]:
    inner = dict(saved["state"])
    inner["key"] = inner["key"].numpy().astype(np.uint32)
    return {**saved, "state": inner}
