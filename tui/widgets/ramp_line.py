"""Knobs and faders on the move: each ramp with where it is, its target and how far along;
when none moves, the tempo beats are counted in and where djtui's knob values come from."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

Ramp = tuple[str, float | None, float, float]
"""``(what moves, position now or None if unknown, target, progress 0-1)``."""


class RampLine(Widget):
    """Set :attr:`ramps` and :attr:`tempo`; one line, read at a glance."""

    COMPONENT_CLASSES = {"ramp-line--moving", "ramp-line--note"}

    ramps: reactive[tuple[Ramp, ...]] = reactive(())
    tempo: reactive[str] = reactive("")
    """How beats are counted, in words ("128 BPM (tapped)", "no tempo: …")."""

    def render(self) -> Text:
        out = Text(no_wrap=True, overflow="ellipsis")
        if not self.ramps:
            out.append("knobs: none moving", self.get_component_rich_style("ramp-line--note"))
            out.append(f" · {self.tempo}" if self.tempo else "")
            note = " · a relative move starts from djtui's last value (Rekordbox reports none)"
            if len(out) + len(note) > self.size.width:  # 80 columns: the short form, never cut
                note = " · moves start from djtui's last value"
            if len(out) + len(note) <= self.size.width:
                out.append(note, self.get_component_rich_style("ramp-line--note"))
            return out
        for n, (what, position, target, progress) in enumerate(self.ramps):
            if n:
                out.append("  ")
            now = "?" if position is None else f"{position:.2f}"
            filled = round(progress * 8)
            out.append(f"↝ {what} {now} → {target:.2f} {'█' * filled}{'░' * (8 - filled)} {progress:.0%}",
                       self.get_component_rich_style("ramp-line--moving"))
        return out

    def watch_ramps(self, ramps: tuple[Ramp, ...]) -> None:
        self.set_class(bool(ramps), "-moving")
