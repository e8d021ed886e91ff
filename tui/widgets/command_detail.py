"""One command of the context in full: what it does, its slots, and what Rekordbox will
see when it is said (the list above shows what to say)."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget


class CommandDetail(Widget):
    """Set the facts (plain text, worded by the screen); an empty ``name`` shows
    ``placeholder``. Long lines wrap: nothing is cut off."""

    COMPONENT_CLASSES = {"command-detail--name", "command-detail--label"}

    name: reactive[str] = reactive("", layout=True)
    safety: reactive[str] = reactive("", layout=True)
    description: reactive[str] = reactive("", layout=True)
    slots: reactive[str] = reactive("", layout=True)
    sends: reactive[str] = reactive("", layout=True)

    def __init__(self, placeholder: str = "no command selected", **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.placeholder = placeholder

    def render(self) -> Text:
        if not self.name:
            return Text(self.placeholder)
        label = self.get_component_rich_style("command-detail--label")
        out = Text()
        out.append(self.name, self.get_component_rich_style("command-detail--name"))
        out.append(f" · {self.safety}" + (f" — {self.description}" if self.description else ""))
        for title, value in (("slots", self.slots or "none"), ("sends", self.sends)):
            out.append(f"\n{title} ", label)
            out.append(value)
        return out
