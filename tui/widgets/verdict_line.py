"""The safety layer's verdict on the last utterance: sent or not, and why."""

from __future__ import annotations

from textual.widgets import Static


class VerdictLine(Static):
    """``show(approved, reason, command)``; ``None`` approved means no verdict yet. A
    verdict longer than the line wraps (its TCSS height is auto): the command and the
    reason are never cut off."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__("verdict: —", **kwargs)  # type: ignore[arg-type]

    def show(self, approved: bool | None, reason: str = "", command: str = "") -> None:
        self.set_class(approved is True, "-approved")
        self.set_class(approved is False, "-rejected")
        if approved is None:
            self.update(f"verdict: {reason or '—'}")
            return
        head = "✔ SENT" if approved else "✘ NOT SENT"
        parts = [head, command, reason]
        self.update(" · ".join(p for p in parts if p))
