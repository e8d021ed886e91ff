"""What a person would say: one example sentence per command of a context, and its slots.

The example is one of the context's own sentences, picked by a rule rather than at
random (a random one reads "let the a deck play", "restart deck third", "jump back one
beats on deck two"). In order:

1. **Natural**: no slot phrase that reads wrongly where it stands (:func:`oddities`):
   two articles in a row ("the a deck"); a bare number or letter after "the" or a
   preposition ("the one deck", "to a"); an ordinal without "the" ("deck third"); "a"
   before a vowel ("a eight beat loop"); a one-quantity before a plural ("one beats");
   two prepositions in a row ("on for deck one").
2. **The author's order**: among natural sentences, the first expression, the first
   option of every choice and optional words kept, then the first slot values and
   phrasings: how the context's author wrote the command first ("play deck one").
   Slot values give way before choices do, so "jump forward two beats" comes before
   dropping "beats".
3. **Understood** (given a resolver, the text resolver of :mod:`djtui.core.resolve`):
   the resolver maps the sentence back to the same command as its best reading.

The shortest sentence is not the rule: it is telegraphic ("loop eight one").
Pure functions over a :class:`~djtui.core.context.Context`; the TUI's Commands screen and
``djtui contexts show`` both use them.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from djtui.core.context import Context, Sentence
from djtui.core.grammar import Choice, Seq, Slot, Word

PHRASINGS_LOOKED_AT = 50_000
"""Phrasings of one intent looked at for a natural one (the DJ context finds each within
a few hundred; a context of millions of sentences still answers at once)."""
RESOLVER_CHECKS = 12
"""Natural sentences offered to the resolver before the first natural one is taken."""

ARTICLES = frozenset({"a", "an", "the"})
PREPOSITIONS = frozenset({"on", "to", "for", "in", "into", "at", "of", "from", "with", "onto"})
PARTICLES = frozenset({"in"})
"""Prepositions that are also the particle of a phrasal verb ("loop in on deck one")."""
NUMBER_WORDS = frozenset({
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
    "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty", "thirty",
    "forty", "fifty", "sixty", "seventy", "eighty", "ninety", "hundred",
})
ORDINALS = frozenset({"first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth"})
ONE_QUANTITY = frozenset({"one", "a", "an", "single", "half", "quarter"})
"""Last words of a phrase meaning one of something (or less): a plural after it disagrees."""
CONSONANT_SOUNDING = ("one", "once", "uni", "use", "usu", "eu")
"""Words spelled with a vowel that take "a", not "an"."""


@dataclass(frozen=True)
class _Piece:
    """One word of the grammar, or one slot phrase (``slot`` set: its name and value)."""

    words: tuple[str, ...]
    slot: tuple[str, str] | None = None


def _skeletons(seq: Seq) -> Iterator[tuple[Word | Slot, ...]]:
    """Every way through ``seq``'s choices, words and slots left: the first option of
    every choice first, an optional one left out last (the author's order)."""
    def alternatives(item: Word | Slot | Choice) -> list[tuple[Word | Slot, ...]]:
        if not isinstance(item, Choice):
            return [(item,)]
        out = [skeleton for option in item.options for skeleton in _skeletons(option)]
        return out + [()] if item.optional else out

    for combo in itertools.product(*(alternatives(item) for item in seq.items)):
        yield tuple(part for parts in combo for part in parts)


def _phrasings(skeleton: tuple[Word | Slot, ...], context: Context) -> Iterator[tuple[_Piece, ...]]:
    """Every filling of a skeleton's slots: first values and phrasings first."""
    def alternatives(item: Word | Slot) -> list[_Piece]:
        if isinstance(item, Word):
            return [_Piece((item.text,))]
        return [_Piece(tuple(phrase.split()), (item.name, value))
                for value, phrases in context.slot_types[item.type].values.items() for phrase in phrases]

    yield from itertools.product(*(alternatives(item) for item in skeleton))


def _sentence(pieces: tuple[_Piece, ...], intent: str) -> Sentence:
    slots = {p.slot[0]: p.slot[1] for p in pieces if p.slot is not None}
    return Sentence(" ".join(w for p in pieces for w in p.words), intent, slots)


def _bare(words: tuple[str, ...]) -> bool:
    """A number or a letter standing alone ("one", "thirty two", "a", "c", "7")."""
    return all(w in NUMBER_WORDS or w.isdigit() for w in words) or (len(words) == 1 and len(words[0]) == 1)


def _plural(word: str) -> bool:
    return len(word) > 2 and word.endswith("s") and not word.endswith("ss")


def oddities(pieces: tuple[_Piece, ...]) -> list[str]:
    """What reads wrongly in a phrasing (rule 1 of the module docstring), one line each."""
    found = []
    words = [(w, piece, j) for piece in pieces for j, w in enumerate(piece.words)]
    for (before, _, _), (after, piece, j) in itertools.pairwise(words):
        first_of_slot = piece.slot is not None and j == 0
        if before in ARTICLES and after in ARTICLES:
            found.append(f"two articles: {before} {after}")
        if before == "a" and after[0] in "aeiou" and not after.startswith(CONSONANT_SOUNDING):
            found.append(f"a before a vowel: a {after}")
        if first_of_slot and (before == "the" or before in PREPOSITIONS) and _bare(piece.words):
            found.append(f"a bare number or letter after {before!r}: {before} {' '.join(piece.words)}")
        if before in PREPOSITIONS - PARTICLES and after in PREPOSITIONS - PARTICLES:
            found.append(f"two prepositions: {before} {after}")
    for i, piece in enumerate(pieces):
        if piece.slot is None:
            continue
        previous = pieces[i - 1].words[-1] if i and pieces[i - 1].words else ""
        if piece.words[0] in ORDINALS and previous != "the":
            found.append(f"an ordinal without 'the': {previous} {piece.words[0]}".strip())
        following = next((p.words[0] for p in pieces[i + 1:] if p.words), "")
        if piece.words[-1] in ONE_QUANTITY and _plural(following):
            found.append(f"one of something before a plural: {' '.join(piece.words)} {following}")
    return found


def _natural(context: Context, intent: str) -> Iterator[Sentence]:
    """The intent's natural sentences in the author's order (rules 1 and 2): expression
    by expression, choices before slot values, so "jump forward two beats" comes before
    dropping "beats". Ends after :data:`PHRASINGS_LOOKED_AT` phrasings."""
    looked_at = 0
    for expression in context.intents[intent].expressions:
        for skeleton in _skeletons(expression):
            for pieces in _phrasings(skeleton, context):
                looked_at += 1
                if looked_at > PHRASINGS_LOOKED_AT:
                    return
                if not oddities(pieces):
                    yield _sentence(pieces, intent)


def example(context: Context, intent: str, resolver: Any = None) -> Sentence:
    """The sentence to show for ``intent``: natural, the author's first way of saying it,
    and (given a :class:`~djtui.core.resolve.Resolver`) understood as that very command.
    A context with nothing natural to say gets its first sentence."""
    natural = list(itertools.islice(_natural(context, intent), RESOLVER_CHECKS if resolver is not None else 1))
    if resolver is not None:
        for sentence in natural:
            best = resolver.resolve(sentence.text, k=1)
            if best and (best[0].intent, best[0].slots) == (intent, sentence.slots):
                return sentence
    if natural:
        return natural[0]
    expression = context.intents[intent].expressions[0]
    return _sentence(next(_phrasings(next(_skeletons(expression)), context)), intent)


def examples(context: Context, resolver: Any = None) -> dict[str, Sentence]:
    """:func:`example` for every intent, in the context's order."""
    return {name: example(context, name, resolver) for name in context.intents}


def slots_of(context: Context, intent: str) -> dict[str, tuple[str, ...]]:
    """The slots ``intent`` takes and the values each can have, in the order its
    expressions name them: ``{"beats": ("1/4", …, "32"), "deck": ("1", "2", "3", "4")}``."""
    found: dict[str, tuple[str, ...]] = {}
    for expression in context.intents[intent].expressions:
        for slot in expression.slots():
            found.setdefault(slot.name, tuple(context.slot_types[slot.type].values))
    return found


def describe_slots(context: Context, intent: str) -> str:
    """``"beats (1/4 1/2 1 2 4 8 16 32) · deck (1 2 3 4)"``; ``""`` for a command
    without slots. Values of more than one word are separated by commas."""
    def values(of: tuple[str, ...]) -> str:
        return (", " if any(" " in v for v in of) else " ").join(of)

    return " · ".join(f"{name} ({values(of)})" for name, of in slots_of(context, intent).items())

