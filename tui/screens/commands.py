"""Commands: browse and search what can be said; type a phrase and see its top 5."""

from __future__ import annotations

import random
from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Input, Static

from djtui.core.context import Context
from djtui.core.errors import DjtuiError
from djtui.tui.host import user_error
from djtui.tui.screens.base import DjtuiScreen
from djtui.tui.widgets.candidate_bars import CandidateBars


def intent_rows(context: Context) -> list[tuple[str, str, str, str]]:
    """(intent, safety, an example phrase, what it sends) for every intent."""
    rows = []
    for name, intent in context.intents.items():
        sample = context.sample(1, random.Random(0), intent=name)[0]
        example = context.render(name, sample.slots)
        action = intent.action
        if intent.control:
            sends = f"djtui: {intent.control}"
        elif intent.move is not None:
            sends = f"moves {intent.move.control}"
        elif action is None:
            sends = "—"
        elif action.function_map:
            sends = f"{len(action.function_map)} functions"
        else:
            sends = action.function
        rows.append((name, intent.safety, example, sends))
    return rows


class CommandsScreen(DjtuiScreen):
    TITLE = "commands"
    CSS_PATH = "commands.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "focus('#search')", "Search", tooltip="filter the commands"),
        Binding("e", "focus('#phrase')", "Try phrase", tooltip="type a phrase, enter: its top 5"),
        Binding("escape", "leave_field", "Leave field", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[str, str, str, str]] = []
        self.resolver: Any = None

    def body(self) -> ComposeResult:
        yield Input(placeholder="/ search commands (name, phrase, function)", id="search")
        yield DataTable(id="intents", cursor_type="row", zebra_stripes=True)
        yield Input(placeholder="e: type a phrase, enter: see its top 5", id="phrase")
        yield Static("", id="resolve-state", classes="muted")
        yield CandidateBars(placeholder="top 5 of your phrase appear here")

    def on_mount(self) -> None:
        super().on_mount()
        table = self.query_one(DataTable)
        table.add_columns("command", "safety", "say", "sends")
        app: Any = self.app
        try:
            self.rows = intent_rows(app.host.context(app.config))
        except DjtuiError as exc:
            app.show_error(exc, title="Commands")
        self._fill("")
        table.focus()

    def _fill(self, query: str) -> None:
        table = self.query_one(DataTable)
        table.clear()
        words = query.lower().split()
        for row in self.rows:
            haystack = " ".join(row).lower()
            if all(word in haystack for word in words):
                table.add_row(*row, key=row[0])

    @on(Input.Changed, "#search")
    def _search(self, event: Input.Changed) -> None:
        self._fill(event.value)

    @on(Input.Submitted, "#phrase")
    def _try_phrase(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.query_one("#resolve-state", Static).update(
                "resolving…" if self.resolver is not None else "loading the resolver (first time only)…")
            self.resolve(event.value.strip())

    @work(thread=True, exclusive=True, group="resolve")
    def resolve(self, phrase: str) -> None:
        app: Any = self.app
        try:
            if self.resolver is None:
                self.resolver = app.host.resolver(app.host.context(app.config), app.config)
            candidates = self.resolver.resolve(phrase, k=5)
        except Exception as exc:  # noqa: BLE001 - shown as a notification
            exc = user_error(exc, "resolving the phrase")
            app.call_from_thread(self._resolve_failed, exc)
            return
        app.call_from_thread(self._show, phrase, candidates)

    def _show(self, phrase: str, candidates: list[Any]) -> None:
        self.query_one("#resolve-state", Static).update(f"“{phrase}” means:" if candidates else f"“{phrase}”: no match")
        self.query_one(CandidateBars).rows = tuple((c.label(), float(c.score)) for c in candidates)

    def _resolve_failed(self, error: DjtuiError) -> None:
        self.query_one("#resolve-state", Static).update(f"cannot resolve: {error.message}")
        self.app.show_error(error, title="Commands")  # type: ignore[attr-defined]

    def action_leave_field(self) -> None:
        self.query_one(DataTable).focus()
