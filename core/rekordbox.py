"""Rekordbox MIDI Learn mapping files (CSV): every voice command mapped in one import.

Rekordbox's MIDI settings import a CSV per device. :func:`export_csv` writes one for the
context's actions in the layout of Rekordbox's own files: ``@file,1,<device>``, a
15-column header, ``# Deck`` and ``# Global`` sections. Deck functions (``channel:
deck``) get one row with the channel-0 code and deck offsets ``0,1,2,3``; functions on a
fixed channel get their full code and no offsets. Toggles (PlayPause, effect on/off) also
get an output code, so Rekordbox reports their state back to djtui's feedback port.

:func:`read_csv` parses such a file back (any Rekordbox mapping file, not only ours).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from djtui.core.context import Context
from djtui.core.errors import DjtuiError
from djtui.core.fileio import write_text_atomic
from djtui.core.midi import DECKS

HEADER = ("#name", "function", "type", "input", "deck1", "deck2", "deck3", "deck4",
          "output", "deck1", "deck2", "deck3", "deck4", "option", "comment")
COLUMNS = len(HEADER)
ROTARY_FUNCTIONS = frozenset({"Browse"})
"""CC functions that are endless encoders (relative: 1 = down, 127 = up), not faders."""
BUTTON_OPTIONS = "Fast;Priority=50"
DECK_OFFSETS = tuple(str(d) for d in range(DECKS))


@dataclass(frozen=True)
class MappingRow:
    """One data row of a mapping file; codes are ``SSDD`` hex strings or empty."""

    name: str
    function: str
    type: str
    input: str
    input_decks: tuple[str, ...]
    output: str = ""
    output_decks: tuple[str, ...] = ("", "", "", "")
    option: str = ""
    comment: str = ""

    @property
    def per_deck(self) -> bool:
        return any(self.input_decks)

    def cells(self) -> list[str]:
        return [self.name, self.function, self.type, self.input, *self.input_decks,
                self.output, *self.output_decks, self.option, self.comment]


@dataclass(frozen=True)
class Mapping:
    device: str
    rows: list[MappingRow]


def code(status: int, channel: int, number: int) -> str:
    """``code(0x90, 0, 11) == "900B"``: status nibble and channel, then the data byte."""
    return f"{(status & 0xF0) | channel:02X}{number:02X}"


def decode(text: str) -> tuple[int, int, int]:
    """``"B640"`` -> ``(0xB0, 6, 64)``: status, channel, note or CC number."""
    value = int(text, 16)
    return value >> 8 & 0xF0, value >> 8 & 0x0F, value & 0xFF


def mapping_rows(context: Context) -> list[MappingRow]:
    """One row per distinct (function, MIDI code), deck rows first, in context order.

    Intents that press the same control (``play`` and ``pause`` both press PlayPause)
    share one row. Two different functions on one MIDI code would make Rekordbox do
    both, so that is a :class:`DjtuiError`.
    """
    rows: dict[tuple[str, str, str, bool], MappingRow] = {}
    labels: dict[tuple[str, str, str, bool], list[str]] = {}
    owner: dict[tuple[int, int, int], str] = {}
    slot_values = {name: list(t.values) for name, t in context.slot_types.items()}
    for intent in context.intents.values():
        action = intent.action
        if action is None:
            continue
        slots = {s.name: s.type for e in intent.expressions for s in e.slots()}
        keys = action.keys({n: slot_values[t] for n, t in slots.items()}) or [None]
        for key in keys:
            function = action.function_map[key] if key is not None and action.function_map else action.function
            number = action.number_map[key] if key is not None and action.number_map else action.number
            assert number is not None
            per_deck = action.channel is None
            channel = 0 if per_deck else action.channel
            assert channel is not None
            status = 0x90 if action.type == "note" else 0xB0
            for ch in (range(DECKS) if per_deck else (channel,)):
                other = owner.setdefault((status, ch, number), function)
                if other != function:
                    kind = "note" if status == 0x90 else "CC"
                    raise DjtuiError(
                        f"{context.name}: {function} and {other} both use {kind} {number} on MIDI channel {ch + 1}",
                        "give one of them another number in the context file",
                    )
            input_code = code(status, channel, number)
            row_key = (function, action.type, input_code, per_deck)
            labels.setdefault(row_key, [])
            label = f"{intent.name} {key}" if key is not None else intent.name
            if label not in labels[row_key]:
                labels[row_key].append(label)
            if row_key in rows:
                continue
            decks = DECK_OFFSETS if per_deck else ("", "", "", "")
            feedback = action.toggle is not None and action.type == "note"
            kind = "Button" if action.type == "note" else ("Rotary" if function in ROTARY_FUNCTIONS else "KnobSlider")
            rows[row_key] = MappingRow(
                name=function,
                function=function,
                type=kind,
                input=input_code,
                input_decks=decks,
                output=input_code if feedback else "",
                output_decks=decks if feedback else ("", "", "", ""),
                option=BUTTON_OPTIONS if kind == "Button" else "",
            )
    out = [replace(row, comment=_cell("djtui: " + " / ".join(labels[k]))) for k, row in rows.items()]
    return [r for r in out if r.per_deck] + [r for r in out if not r.per_deck]


def _cell(text: str) -> str:
    """Rekordbox's files carry no CSV quoting: keep separators out of free text."""
    return " ".join(text.replace(",", ";").replace('"', "'").split())


