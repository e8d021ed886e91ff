"""What a training run tells its subscriber, step by step."""

from __future__ import annotations

from dataclasses import dataclass


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
