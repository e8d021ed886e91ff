"""The context model: every sentence it can make with its meaning, samples without
expanding, and the MIDI command each intent sends."""

from __future__ import annotations

import pytest

from djtui.core.context import command_for
from djtui.core.context_file import default_context, load_context, parse_context
from djtui.core.errors import DjtuiError
from djtui.core.records import MidiCommand
from tests.fixtures.contexts import COFFEE, GOOD


def test_expansion_yields_every_sentence_with_its_meaning():
    context = parse_context(GOOD, "ctx.yaml")
    sentences = {(s.text, s.intent, tuple(s.slots.items())) for s in context.expand()}
    assert ("play deck left", "play", (("deck", "1"),)) in sentences
    assert ("play two", "play", (("deck", "2"),)) in sentences
    assert ("browse up", "browse_up", ()) in sentences
    assert len(sentences) == context.size()


def test_sampling_works_without_expanding():
    context = load_context(COFFEE)
    assert context.size() > 100_000_000
    samples = context.sample(20)
    assert all(s.intent == "orderDrink" and "coffeeDrink" in s.slots for s in samples)


def test_the_shortest_sentence_is_counted_in_phonemes_without_expanding():
    from djtui.core.phonetic import phonemes

    context = parse_context(GOOD, "ctx.yaml")
    fewest = min(len(phonemes(s.text)) for s in context.expand())
    assert context.shortest_phonemes() == fewest
    assert default_context().shortest_phonemes() == len(phonemes("arm")) == 3
    assert load_context(COFFEE).shortest_phonemes() > 3  # an order names at least a drink


def test_default_context_sentences_render_and_every_action_resolves():
    context = default_context()
    values = {n: list(t.values) for n, t in context.slot_types.items()}
    for name, intent in context.intents.items():
        sentence = context.sample(1, intent=name)[0]
        assert sentence.text
        if intent.action:
            intent.action.number_for(sentence.slots)
            intent.action.function_for(sentence.slots)
            if intent.action.key:
                assert intent.action.keys({k: values[context.slot_type_of(name, k).name] for k in sentence.slots})


def test_command_for_uses_the_deck_channel_and_keyed_number() -> None:
    context = default_context()
    assert command_for(context.intents["play"], {"deck": "2"}) == MidiCommand("PlayPause", "note", 1, 11, 127)
    loop = command_for(context.intents["loop"], {"deck": "1", "beats": "1/2"})
    assert (loop.function, loop.channel, loop.number) == ("BeatLoop", 0, 21)  # the pad holding 1/2 beat
    assert command_for(context.intents["loop"], {"deck": "2", "beats": "4"}).function == "4BeatLoop"
    browse = command_for(context.intents["browse_down"], {})
    assert browse == MidiCommand("Browse", "cc", 4, 64, 1)
    assert browse.messages() == [[0xB4, 64, 1]]


def test_a_button_is_a_press_and_a_release_on_the_same_note() -> None:
    assert MidiCommand("Cue", "note", 2, 12).messages() == [[0x92, 12, 127], [0x92, 12, 0]]


def test_command_for_an_intent_without_action_or_slot_is_a_clear_error() -> None:
    context = default_context()
    with pytest.raises(DjtuiError, match="sends no MIDI"):
        command_for(context.intents["confirm"], {})
    with pytest.raises(DjtuiError, match="slot"):
        command_for(context.intents["play"], {})

