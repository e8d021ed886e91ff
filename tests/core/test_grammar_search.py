"""The grammar search: the context as a word automaton of bounded size, Whisper's
spellings of its words, and a beam search over the decoder that only ever writes
sentences of the grammar."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from djtui.core.context_file import default_context, load_context, parse_context
from djtui.core.grammar_search import Determinised, GrammarSearch, WordGraph, commands, number_spelling, spellings
from djtui.core.phonetic import normalize

COFFEE = Path(__file__).resolve().parents[1] / "data" / "coffee_maker.yaml"


@pytest.mark.parametrize("context", ["dj", "coffee_maker"])
def test_the_automaton_compiles_in_bounded_time_and_memory(context):
    ctx = default_context() if context == "dj" else load_context(COFFEE)
    tracemalloc.start()
    graph = WordGraph.compile(ctx)
    states = Determinised(graph)
    # walk every word of every reachable set two levels deep, as a search would
    for moves in list(states.next_words(states.start).values()):
        for _, after in moves:
            states.next_words(after)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 20 * 2**20  # coffee_maker makes 120 million sentences; its automaton stays small
    assert graph.size < 20_000
    assert ctx.size() > graph.size or context == "dj"


def test_meanings_read_slot_values_and_intents_off_the_path():
    graph = WordGraph.compile(default_context())
    assert graph.meanings("loop eight on the left deck".split()) == {("loop", (("beats", "8"), ("deck", "1")))}
    assert graph.meanings("play deck one".split()) == {("play", (("deck", "1"),))}
    assert graph.meanings("what a tune".split()) == set()
    assert graph.meanings("play deck".split()) == set()  # a prefix is not a sentence


def test_whisper_spellings_of_grammar_words():
    assert spellings("loop") == ["loop", "Loop"]
    assert spellings("eq") == ["eq", "Eq", "EQ"]
    assert spellings("eight") == ["eight", "Eight", "8"]
    assert number_spelling(("thirty", "two")) == "32" and number_spelling(("a", "quarter")) == "1/4"
    assert number_spelling(("deck",)) is None


class _Scripted:
    """A decoder stand-in that prefers, at every step, the next token of ``wanted``
    (log-prob 0) over everything else (-5): enough to drive the search's bookkeeping."""

    max_length = 448

    def __init__(self, tokenizer, wanted: str) -> None:
        self.wanted = tokenizer.encode(wanted) + [tokenizer.eot]
        self.vocab = 51864

    def _row(self, length: int) -> np.ndarray:
        row = np.full(self.vocab, -5.0)
        if length < len(self.wanted):
            row[self.wanted[length]] = 0.0
        return row

    def start(self, prompt, cross):
        return self._row(0), _State([()])

    def step(self, tokens, state, cross):
        grown = [state.rows[0] + (t,) for t in tokens] if len(state.rows) == 1 else [r + (t,) for r, t in zip(state.rows, tokens)]
        return np.stack([self._row(len(r)) for r in grown]), _State(grown)


class _State:
    def __init__(self, rows):
        self.rows = rows

    def select(self, index):
        return _State([self.rows[i] for i in index])


@pytest.fixture(scope="module")
def tokenizer(whisper_engine):
    return whisper_engine.tokenizer


@pytest.mark.parametrize("said, meaning", [
    (" Loop 8 on the left deck.", ("loop", {"beats": "8", "deck": "1"})),
    (" pause deck four", ("pause", {"deck": "4"})),
    (" Kill the bass on the right.", ("eq_kill", {"band": "low", "deck": "2"})),
    (" Fade in the right deck over 8 bars.", ("fade_in", {"deck": "2", "duration": "8 bars"})),
    (" Crossfade to the left over 16 beats.", ("crossfader_to", {"xfade": "0", "duration": "16 beats"})),
    (" tempo plus 2 on the left", ("tempo_by", {"way": "up", "percent": "2", "deck": "1"})),
    (" A little more filter on the left.", ("knob_by", {"amount": "0.05", "way": "more", "knob": "filter",
                                                        "deck": "1"})),
    (" Bring the bass back slowly on deck 1.", ("eq_reset", {"band": "low", "duration": "4 s", "deck": "1"})),
    (" Hold it.", ("hold", {})),
])
def test_the_search_follows_the_audio_through_the_grammar(tokenizer, said, meaning):
    search = GrammarSearch(default_context(), tokenizer, _Scripted(tokenizer, said))
    best = commands(search.search(None, [50257, 50362]).readings)[0]
    assert (best[0], best[1]) == meaning
    assert search.text(best[2].tokens) == said.strip()


def test_the_search_never_writes_outside_the_grammar(tokenizer):
    """Whatever the decoder wants to write, every reading is a sentence of the grammar
    (read back through the automaton, Whisper's spellings undone) meaning what it says."""
    context = default_context()
    graph = WordGraph.compile(context)
    for wanted in (" What a great day to die.", " Play the second deck, please.", " Loop", " 32 beats"):
        found = GrammarSearch(context, tokenizer, _Scripted(tokenizer, wanted), beam=6).search(None, [50257, 50362])
        assert found.readings
        for reading in found.readings:
            words = normalize(tokenizer.decode(list(reading.tokens)))
            assert graph.meanings(words) >= set(reading.meanings), (wanted, words)


def test_coffee_orders_are_searched_without_listing_the_sentences(tokenizer):
    said = " Can I get a large, dark roast latte with a little bit of almond milk?"
    search = GrammarSearch(load_context(COFFEE), tokenizer, _Scripted(tokenizer, said))
    intent, slots, reading = commands(search.search(None, [50257, 50362]).readings)[0]
    assert intent == "orderDrink"
    assert slots == {"size": "large", "roast": "dark roast", "coffeeDrink": "latte", "milkAmount": "a little bit of almond milk"}


def test_a_tiny_context_with_ambiguous_words_keeps_both_meanings(tokenizer):
    context = parse_context("""
context:
  slots:
    deck: {"1": [one]}
    beats: {"1": [one]}
  intents:
    a: {expressions: ["go $deck:deck"]}
    b: {expressions: ["go $beats:beats"]}
""")
    found = GrammarSearch(context, tokenizer, _Scripted(tokenizer, " go one")).search(None, [50257, 50362])
    assert {(i, tuple(sorted(s.items()))) for i, s, _ in commands(found.readings)[:2]} == {
        ("a", (("deck", "1"),)), ("b", (("beats", "1"),))}


def test_no_sentence_of_the_dj_context_means_two_commands():
    """Every sentence the grammar can make, sampled across every intent (the knobs and
    faders beside the buttons they sound like: "cut the bass" / "cut the right fader",
    "stop" / "stop deck two"), reads as exactly one command."""
    import random

    context = default_context()
    graph = WordGraph.compile(context)
    rng = random.Random(22)
    for name in context.intents:
        for sentence in context.sample(100, rng, intent=name):
            assert graph.meanings(sentence.text.split()) == {
                (name, tuple(sorted(sentence.slots.items())))}, sentence.text
