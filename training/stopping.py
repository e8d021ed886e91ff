"""When training ends before its last epoch: :class:`EarlyStopping` keeps the best
validation and counts the epochs without a better one; :class:`StopRules` are the
reasons that end it at a step (a stop request, the wall-clock deadline, a step budget)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from djtui.training.validation import Metrics


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
    """When to end before the last epoch: a stop request, the wall-clock deadline (on
    ``clock``, the run's clock), a step budget."""

    stop: threading.Event | None = None
    deadline: float | None = None
    max_steps: int | None = None
    clock: Callable[[], float] = time.monotonic

    def reason(self, step: int, step_s: float = 0.0) -> str | None:
        """Why to stop after ``step``, if so. A step takes ``step_s``: the deadline stops
        the run before a step that would end past it, not after."""
        if self.stop is not None and self.stop.is_set():
            return "interrupted"
        if self.deadline is not None and self.clock() + step_s >= self.deadline:
            return "max minutes"
        if self.max_steps and step >= self.max_steps:
            return "max steps"
        return None
