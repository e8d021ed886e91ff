"""ARMED / DISARMED, impossible to miss: a full-width bar whose colour and words change."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static


class ArmedBanner(Static):
    """Set :attr:`armed`; the banner says what that means for the DJ and which key flips it."""

    armed: reactive[bool] = reactive(False)
    key: reactive[str] = reactive("a")
    panic_key: reactive[str] = reactive("x")

    def render(self) -> Text:
        if self.armed:
            return Text(f"● ARMED — spoken commands go to Rekordbox · {self.key}: disarm · {self.panic_key}: PANIC")
        return Text(f"○ DISARMED — nothing is sent · {self.key}: arm")

    def watch_armed(self, armed: bool) -> None:
        self.set_class(armed, "-armed")
