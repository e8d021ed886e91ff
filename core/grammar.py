"""The expression grammar of contexts (Picovoice Rhino's, which djtui extends only in data).

    [play, start] (the) $deck:deck (deck)

- ``[a, b c, d]`` one of the alternatives (each a phrase, may hold slots);
- ``(words)`` optional; ``(a, b)`` optionally one of them;
- ``$type:name`` a slot of type ``type`` stored under ``name`` (``$type`` alone: name = type).

:func:`parse` turns a string into a small tree; everything else (expansion, matching)
walks that tree. An expression is at most :data:`MAX_EXPRESSION_CHARS` long with brackets
nested at most :data:`MAX_NESTING` deep, so every walk over the tree is bounded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_EXPRESSION_CHARS = 1000
"""The longest expression in Picovoice's coffee_maker is 228 characters; a spoken command
is one sentence."""
MAX_NESTING = 8
"""Brackets inside brackets: the bundled contexts need 2; deeper is unreadable to people."""

_TOKEN = re.compile(r"\s*(?:(?P<open>[\[(])|(?P<close>[\])])|(?P<comma>,)|(?P<slot>\$[A-Za-z_][\w]*(?::[A-Za-z_][\w]*)?)|(?P<word>[^\s\[\]\(\),$]+))")


@dataclass(frozen=True)
class Word:
    text: str


@dataclass(frozen=True)
class Slot:
    type: str
    name: str


@dataclass(frozen=True)
class Choice:
    """One of ``options``; with ``optional`` also none of them."""

    options: tuple[Seq, ...]
    optional: bool


@dataclass(frozen=True)
class Seq:
    items: tuple[Word | Slot | Choice, ...]

    def slots(self) -> list[Slot]:
        found: list[Slot] = []
        for item in self.items:
            if isinstance(item, Slot):
                found.append(item)
            elif isinstance(item, Choice):
                for option in item.options:
                    found.extend(option.slots())
        return found


class GrammarError(ValueError):
    """A malformed expression; the message says what and where (column)."""


def normalize_word(word: str) -> str:
    return word.lower().strip()


def parse(expression: str) -> Seq:
    """Parse one expression; raises :class:`GrammarError` with a readable message."""
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise GrammarError(f"expression too long ({len(expression):,} characters; at most {MAX_EXPRESSION_CHARS:,})")
    tokens: list[tuple[str, str, int]] = []
    pos = 0
    text = expression.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise GrammarError(f"unexpected {text[pos:].strip()[:1]!r} at column {pos + 1}")
        kind = m.lastgroup or ""
        tokens.append((kind, m.group(kind), m.start(kind) + 1))
        pos = m.end()
    seq, end = _parse_seq(tokens, 0, closer=None, depth=0)
    if end != len(tokens):
        kind, value, col = tokens[end]
        raise GrammarError(f"unbalanced {value!r} at column {col}")
    if not seq.items:
        raise GrammarError("empty expression")
    return seq


def _parse_seq(tokens: list[tuple[str, str, int]], i: int, closer: str | None, depth: int) -> tuple[Seq, int]:
    items: list[Word | Slot | Choice] = []
    while i < len(tokens):
        kind, value, col = tokens[i]
        if kind == "word":
            items.append(Word(normalize_word(value)))
            i += 1
        elif kind == "slot":
            type_, _, name = value[1:].partition(":")
            items.append(Slot(type_, name or type_))
            i += 1
        elif kind == "open":
            if depth >= MAX_NESTING:
                raise GrammarError(f"{value!r} at column {col} nests brackets deeper than {MAX_NESTING}")
            want = "]" if value == "[" else ")"
            options: list[Seq] = []
            i += 1
            while True:
                option, i = _parse_seq(tokens, i, closer=want, depth=depth + 1)
                if not option.items:
                    raise GrammarError(f"empty alternative in {value}…{want} at column {col}")
                options.append(option)
                if i >= len(tokens):
                    raise GrammarError(f"{value!r} at column {col} is never closed")
                k, v, _ = tokens[i]
                i += 1
                if k == "close":
                    if v != want:
                        raise GrammarError(f"{value!r} at column {col} closed by {v!r}")
                    break
            items.append(Choice(tuple(options), optional=value == "("))
        elif kind == "comma":
            if closer is None:
                raise GrammarError(f"',' outside [ ] or ( ) at column {col}")
            return Seq(tuple(items)), i
        else:  # close
            if closer is None:
                raise GrammarError(f"unbalanced {value!r} at column {col}")
            return Seq(tuple(items)), i
    return Seq(tuple(items)), i


def count(seq: Seq, slot_sizes: dict[str, int]) -> int:
    """How many sentences ``seq`` expands to, given each slot type's number of phrasings."""
    total = 1
    for item in seq.items:
        if isinstance(item, Word):
            continue
        if isinstance(item, Slot):
            total *= max(slot_sizes.get(item.type, 1), 1)
        else:
            total *= sum(count(o, slot_sizes) for o in item.options) + (1 if item.optional else 0)
    return total
