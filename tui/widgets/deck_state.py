"""Play state of decks 1–4, as the pipeline knows it (Rekordbox feedback, or what djtui sent)."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget


class DeckState(Widget):
    """Four decks side by side; each is ``True`` (playing), ``False`` (paused) or ``None``
    (unknown: no feedback and nothing sent yet)."""

    COMPONENT_CLASSES = {"deck-state--playing", "deck-state--paused", "deck-state--unknown"}

    playing: reactive[tuple[bool | None, ...]] = reactive((None, None, None, None))

    def set_deck(self, deck: int, playing: bool | None) -> None:
        """Deck ``deck`` (1-based) is now playing / paused / unknown."""
        states = list(self.playing)
        if 1 <= deck <= len(states):
            states[deck - 1] = playing
            self.playing = tuple(states)

    def render(self) -> Text:
        cell = max(8, self.size.width // len(self.playing))
        out = Text(no_wrap=True, overflow="crop")
        for deck, state in enumerate(self.playing, start=1):
            word, cls = {True: ("▶ PLAY", "playing"), False: ("❚❚ PAUSE", "paused"), None: ("·  ?", "unknown")}[state]
            label = f" {deck} {word}"
            out.append(f"{label:<{cell - 1}}", self.get_component_rich_style(f"deck-state--{cls}"))
            out.append(" ")
        return out
