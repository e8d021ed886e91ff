"""The learning-rate schedule: a linear warm-up to the full rate, then a linear decay to
zero at the last step (what transformers' Trainer does by default)."""

from __future__ import annotations

MAX_WARMUP_STEPS = 200


def warmup_steps(total: int, fraction: float) -> int:
    """``fraction`` of the ``total`` optimizer steps, at least one, at most
    :data:`MAX_WARMUP_STEPS`."""
    return max(1, min(int(fraction * total), MAX_WARMUP_STEPS))


def lr_factor(step: int, warmup: int, total: int) -> float:
    """Linear warm-up to the full rate, then linear decay to zero at ``total``."""
    if step < warmup:
        return (step + 1) / warmup
    return max(0.0, (total - step) / max(1, total - warmup))
