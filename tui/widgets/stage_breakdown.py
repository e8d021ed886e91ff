"""Where the last utterance's time went, stage by stage, in the width there is."""

from __future__ import annotations

from textual.reactive import reactive
from textual.widget import Widget

HANGOVER = "vad_endpoint"
"""The VAD hang-over: before the endpoint decision, so shown apart from the total."""


def format_stages(stages: dict[str, float], total_ms: float | None = None, width: int | None = None) -> str:
    """``{"asr": 41.2, "resolve": 6.0}`` → ``"asr 41 · resolve 6 = 47 ms"``; the VAD
    hang-over, if present, is shown after the total since it is not part of it. Given a
    ``width``, stages under a millisecond, then the stages themselves, give way before
    the total and the hang-over are cut."""
    after = {name: ms for name, ms in stages.items() if name != HANGOVER}
    if not after:
        return "stages: —"
    total = sum(after.values()) if total_ms is None else total_ms
    hangover = f" (+{stages[HANGOVER]:.0f} hang-over)" if HANGOVER in stages else ""
    tail = f" = {total:.0f} ms{hangover}"
    forms = [after, {name: ms for name, ms in after.items() if ms >= 0.5}, {}]
    for shown in forms:
        text = " · ".join(f"{name} {ms:.0f}" for name, ms in shown.items()) + tail if shown else tail.removeprefix(" = ")
        if width is None or len(text) <= width:
            return text
    return text


class StageBreakdown(Widget):
    """Per-stage milliseconds of the last utterance; :meth:`show` replaces them."""

    stages: reactive[tuple[tuple[str, float], ...]] = reactive(())
    total_ms: reactive[float | None] = reactive(None)

    def show(self, stages: dict[str, float], total_ms: float | None = None) -> None:
        self.stages, self.total_ms = tuple(stages.items()), total_ms

    def render(self) -> str:
        return format_stages(dict(self.stages), self.total_ms, self.size.width or None)
