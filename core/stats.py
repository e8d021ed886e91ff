"""Summaries of measured times: the one percentile djtui reports (pure Python, so the TUI
can use it without loading numpy)."""

from __future__ import annotations

from collections.abc import Iterable


def percentile(values: Iterable[float], q: float) -> float:
    """The ``q``-th percentile (0..100) of a non-empty collection, interpolating
    linearly between the two nearest ranks (numpy's default, so figures agree)."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("percentile of no values")
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile {q} is outside 0..100")
    position = (len(ordered) - 1) * q / 100.0
    below = int(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


def summary(values: Iterable[float], digits: int = 1) -> dict[str, float]:
    """``n``, ``p50``, ``p90``, ``p95``, ``p99`` and ``mean`` of ``values`` (empty: ``{}``)."""
    values = list(values)
    if not values:
        return {}
    out: dict[str, float] = {"n": len(values)}
    for q in (50, 90, 95, 99):
        out[f"p{q}"] = round(percentile(values, q), digits)
    out["mean"] = round(sum(values) / len(values), digits)
    return out
