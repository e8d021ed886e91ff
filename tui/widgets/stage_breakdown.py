"""Where the last utterance's time went, stage by stage."""

from __future__ import annotations

from textual.widgets import Static


def format_stages(stages: dict[str, float], total_ms: float | None = None) -> str:
    """``{"asr": 41.2, "resolve": 6.0}`` → ``"asr 41 · resolve 6 = 47 ms"``."""
    if not stages:
        return "stages: —"
    total = sum(stages.values()) if total_ms is None else total_ms
    body = " · ".join(f"{name} {ms:.0f}" for name, ms in stages.items())
    return f"{body} = {total:.0f} ms"


class StageBreakdown(Static):
    """Per-stage milliseconds of the last utterance; :meth:`show` replaces them."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(format_stages({}), **kwargs)  # type: ignore[arg-type]

    def show(self, stages: dict[str, float], total_ms: float | None = None) -> None:
        self.update(format_stages(stages, total_ms))
