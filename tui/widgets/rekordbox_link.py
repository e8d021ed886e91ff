"""Whether Rekordbox and djtui hear each other, and what to do when they do not."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

LABEL_WIDTH = 10
"""The width of the Home screen's status labels ("Microphone"), so this line lines up."""
EXPORT = "`djtui midi export-rekordbox djtui.csv`"


class RekordboxLink(Static):
    """One status line: the screen sets the facts, the widget words them for the DJ and
    styles itself ``-ok`` (Rekordbox reports deck state), ``-waiting`` (listening, no
    report yet) or ``-problem`` (the port is missing)."""

    port: reactive[str] = reactive("djtui")
    """The name djtui's ports share (commands out, feedback in)."""
    virtual: reactive[bool] = reactive(True)
    """djtui creates the ports (macOS, Linux); else they are loopMIDI's (Windows)."""
    listening: reactive[bool] = reactive(False)
    dry_run: reactive[bool] = reactive(False)
    heard: reactive[bool] = reactive(False)
    """Rekordbox has sent something on the feedback port (djtui's own echoes excluded)."""
    reporting: reactive[bool] = reactive(False)
    """A report djtui knows (play, loop, sync, …) has arrived."""
    problem: reactive[str] = reactive("")
    """Why the port cannot work (not found, gone); empty when nothing is wrong."""

    def render(self) -> Table:
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold", no_wrap=True, width=LABEL_WIDTH)
        grid.add_column()
        grid.add_row("Rekordbox", Text(self.advice()))
        return grid

    def advice(self) -> str:
        port = f"'{self.port}'"
        if self.problem:
            return f"{port} {self.problem}"
        if not self.listening:
            if self.virtual:
                return f"port {port} opens when listening: start djtui before Rekordbox"
            return f"loopMIDI port {port}: start loopMIDI and djtui before Rekordbox"
        if self.dry_run:
            return "dry run: no MIDI port open, nothing reaches Rekordbox"
        if self.reporting:
            return f"reports deck state on {port} ✓"
        if self.heard:
            return f"talks on {port} but sends no report djtui knows: import the file from {EXPORT}"
        return (f"no feedback on {port} yet · if playing a deck shows nothing: restart Rekordbox "
                f"(it lists ports only when it starts), import the file from {EXPORT}, Performance mode")

    def _restyle(self) -> None:
        self.set_class(bool(self.problem), "-problem")
        self.set_class(not self.problem and self.listening and not self.dry_run and self.reporting, "-ok")
        self.set_class(not self.problem and self.listening and not self.dry_run and not self.reporting, "-waiting")

    def watch_problem(self) -> None:
        self._restyle()

    def watch_listening(self) -> None:
        self._restyle()

    def watch_dry_run(self) -> None:
        self._restyle()

    def watch_reporting(self) -> None:
        self._restyle()
