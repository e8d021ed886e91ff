"""The one error type djtui shows to people.

Every failure a DJ can cause or fix (a broken context file, a missing model, a busy MIDI
port) is raised as a :class:`DjtuiError` carrying what went wrong and what to do about it.
The CLI and the TUI print ``str(error)``; neither ever shows a traceback for these.
"""

from __future__ import annotations


class DjtuiError(Exception):
    """A problem the user can act on: ``message`` says what is wrong, ``hint`` what to do."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  → {self.hint}" if self.hint else self.message


class ContextError(DjtuiError):
    """A context file that cannot be used; ``problems`` lists every ``file:line: what``."""

    def __init__(self, problems: list[str], hint: str = "fix the lines above and try again") -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems), hint)
