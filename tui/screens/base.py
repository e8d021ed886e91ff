"""What every djtui screen shares: the title line, the armed banner, the footer."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Static

from djtui.tui.widgets.armed_banner import ArmedBanner


class DjtuiScreen(Screen[Any]):
    """A screen with djtui's frame; subclasses yield their body from :meth:`body`."""

    TITLE = ""

    def compose(self) -> ComposeResult:
        yield Static(f"djtui · {self.TITLE}", classes="screen-title")
        yield ArmedBanner()
        yield from self.body()
        yield Footer(compact=True)

    def body(self) -> ComposeResult:
        yield from ()

    def action_leave_field(self) -> None:
        """Escape from a form field: letters switch screens again."""
        self.set_focus(None)

    def on_mount(self) -> None:
        banner = self.query_one(ArmedBanner)
        self.watch(self.app, "armed", lambda armed: setattr(banner, "armed", armed), init=True)
