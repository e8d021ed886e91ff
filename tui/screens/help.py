"""Keys: every key of every screen, read from the bindings themselves so it can never
disagree with what the keys do. ``?`` or ``F1`` opens it anywhere; ``esc``, ``?``, ``F1``
or ``q`` closes it."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from djtui.tui.keys import PALETTE_KEY, SCREENS

KeyRows = list[tuple[str, str]]


def binding_rows(bindings: Iterable[BindingType], key_display: Callable[[Binding], str]) -> KeyRows:
    """``(keys, what they do)`` for ``bindings``: a binding's tooltip, else its
    description; the bindings of one :class:`Binding.Group` share a row; keys bound to
    the app's own actions (arm, panic) are left to the app's rows."""
    rows: KeyRows = []
    groups: dict[Binding.Group, int] = {}
    last_action = None
    keys_seen: set[str] = set()
    for binding in Binding.make_bindings(bindings):
        if binding.action.startswith("app.") or binding.key in keys_seen:
            continue  # a key's second binding (Live's p without push-to-talk) is the same key
        keys_seen.add(binding.key)
        key = key_display(binding)
        if binding.group is not None and binding.group in groups:
            keys, what = rows[groups[binding.group]]
            rows[groups[binding.group]] = (f"{keys} {key}", what)
        elif binding.action == last_action:  # another key for the same thing (x and F12)
            rows[-1] = (f"{rows[-1][0]}, {key}", rows[-1][1])
        else:
            if binding.group is not None:
                groups[binding.group] = len(rows)
            rows.append((key, binding.group.description if binding.group else binding.tooltip or binding.description))
        last_action = binding.action
    return [(_digit_range(keys), what) for keys, what in rows]


def _digit_range(keys: str) -> str:
    """``"1 2 3 4 5"`` → ``"1–5"``; anything else as it is."""
    parts = keys.split()
    numbers = [int(p) for p in parts if p.isdigit()]
    if len(parts) > 2 and len(numbers) == len(parts) and numbers == list(range(numbers[0], numbers[-1] + 1)):
        return f"{numbers[0]}–{numbers[-1]}"
    return keys


def key_sections(app: App[Any]) -> list[tuple[str, KeyRows]]:
    """What the help screen lists: the keys that work everywhere, then each screen's own."""
    everywhere = binding_rows((b for b in app.BINDINGS if not (isinstance(b, Binding) and b.action.startswith("switch_mode"))),
                              app.get_key_display)
    screens = [(key, f"{mode.capitalize()}: {why}") for mode, (key, why) in SCREENS.items()]
    palette = [(app.get_key_display(Binding(PALETTE_KEY, "command_palette")), "every action, searchable (type a word)")]
    sections = [("Everywhere", screens + everywhere + palette)]
    for mode in SCREENS:
        screen = app.MODES[mode]
        rows = binding_rows(vars(screen).get("BINDINGS", []), app.get_key_display)  # its own, not Screen's
        if rows:
            sections.append((mode.capitalize(), rows))
    return sections


class HelpScreen(ModalScreen[None]):
    """The keys of every screen, over whatever is showing."""

    CSS_PATH = "help.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,f1,q", "dismiss", "Close", tooltip="close the keys"),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body"):
            yield Static("Keys · esc closes", classes="screen-title")
            for title, rows in key_sections(self.app):
                yield Static(title, classes="section-title")
                yield Static(self._table(rows), classes="help-keys")

    @staticmethod
    def _table(rows: KeyRows) -> Table:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True, min_width=7)
        table.add_column()
        for keys, what in rows:
            table.add_row(Text(keys), Text(what))
        return table
