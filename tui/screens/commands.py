"""Commands: browse and search what can be said; type a phrase and see its top 5.

Each command shows an example a person would say (:mod:`djtui.core.examples`), and the
highlighted one its slots and what Rekordbox will see (:func:`djtui.core.rekordbox.describe_sends`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Input, Static

from djtui.core.config import RekordboxConfig
from djtui.core.context import Context
from djtui.core.errors import DjtuiError
from djtui.tui.host import user_error
from djtui.tui.screens.base import DjtuiScreen
from djtui.tui.widgets.candidate_bars import CandidateBars
from djtui.tui.widgets.command_detail import CommandDetail


@dataclass(frozen=True)
class CommandRow:
    name: str
    safety: str
    say: str
    slots: str
    sends: str
    description: str

    def matches(self, query: str) -> bool:
        """Every word of ``query`` is somewhere in the row (name, phrase, slots, functions)."""
        haystack = " ".join((self.name, self.safety, self.say, self.slots, self.sends, self.description)).lower()
        return all(word in haystack for word in query.lower().split())


def command_rows(context: Context, pads: RekordboxConfig) -> list[CommandRow]:
    """Every intent of ``context`` as the screen lists it."""
    from djtui.core.examples import describe_slots, examples
    from djtui.core.rekordbox import PadLayout, describe_sends, plan_export

    try:
        export = plan_export(context, PadLayout.from_config(pads))
    except DjtuiError:
        export = None  # `djtui midi export-rekordbox` says why; the context's own names are shown
    said = examples(context)
    return [CommandRow(name, intent.safety, said[name].text, describe_slots(context, name),
                       describe_sends(context, name, export), intent.description)
            for name, intent in context.intents.items()]


class CommandsScreen(DjtuiScreen):
    TITLE = "commands"
    CSS_PATH = ["../widgets/command_detail.tcss", "commands.tcss"]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "focus('#search')", "Search", tooltip="filter the commands"),
        Binding("e", "focus('#phrase')", "Try phrase", tooltip="type a phrase, enter: its top 5"),
        Binding("escape", "leave_field", "Leave field", show=False, tooltip="leave the field: letters switch screens again"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[CommandRow] = []
        self.resolver: Any = None

    def body(self) -> ComposeResult:
        yield Input(placeholder="/ search commands (name, phrase, slot, function)", id="search")
        yield DataTable(id="intents", cursor_type="row", zebra_stripes=True)
        yield CommandDetail(placeholder="the highlighted command: what to say, its slots, what Rekordbox sees")
        yield Input(placeholder="e: type a phrase, enter: see its top 5", id="phrase")
        yield Static("", id="resolve-state", classes="muted")
        yield CandidateBars(placeholder="top 5 of your phrase appear here")

    def on_mount(self) -> None:
        super().on_mount()
        table = self.query_one(DataTable)
        table.add_columns("command", "safety", "say")
        app = self.app
        try:
            self.rows = command_rows(app.host.context(app.config), app.config.rekordbox)
        except DjtuiError as exc:
            app.show_error(exc, title="Commands")
        self._fill("")
        table.focus()

    def _fill(self, query: str) -> None:
        table = self.query_one(DataTable)
        table.clear()
        for row in self.rows:
            if row.matches(query):
                table.add_row(row.name, row.safety, row.say, key=row.name)
        self._show_detail()

    def _show_detail(self) -> None:
        table = self.query_one(DataTable)
        detail = self.query_one(CommandDetail)
        row = None
        if table.row_count and table.cursor_row is not None:
            name = table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value
            row = next((r for r in self.rows if r.name == name), None)
        if row is None:
            detail.name = ""
            return
        detail.name, detail.safety, detail.description = row.name, row.safety, row.description
        detail.slots, detail.sends = row.slots, row.sends

    @on(DataTable.RowHighlighted)
    def _highlighted(self, _: DataTable.RowHighlighted) -> None:
        self._show_detail()

    @on(Input.Changed, "#search")
    def _search(self, event: Input.Changed) -> None:
        self._fill(event.value)

    @on(Input.Submitted, "#phrase")
    def _try_phrase(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self._state("resolving…" if self.resolver is not None else "loading the resolver (first time only)…")
            self.resolve(event.value.strip())

    @work(thread=True, exclusive=True, group="resolve")
    def resolve(self, phrase: str) -> None:
        app = self.app
        try:
            if self.resolver is None:
                self.resolver = app.host.resolver(app.host.context(app.config), app.config)
            candidates = self.resolver.resolve(phrase, k=5)
        except Exception as exc:  # noqa: BLE001 - shown as a notification
            exc = user_error(exc, "resolving the phrase")
            app.call_from_thread(self._resolve_failed, exc)
            return
        app.call_from_thread(self._show, phrase, candidates)

    def _state(self, text: str) -> None:
        state = self.query_one("#resolve-state", Static)
        state.update(text)
        state.display = bool(text)

    def _show(self, phrase: str, candidates: list[Any]) -> None:
        self._state(f"“{phrase}” means:" if candidates else f"“{phrase}”: no match")
        self.query_one(CandidateBars).rows = tuple((c.label(), float(c.score)) for c in candidates)

    def _resolve_failed(self, error: DjtuiError) -> None:
        self._state(f"cannot resolve: {error.message}")
        self.app.show_error(error, title="Commands")

    def action_leave_field(self) -> None:
        self.query_one(DataTable).focus()
