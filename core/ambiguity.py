"""Near-collisions in a context: sentences of different commands that say, or sound, the
same.

No confidence can tell apart two commands the grammar writes the same way ("filter on
deck two" as colour FX on deck 2 and as the filter effect): the grammar search finds both
readings with the same score, and the gate refuses them as ambiguous every time. Nearly
the same is the next worst: one sound apart ("deck b" and "deck d") is what music
blurs first. :func:`ambiguities` finds them, three kinds, worst first:

- ``identical``: one sentence, two commands (different intents, or slot values);
- ``homophones``: different words, the same sounds (CMUdict phonemes, stress ignored);
- ``one sound apart``: one phoneme substituted, added or dropped, grouped by the words
  that differ, so "b / d" is reported once, not once per sentence it occurs in.

Every sentence is compared when the context has at most :data:`EXHAUSTIVE` of them; a
bigger one (coffee_maker has 120 million) is sampled, and the report says so.
"""

from __future__ import annotations

import difflib
import random
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from djtui.core.records import CommandKey

if TYPE_CHECKING:
    from djtui.core.context import Context, Sentence

EXHAUSTIVE = 200_000
"""Contexts with at most this many sentences are compared whole."""
SAMPLE = 20_000
"""Sentences drawn from a bigger context."""
MIN_PHONEMES = 6
"""One sound apart counts only between sentences at least this long: in two-word commands
a sound is a word."""


@dataclass(frozen=True)
class Ambiguity:
    """Two commands a sentence of each makes (nearly) the same: ``kind`` (see the module),
    an example sentence of each, the two commands, the words that differ, and ``count``,
    the pairs of sentences found like it."""

    kind: str
    sentences: tuple[str, str]
    commands: tuple[CommandKey, CommandKey]
    differ: tuple[str, str]
    count: int = 1


@dataclass(frozen=True)
class Found:
    ambiguities: list[Ambiguity]
    sentences: int
    """How many sentences were compared."""
    exhaustive: bool


def ambiguities(context: Context, seed: int = 0) -> Found:
    """The context's near-collisions, worst first (see the module)."""
    from djtui.core.phonetic import normalize, word_phonemes

    size = context.size()
    exhaustive = size <= EXHAUSTIVE
    sentences = list(context.expand()) if exhaustive else _sample(context, seed)
    by_words: dict[tuple[str, ...], dict[CommandKey, str]] = defaultdict(dict)
    for s in sentences:
        by_words[tuple(normalize(s.text))].setdefault(_key(s), s.text)
    found: list[Ambiguity] = []
    if not exhaustive:  # a sampled sentence may mean more than the command it was drawn for
        from djtui.core.grammar_search import WordGraph

        graph = WordGraph.compile(context)
        for words, meant in by_words.items():
            for intent, labels in graph.meanings(words):
                meant.setdefault((intent, tuple(sorted(labels))), " ".join(words))
    for words, meant in by_words.items():
        keys = sorted(meant)
        for a, b in zip(keys, keys[1:]):
            found.append(Ambiguity("identical", (meant[a], meant[b]), (a, b), ("", "")))

    def sounds(words: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(p for w in words for p in word_phonemes(w))

    by_sound: dict[tuple[str, ...], list[tuple[tuple[str, ...], CommandKey]]] = defaultdict(list)
    for words, meant in by_words.items():
        for key in meant:
            by_sound[sounds(words)].append((words, key))
    for heard in by_sound.values():
        for (w1, k1), (w2, k2) in _pairs(heard):
            if w1 != w2:
                found.append(Ambiguity("homophones", (" ".join(w1), " ".join(w2)), (k1, k2), _differ(w1, w2)))
    found += _one_sound_apart(by_sound)
    rank = {"identical": 0, "homophones": 1, "one sound apart": 2}
    return Found(sorted(found, key=lambda a: (rank[a.kind], -a.count, a.sentences)), len(sentences), exhaustive)


def _key(sentence: Sentence) -> CommandKey:
    return sentence.intent, tuple(sorted(sentence.slots.items()))


def _sample(context: Context, seed: int) -> list[Sentence]:
    return context.sample(SAMPLE, random.Random(seed))


def _pairs(items: list[tuple[tuple[str, ...], CommandKey]]) -> list[tuple]:
    """Pairs of different commands among ``items`` (one per pair of commands)."""
    seen, out = set(), []
    for n, (w1, k1) in enumerate(items):
        for w2, k2 in items[n + 1:]:
            if k1 != k2 and (k1, k2) not in seen:
                seen.add((k1, k2))
                out.append(((w1, k1), (w2, k2)))
    return out


def _differ(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, str]:
    """The words ``a`` has where ``b`` has others (what tells the two apart); words that
    sound the same ("thru", "through") do not differ."""
    from djtui.core.phonetic import word_phonemes

    matcher = difflib.SequenceMatcher(a=[word_phonemes(w) for w in a], b=[word_phonemes(w) for w in b],
                                      autojunk=False)
    left, right = [], []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op != "equal":
            left += a[i1:i2]
            right += b[j1:j2]
    return " ".join(left), " ".join(right)


def _one_sound_apart(by_sound: dict[tuple[str, ...], list[tuple[tuple[str, ...], CommandKey]]]) -> list[Ambiguity]:
    """Sentences of different commands one phoneme apart, grouped by the words that differ
    (symmetric deletion: two strings one edit apart share a string with one phoneme
    deleted, or one is the other with one deleted)."""
    from rapidfuzz.distance import Levenshtein

    neighbours: dict[tuple[str, ...], list[tuple[str, ...]]] = defaultdict(list)
    for sound in by_sound:
        if len(sound) >= MIN_PHONEMES:
            neighbours[sound].append(sound)
            for n in range(len(sound)):
                neighbours[sound[:n] + sound[n + 1:]].append(sound)
    groups: dict[tuple[str, str], list[tuple]] = defaultdict(list)
    done: set[tuple[tuple[str, ...], tuple[str, ...]]] = set()
    for near in neighbours.values():
        for n, s1 in enumerate(near):
            for s2 in near[n + 1:]:
                if s1 == s2 or (s1, s2) in done:
                    continue
                done.add((s1, s2))
                if Levenshtein.distance(s1, s2) > 1:  # both with one deleted: two apart
                    continue
                for (w1, k1), (w2, k2) in ((x, y) for x in by_sound[s1] for y in by_sound[s2]):
                    if k1 != k2 and w1 != w2:
                        differ = _differ(w1, w2)
                        groups[tuple(sorted(differ))].append(((w1, k1), (w2, k2), differ))
    out = []
    for examples in groups.values():
        (w1, k1), (w2, k2), differ = min(examples, key=lambda e: (len(e[0][0]), e[0][0]))
        out.append(Ambiguity("one sound apart", (" ".join(w1), " ".join(w2)), (k1, k2), differ, len(examples)))
    return out
