from pathlib import Path

import pytest

from djtui.core.context import default_context, load_context, parse_context
from djtui.core.errors import ContextError

COFFEE = Path(__file__).resolve().parents[1] / "data" / "coffee_maker.yaml"  # Rhino context, as shipped

GOOD = """\
context:
  name: tiny
  slots:
    deck:
      "1": [one, left]
      "2": [two, right]
  intents:
    play:
      expressions: ["play (deck) $deck:deck"]
      action: {function: PlayPause, type: note, number: 11, channel: deck, toggle: playing, sets: true}
      safety: safe
    browse_up:
      expressions: ["browse up"]
      action: {function: Browse, type: cc, number: 64, value: 127, channel: 4}
"""


def problems_of(text: str) -> list[str]:
    with pytest.raises(ContextError) as info:
        parse_context(text, "ctx.yaml")
    return info.value.problems


def test_a_valid_context_loads_with_actions():
    context = parse_context(GOOD, "ctx.yaml")
    play = context.intents["play"]
    assert play.action.function_for({"deck": "2"}) == "PlayPause"
    assert play.action.channel_for({"deck": "2"}) == 1
    assert play.action.number_for({"deck": "1"}) == 11
    assert play.action.toggle == "playing" and play.action.sets is True
    assert context.intents["browse_up"].action.type == "cc"
    assert context.size() == 2 * 4 + 1


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


@pytest.mark.parametrize("edit, expected", [
    (("$deck:deck", "$desk:deck"), "ctx.yaml:9: intent 'play': unknown slot type 'desk'"),
    (("browse_up:", "play:"), "ctx.yaml:12: duplicate intent 'play' (first defined on line 8)"),
    (("play (deck) $deck:deck", "play [deck, ] $deck:deck"), "ctx.yaml:9: intent 'play': empty alternative"),
    (("number: 11", "number: 128"), "ctx.yaml:10: intent 'play': note number 128 is out of range 0–127"),
    (("number: 64", "number: -1"), "ctx.yaml:14: intent 'browse_up': CC number -1 is out of range 0–127"),
    (("channel: 4", "channel: 16"), "ctx.yaml:14: intent 'browse_up': channel 16 is out of range 0–15"),
    (("safety: safe", "safety: risky"), "ctx.yaml:11: intent 'play': safety must be one of safe, guarded, destructive"),
    (("type: note", "type: sysex"), "ctx.yaml:10: intent 'play': action type must be note or cc"),
])
def test_each_problem_is_reported_with_file_and_line(edit, expected):
    old, new = edit
    assert old in GOOD
    problems = problems_of(GOOD.replace(old, new, 1))
    assert any(p.startswith(expected) for p in problems), problems


def test_every_problem_is_reported_at_once():
    broken = GOOD.replace("$deck:deck", "$desk:deck").replace("number: 64", "number: 200")
    assert len(problems_of(broken)) == 2


def test_unreadable_yaml_is_one_clear_problem():
    problems = problems_of("context:\n  intents: [unclosed\n")
    assert len(problems) == 1 and problems[0].startswith("ctx.yaml:") and "unreadable YAML" in problems[0]


def test_missing_file_is_a_context_error(tmp_path):
    with pytest.raises(ContextError, match="no such file"):
        load_context(tmp_path / "nope.yaml")


def test_deck_channel_needs_a_deck_slot():
    text = GOOD.replace('"play (deck) $deck:deck"', '"play"')
    assert any("needs a $…:deck slot" in p for p in problems_of(text))


def test_rhino_context_loads_as_it_is():
    context = load_context(COFFEE)
    assert list(context.intents) == ["orderDrink"]
    assert context.intents["orderDrink"].action is None
    assert context.intents["orderDrink"].safety == "safe"
    assert "a lot of almond milk" in context.slot_types["milkAmount"].values


def test_default_context_has_the_promised_intents_and_values():
    context = default_context()
    required = """play pause cue jump_to_start sync master loop loop_in loop_out loop_exit loop_half
    loop_double beat_jump hot_cue tempo_reset key_sync key_reset master_tempo slip reverse load
    headphone_cue cfx_on cfx_off eq_kill eq_reset crossfader_assign fx_on fx_off fx_select fx_beat_up
    fx_beat_down fx_assign browse_up browse_down browse_back browse_forward arm disarm confirm cancel""".split()
    assert set(required) <= set(context.intents)
    values = {name: set(t.values) for name, t in context.slot_types.items()}
    assert values["beats"] == {"1/4", "1/2", "1", "2", "4", "8", "16", "32"}
    assert values["jump_beats"] == {"1", "2", "4", "8", "16", "32"}
    assert values["direction"] == {"forward", "back"}
    assert values["number"] == {str(i) for i in range(1, 9)}
    assert values["band"] == {"low", "mid", "high"}
    assert values["side"] == {"a", "thru", "b"}
    assert values["effect"] == set("echo reverb delay flanger phaser filter roll spiral trans pitch helix".split())
    assert values["target"] == {"1", "2", "3", "4", "master"}
    assert values["deck"] == {"1", "2", "3", "4"}
    deck = context.slot_types["deck"].values
    assert "left" in deck["1"] and "right" in deck["2"] and "a" in deck["1"]
    # PlayPause is one toggle: play and pause share it and say which state they want
    assert context.intents["play"].action.toggle == context.intents["pause"].action.toggle == "playing"
    assert (context.intents["play"].action.sets, context.intents["pause"].action.sets) == (True, False)
    assert {context.intents[c].control for c in ("arm", "disarm", "confirm", "cancel")} == {"arm", "disarm", "confirm", "cancel"}


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
