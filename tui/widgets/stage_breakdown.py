"""Where the last utterance's time went, stage by stage."""

from __future__ import annotations

from textual.widgets import Static


HANGOVER = "vad_endpoint"
"""The VAD hang-over: before the endpoint decision, so shown apart from the total."""


def format_stages(stages: dict[str, float], total_ms: float | None = None) -> str:
    """``{"asr": 41.2, "resolve": 6.0}`` → ``"asr 41 · resolve 6 = 47 ms"``; the VAD
    hang-over, if present, is shown after the total since it is not part of it."""
    after = {name: ms for name, ms in stages.items() if name != HANGOVER}
    if not after:
        return "stages: —"
    total = sum(after.values()) if total_ms is None else total_ms
    body = " · ".join(f"{name} {ms:.0f}" for name, ms in after.items())
    hangover = f" (+{stages[HANGOVER]:.0f} hang-over)" if HANGOVER in stages else ""
    return f"{body} = {total:.0f} ms{hangover}"


class StageBreakdown(Static):
    """Per-stage milliseconds of the last utterance; :meth:`show` replaces them."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(format_stages({}), **kwargs)  # type: ignore[arg-type]

    def show(self, stages: dict[str, float], total_ms: float | None = None) -> None:
        self.update(format_stages(stages, total_ms))
