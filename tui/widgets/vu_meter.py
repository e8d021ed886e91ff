"""Input level meter: RMS as a bar, the peak as a tick, in dBFS."""

from __future__ import annotations

from itertools import groupby

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

SILENCE_DB = -120.0


class VuMeter(Widget):
    """A one-line level meter from ``floor_db`` to 0 dBFS. Set ``rms_db`` and ``peak_db``."""

    COMPONENT_CLASSES = {"vu-meter--low", "vu-meter--mid", "vu-meter--high", "vu-meter--empty", "vu-meter--label"}

    rms_db: reactive[float] = reactive(SILENCE_DB)
    peak_db: reactive[float] = reactive(SILENCE_DB)

    floor_db = -60.0
    mid_db = -18.0
    """Above this the bar turns to the warning colour: loud enough for the model."""
    high_db = -3.0
    """Above this it turns red: the input is about to clip."""

    def _fraction(self, db: float) -> float:
        return min(1.0, max(0.0, (db - self.floor_db) / -self.floor_db))

    def render(self) -> Text:
        label = f"{self.rms_db:4.0f} dB" if self.rms_db > self.floor_db else " -∞  dB"
        width = max(1, self.size.width - len(label) - 1)
        filled = round(self._fraction(self.rms_db) * width)
        peak = min(width - 1, round(self._fraction(self.peak_db) * width)) if self.peak_db > self.floor_db else -1
        styles = {name: self.get_component_rich_style(f"vu-meter--{name}") for name in ("low", "mid", "high", "empty")}
        cells = []
        for i in range(width):
            db_here = self.floor_db + (i + 0.5) / width * -self.floor_db
            zone = "high" if db_here >= self.high_db else "mid" if db_here >= self.mid_db else "low"
            cells.append(("█", zone) if i < filled else ("▏", zone) if i == peak else ("·", "empty"))
        text = Text(no_wrap=True, overflow="crop")
        # One append per run of equal cells: this redraws a dozen times a second.
        for (char, zone), run in groupby(cells):
            text.append(char * len(list(run)), styles[zone])
        text.append(" " + label, self.get_component_rich_style("vu-meter--label"))
        return text
