"""What every djtui screen shares: the title line, the armed banner, the footer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Static

from djtui.tui.widgets.armed_banner import ArmedBanner

if TYPE_CHECKING:  # the app imports every screen
    from textual import getters

    from djtui.tui.app import DjtuiApp


class DjtuiScreen(Screen[Any]):
    """A screen with djtui's frame; subclasses yield their body from :meth:`body`."""

    TITLE = ""

    if TYPE_CHECKING:
        # What type checkers see: the djtui app, with its config, host, live session and
        # context-model build. At run time the inherited property returns that same app
        # (Textual's getter there would import DjtuiApp while this class is defined).
        app = getters.app(DjtuiApp)

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
