"""End-of-speech → MIDI latency of recent utterances: a sparkline and its summary."""

from __future__ import annotations

from collections import deque

from textual.app import ComposeResult
from textual.widget import Widget
from textual.widgets import Label, Sparkline

from djtui.core.stats import percentile


class LatencySparkline(Widget):
    """The last ``keep`` latencies in ms; :meth:`add` appends one."""

    def __init__(self, keep: int = 60, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.latencies: deque[float] = deque(maxlen=keep)

    def compose(self) -> ComposeResult:
        yield Label(self._summary(), id="latency-summary")
        yield Sparkline([], id="latency-spark")

    def add(self, ms: float) -> None:
        self.latencies.append(ms)
        self.query_one(Sparkline).data = list(self.latencies)
        self.query_one(Label).update(self._summary())

    def _summary(self) -> str:
        if not self.latencies:
            return "latency: no utterances yet"
        values = list(self.latencies)
        return (
            f"latency  last {values[-1]:.0f} ms · p50 {percentile(values, 50):.0f} · "
            f"p95 {percentile(values, 95):.0f} · n={len(values)}"
        )
