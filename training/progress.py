"""What a training run tells its subscriber: one closed set of typed events.

:func:`djtui.training.finetune.train` hands these to ``on_event`` (the TUI's Train
screen, the context model's build line, the CLI's progress bar), which dispatch on their
types (``match event: case Stepped(): …``), so a renamed field is a type error, not a
blank progress bar. A run sends :class:`Started` once (a resumed run at the step it goes
on from); then a :class:`Stepped` after each optimizer step and an :class:`Evaluated`
after each epoch's validation (then a :class:`Checkpointed` when that epoch is the best
yet); a :class:`Stopped` when something ended it before the last epoch;
:class:`Calibrating` while the new model's confidence is fitted (Whisper); :class:`Done`
last, unless the run stopped to resume later. ``step`` counts optimizer steps from 1 and
``epoch`` epochs from 1; 0 is before the first. The context model's build sends them
from its own process as JSON lines (:mod:`djtui.training.context_worker`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Started:
    """The model before training, scored on the held-back takes, and the plan."""

    total_steps: int
    epochs: int
    wer: float
    cer: float
    accuracy: float | None
    """Of the held-back commands understood (through the resolver); None when not scored."""
    stock_accuracy: float | None
    """The bundled model's accuracy, when training started from another model."""
    train_takes: int
    held_back: int
    device: str
    step: int = 0
    """Where the run starts: 0, or the step a resumed run goes on from (its scores are
    those of the run it resumes)."""

    @property
    def message(self) -> str:
        resumed = f"; resuming at step {self.step}/{self.total_steps}" if self.step else ""
        return f"{self.train_takes} train / {self.held_back} held-back takes on {self.device}{resumed}"


@dataclass(frozen=True)
class Stepped:
    """One optimizer step was taken."""

    step: int
    total_steps: int
    epoch: int
    epochs: int
    loss: float
    """The mean training loss of the batches in the step."""
    lr: float
    """The learning rate the step used, after the schedule."""
    elapsed_s: float
    eta_s: float
    """Seconds left at the pace so far (never past ``max_minutes``)."""


@dataclass(frozen=True)
class Evaluated:
    """An epoch's validation on the held-back takes."""

    step: int
    epoch: int
    wer: float
    cer: float
    accuracy: float | None
    elapsed_s: float


@dataclass(frozen=True)
class Checkpointed:
    """The epoch just evaluated is the best yet; its model is saved in ``output``."""

    step: int
    epoch: int
    output: Path

    @property
    def message(self) -> str:
        return f"saved best checkpoint (epoch {self.epoch}) to {self.output}"


@dataclass(frozen=True)
class Calibrating:
    """Training is over; the new model's confidence is being fitted on the held-back
    takes (:mod:`djtui.training.calibrate`): ``done`` of ``total`` hearings."""

    done: int
    total: int

    @property
    def message(self) -> str:
        return f"calibrating the confidence on the held-back takes: {self.done}/{self.total}"


@dataclass(frozen=True)
class Stopped:
    """Training ended before its last epoch."""

    step: int
    epoch: int
    why: str
    """"early stopping", "max minutes", "max steps" or "interrupted"."""


@dataclass(frozen=True)
class Done:
    """The run is over and its report written: the best epoch's validation."""

    step: int
    epoch: int
    best_epoch: int
    wer: float
    cer: float
    accuracy: float | None
    elapsed_s: float
    output: Path

    @property
    def message(self) -> str:
        return f"best checkpoint: epoch {self.best_epoch}, saved in {self.output}"


TrainEvent = Started | Stepped | Evaluated | Checkpointed | Calibrating | Stopped | Done
"""Everything a training subscriber can receive."""
