"""The microphone before the echo canceller, beside the level meter's after: how much of
the music is removed, and what the canceller does with the reference."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

SILENCE_DB = -120.0
STATES = {
    "cancelling": "",
    "checking": "matching the reference to the microphone…",
    "silent": "reference SILENT: the microphone as it is",
    "unrelated": "reference is NOT THE MUSIC the microphone hears: the microphone as it is",
    "late": "reference comes AFTER the microphone: the microphone as it is",
    "lost": "reference input LOST: the microphone as it is",
}
"""What the meter says per :class:`~djtui.core.echo_cancel.ReferenceState` value."""


class EchoMeter(Widget):
    """One line: the microphone's level before cancelling as a bar, and either the dB
    removed and the ERLE (cancelling) or why nothing is removed. Set :attr:`before_db`,
    :attr:`after_db`, :attr:`erle_db` (``None``: not yet), :attr:`state` and
    :attr:`delay_ms`."""

    COMPONENT_CLASSES = {"echo-meter--bar", "echo-meter--empty", "echo-meter--label", "echo-meter--warning"}

    before_db: reactive[float] = reactive(SILENCE_DB)
    after_db: reactive[float] = reactive(SILENCE_DB)
    erle_db: reactive[float | None] = reactive(None)
    state: reactive[str] = reactive("checking")
    delay_ms: reactive[float | None] = reactive(None)

    floor_db = -60.0
    bar_cells = 16

    def render(self) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        label = self.get_component_rich_style("echo-meter--label")
        filled = round(min(1.0, max(0.0, (self.before_db - self.floor_db) / -self.floor_db)) * self.bar_cells)
        text.append("mic ", label)
        text.append("█" * filled, self.get_component_rich_style("echo-meter--bar"))
        text.append("·" * (self.bar_cells - filled), self.get_component_rich_style("echo-meter--empty"))
        before = f"{self.before_db:4.0f} dB" if self.before_db > self.floor_db else " -∞  dB"
        text.append(f" {before} before · ", label)
        if self.state != "cancelling":
            text.append(STATES.get(self.state, self.state), self.get_component_rich_style("echo-meter--warning"))
            return text
        removed = self.before_db - self.after_db if self.after_db > SILENCE_DB else 0.0
        erle = f"ERLE {self.erle_db:.0f} dB" if self.erle_db is not None else "ERLE …"
        delay = f" · delay {self.delay_ms:.0f} ms" if self.delay_ms is not None else ""
        text.append(f"{removed:.0f} dB of music removed · {erle}{delay}", label)
        return text