def render_csv(context: Context, device_name: str = "djtui") -> str:
    if not device_name or any(c in device_name for c in ',\r\n"'):
        raise DjtuiError(f"device name {device_name!r} cannot go in a mapping file",
                         "use a name without commas, quotes or line breaks")
    rows = mapping_rows(context)
    if not rows:
        raise DjtuiError(f"context '{context.name}' has no intent with a MIDI action",
                         "add 'action:' to its intents, or export another context")
    blank = "," * (COLUMNS - 1)
    lines = [f"@file,1,{device_name}", ",".join(HEADER)]
    for title, section in (("# Deck", [r for r in rows if r.per_deck]), ("# Global", [r for r in rows if not r.per_deck])):
        if not section:
            continue
        if len(lines) > 2:
            lines.append(blank)
        lines.append(title + blank)
        lines.extend(",".join(r.cells()) for r in section)
    return "\n".join(lines) + "\n"


def export_csv(context: Context, path: str | Path, device_name: str = "djtui") -> Path:
    """Write the context's mapping for Rekordbox to ``path`` (atomically: an existing
    file is replaced whole or not at all)."""
    return write_text_atomic(path, render_csv(context, device_name))


def read_csv(path: str | Path) -> Mapping:
    """Parse a Rekordbox mapping file; section and blank rows are skipped."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DjtuiError(f"{path}: cannot read ({exc})", "give the path of a Rekordbox mapping CSV") from None
    lines = text.splitlines()
    if not lines or not lines[0].startswith("@file,"):
        raise DjtuiError(f"{path}:1: not a Rekordbox mapping file (no '@file,1,<device>' line)",
                         "export it from Rekordbox's MIDI settings or with `djtui midi export-rekordbox`")
    head = lines[0].split(",")
    device = head[2] if len(head) > 2 else ""
    if len(lines) < 2 or tuple(lines[1].split(",")) != HEADER:
        raise DjtuiError(f"{path}:2: the header is not Rekordbox's 15 columns", ",".join(HEADER))
    rows = []
    for number, line in enumerate(lines[2:], start=3):
        cells = line.split(",")
        if len(cells) != COLUMNS:
            raise DjtuiError(f"{path}:{number}: {len(cells)} columns, expected {COLUMNS}", "every row has 15 cells")
        if not any(cells) or (cells[0].startswith("#") and not cells[1]):
            continue
        rows.append(MappingRow(cells[0], cells[1], cells[2], cells[3], tuple(cells[4:8]),
                               cells[8], tuple(cells[9:13]), cells[13], cells[14]))
    return Mapping(device, rows)
