"""Text in large letters (three rows per letter) for a prompt read from a metre away."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

# A 3×3 font in box-drawing characters, the style of Textual's Digits, for letters too.
GLYPHS: dict[str, tuple[str, str, str]] = {
    "A": ("╭─╮", "├─┤", "╵ ╵"), "B": ("┌─╮", "├─┤", "└─╯"), "C": ("╭─╴", "│  ", "╰─╴"),
    "D": ("┌─╮", "│ │", "└─╯"), "E": ("┌─╴", "├─ ", "└─╴"), "F": ("┌─╴", "├─ ", "╵  "),
    "G": ("╭─╴", "│╶╮", "╰─╯"), "H": ("╷ ╷", "├─┤", "╵ ╵"), "I": ("╶┬╴", " │ ", "╶┴╴"),
    "J": ("  ╷", "  │", "╰─╯"), "K": ("╷ ╱", "├┤ ", "╵ ╲"), "L": ("╷  ", "│  ", "└─╴"),
    "M": ("╭┬╮", "│││", "╵╵╵"), "N": ("╭─╮", "│ │", "╵ ╵"), "O": ("╭─╮", "│ │", "╰─╯"),
    "P": ("┌─╮", "├─╯", "╵  "), "Q": ("╭─╮", "│ │", "╰─╲"), "R": ("┌─╮", "├┬╯", "╵╰╴"),
    "S": ("╭─╴", "╰─╮", "╶─╯"), "T": ("╶┬╴", " │ ", " ╵ "), "U": ("╷ ╷", "│ │", "╰─╯"),
    "V": ("╷ ╷", "╲ ╱", " ╵ "), "W": ("╷╷╷", "│││", "╰┴╯"), "X": ("╲ ╱", " ╳ ", "╱ ╲"),
    "Y": ("╷ ╷", "╰┬╯", " ╵ "), "Z": ("╶─┐", " ╱ ", "└─╴"),
    "0": ("╭─╮", "│╱│", "╰─╯"), "1": ("╶┐ ", " │ ", "╶┴╴"), "2": ("╶─╮", "╭─╯", "╰─╴"),
    "3": ("╶─╮", " ─┤", "╶─╯"), "4": ("╷ ╷", "╰─┤", "  ╵"), "5": ("┌─╴", "╰─╮", "╶─╯"),
    "6": ("╭─╴", "├─╮", "╰─╯"), "7": ("╶─┐", "  │", "  ╵"), "8": ("╭─╮", "├─┤", "╰─╯"),
    "9": ("╭─╮", "╰─┤", "╶─╯"), "'": (" ╷ ", "   ", "   "), "/": ("  ╱", " ╱ ", "╱  "),
    "-": ("   ", "╶─╴", "   "), " ": ("   ", "   ", "   "),
}
UNKNOWN = ("╶─╮", " ╭╯", " ╵ ")
CELL = 4
"""Columns per letter: three for the glyph, one between letters."""


def wrap_words(text: str, per_line: int) -> list[str]:
    """Greedy word wrap to ``per_line`` characters (a longer word gets a line of its own)."""
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= per_line:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines


def big_lines(text: str, width: int) -> list[str] | None:
    """``text`` as rows of large letters fitting ``width`` columns, or ``None`` if a word
    is too long for large letters at this width."""
    per_line = max(1, (width + 1) // CELL)
    lines = wrap_words(text.upper(), per_line)
    if any(len(line) > per_line for line in lines):
        return None
    rows: list[str] = []
    for n, line in enumerate(lines):
        if n:
            rows.append("")
        for row in range(3):
            rows.append(" ".join(GLYPHS.get(ch, UNKNOWN)[row] for ch in line))
    return rows


class BigText(Widget):
    """Set :attr:`text`; it is drawn in large letters, centred, wrapping at word breaks;
    plain bold text when even one word would not fit."""

    text: reactive[str] = reactive("", layout=True)

    def get_content_height(self, container: object, viewport: object, width: int) -> int:
        rows = big_lines(self.text, width)
        return len(rows) if rows is not None else max(1, len(wrap_words(self.text, max(1, width))))

    def render(self) -> Text:
        rows = big_lines(self.text, self.size.width)
        if rows is None:
            return Text(self.text.upper(), justify="center", style="bold")
        return Text("\n".join(rows), justify="center", no_wrap=True)
