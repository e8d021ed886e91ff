"""Example sentences: what a person would say for each command, the same in the TUI's
Commands screen and ``djtui contexts show``."""

from __future__ import annotations

from pathlib import Path

import pytest

from djtui.core.context_file import default_context, load_context, parse_context
from djtui.core.examples import describe_slots, example, examples, slots_of
from djtui.core.resolve import Resolver

ODD = parse_context("""
context:
  name: odd
  slots:
    deck: {"1": [a, one, first]}
    later: {"3": [third, three]}
    beats: {"1": [one], "2": [two]}
    effect: {echo: [echo]}
  intents:
    play:
      expressions: ["let the $deck:deck (deck) play"]
    restart:
      expressions: ["restart deck $later:deck"]
    jump:
      expressions: ["jump back $beats:beats (beats) on deck $deck:deck"]
    colour:
      expressions: ["colour on (for) deck $deck:deck"]
    pick:
      expressions: ["pick a $effect:effect"]
""")


def test_what_reads_wrongly_is_never_the_example() -> None:
    said = {name: sentence.text for name, sentence in examples(ODD).items()}
    assert said["play"] == "let the first deck play"  # not "let the a deck play", "the one deck"
    assert said["restart"] == "restart deck three"  # not "restart deck third"
    assert said["jump"] == "jump back two beats on deck a"  # not "one beats"
    assert said["colour"] == "colour on deck a"  # not "on for"
    assert said["pick"] == "pick a echo"  # nothing natural to say: the author's first, still said


def test_the_dj_contexts_examples_are_what_a_dj_says() -> None:
    said = {name: sentence.text for name, sentence in examples(default_context()).items()}
    assert said["play"] == "play deck one"
    assert said["jump_to_start"] == "jump to the start on deck one"
    assert said["beat_jump"] == "jump forward two beats on deck one"
    assert said["loop"] == "loop two beats on deck one"
    assert said["crossfader_assign"] == "assign deck one to the left side"
    assert said["fx_assign"] == "assign the effect on deck one"
    assert said["cancel"] == "cancel"


@pytest.mark.parametrize("context", [default_context(), load_context(Path(__file__).parents[1] / "data" / "coffee_maker.yaml")],
                         ids=["dj", "coffee_maker"])
def test_every_example_is_understood_as_its_own_command(context) -> None:
    resolver = Resolver(context, semantic_weight=0.0)
    for name, sentence in examples(context, resolver).items():
        best = resolver.resolve(sentence.text, k=1)[0]
        assert (best.intent, best.slots) == (name, sentence.slots), sentence.text


def test_an_example_carries_the_slots_it_says() -> None:
    sentence = example(default_context(), "loop")
    assert sentence.intent == "loop" and sentence.slots == {"beats": "2", "deck": "1"}


def test_slots_are_listed_with_their_values() -> None:
    context = default_context()
    assert slots_of(context, "loop") == {"beats": ("1/4", "1/2", "1", "2", "4", "8", "16", "32"),
                                         "deck": ("1", "2", "3", "4")}
    assert describe_slots(context, "loop") == "beats (1/4 1/2 1 2 4 8 16 32) · deck (1 2 3 4)"
    assert describe_slots(context, "fx_on") == ""
