"""Any context file — random text, YAML of the right shape with wrong values, a good file
with its bytes mangled — loads as a usable Context or is one ContextError, in bounded
time and memory."""

from __future__ import annotations

import random

import yaml
from hypothesis import given
from hypothesis import strategies as st

from djtui.core.context import Context
from djtui.core.context_file import parse_context
from djtui.core.errors import ContextError
from tests.fixtures.properties import clear_error_or_result

GOOD = """\
context:
  name: tiny
  slots:
    deck:
      "1": [one, left]
      "2": [two, right]
    beats: [1/4, "1/2", "1", two]
  intents:
    play:
      expressions: ["[play, start] (the) $deck:deck (deck)", "drop $deck:deck"]
      action: {function: PlayPause, type: note, number: 11, channel: deck, toggle: playing, sets: true}
      safety: safe
    loop:
      expressions: ["loop $beats:beats on $deck:deck"]
      action: {function: {"1/4": A, "1/2": B, "1": C, two: D}, number: {"1/4": 1, "1/2": 2, "1": 3, two: 4}, key: "{beats}"}
"""

SCALARS = st.one_of(st.text(max_size=30), st.integers(-300, 300), st.booleans(), st.none(), st.floats(allow_nan=True))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                        st.dictionaries(st.text(max_size=10), inner, max_size=4)),
                      max_leaves=20)
WORDS = st.sampled_from(["play", "deck", "$deck:deck", "$beats", "$nope", "[a, b]", "(the)", "🎧", "?", "1/2", "]", "["])
EXPRESSION = st.lists(WORDS, min_size=0, max_size=8).map(" ".join)
INTENT = st.fixed_dictionaries(
    {"expressions": st.one_of(st.lists(EXPRESSION, max_size=3), EXPRESSION, VALUES)},
    optional={"action": st.one_of(VALUES, st.fixed_dictionaries(
                  {"function": st.one_of(st.text(max_size=8), VALUES)},
                  optional={"number": SCALARS, "channel": st.one_of(SCALARS, st.just("deck")), "type": SCALARS,
                            "key": st.sampled_from(["{deck}", "{beats}", "{deck", "{0}", "{{x}}", "{nope}"]),
                            "value": SCALARS, "sets": SCALARS, "toggle": SCALARS})),
              "safety": st.one_of(st.sampled_from(["safe", "guarded", "destructive"]), SCALARS),
              "control": SCALARS})
SLOT_TYPE = st.one_of(st.lists(st.one_of(st.text(max_size=12), st.integers(), st.dictionaries(
    st.text(max_size=5), st.lists(st.text(max_size=8), max_size=3), max_size=2)), max_size=5),
    st.dictionaries(st.text(max_size=5), st.one_of(st.lists(st.text(max_size=8), max_size=3), SCALARS), max_size=4),
    SCALARS)
CONTEXTS = st.fixed_dictionaries({"context": st.fixed_dictionaries(
    {"intents": st.dictionaries(st.text(max_size=8), st.one_of(INTENT, VALUES), max_size=4)},
    optional={"slots": st.dictionaries(st.sampled_from(["deck", "beats", "x"]), SLOT_TYPE, max_size=3),
              "name": SCALARS, "expressions": VALUES})})


# Mostly right, a little wrong: reaches the checks past the first problem and the
# contexts that load, whose every use must then work.
NEAR_WORDS = st.sampled_from(["play", "deck", "$deck:deck", "$deck", "(the)", "[a, b c]", "(on, at)", "$beats:beats",
                              "[$deck:deck, deck $deck:deck]", "two", "1/2", "21st"])
NEAR_ACTION = st.fixed_dictionaries(
    {"function": st.one_of(st.just("PlayPause"), st.just({"1": "A", "2": "B"})),
     "number": st.one_of(st.integers(0, 127), st.integers(-5, 200), st.just({"1": 1, "2": 2}))},
    optional={"channel": st.one_of(st.just("deck"), st.integers(0, 15)), "key": st.sampled_from(["{deck}", "{beats}"]),
              "type": st.sampled_from(["note", "cc"]), "sets": st.booleans(), "toggle": st.just("playing")})
NEAR_CONTEXTS = st.fixed_dictionaries({"context": st.fixed_dictionaries({
    "slots": st.fixed_dictionaries({
        "deck": st.dictionaries(st.sampled_from(["1", "2", "3", "4", "five"]),
                                st.lists(st.sampled_from(["one", "left", "two", "right", "b", "🎧"]), min_size=1, max_size=3),
                                min_size=1, max_size=4),
        "beats": st.lists(st.sampled_from(["1/4", "1/2", "1", "2", "4"]), min_size=1, max_size=4, unique=True)}),
    "intents": st.dictionaries(st.sampled_from(["play", "pause", "loop", "arm"]), st.fixed_dictionaries(
        {"expressions": st.lists(st.lists(NEAR_WORDS, min_size=1, max_size=5).map(" ".join), min_size=1, max_size=3)},
        optional={"action": NEAR_ACTION, "safety": st.sampled_from(["safe", "guarded", "destructive", "risky"]),
                  "control": st.sampled_from(["arm", "confirm", "nope"])}), min_size=1, max_size=4)})})


def _usable(context: Context) -> None:
    """What every caller does with a loaded context must work."""
    assert context.intents
    assert context.size() >= 1
    rng = random.Random(0)
    for name, intent in context.intents.items():
        for sentence in context.sample(2, rng, intent=name):
            if intent.action is not None:
                intent.action.function_for(sentence.slots)
                intent.action.number_for(sentence.slots) if (intent.action.number is not None or
                                                             intent.action.number_map) else None
                if "deck" in sentence.slots and intent.action.channel is None:
                    assert 0 <= intent.action.channel_for(sentence.slots) <= 15
            context.render(name, sentence.slots)


def _load(text: str) -> None:
    result = clear_error_or_result(lambda: parse_context(text, "ctx.yaml"), megabytes=64, errors=(ContextError,))
    if isinstance(result, Context):
        _usable(result)
    else:
        assert all(p.startswith("ctx.yaml") for p in result.problems)


@given(st.text(max_size=2000))
def test_any_text_is_a_context_or_one_context_error(text: str) -> None:
    _load(text)


@given(CONTEXTS)
def test_yaml_of_the_right_shape_with_any_values(data: dict) -> None:
    _load(yaml.safe_dump(data, allow_unicode=True))


@given(NEAR_CONTEXTS)
def test_yaml_that_is_nearly_right(data: dict) -> None:
    _load(yaml.safe_dump(data, allow_unicode=True))


@given(st.lists(st.tuples(st.integers(0, len(GOOD)), st.integers(0, 12), st.text(max_size=6)), min_size=1, max_size=6))
def test_a_good_file_with_its_bytes_mangled(edits: list[tuple[int, int, str]]) -> None:
    text = GOOD
    for at, cut, insert in edits:
        text = text[:at] + insert + text[at + cut:]
    _load(text)
