
import pytest

from djtui.core.context_file import default_context, load_context, parse_context
from djtui.core.errors import ContextError
from tests.fixtures.contexts import COFFEE, GOOD



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


# --- bad and hostile files: one clear ContextError, in bounded time -------------------------


def test_an_open_quote_is_reported_on_its_own_line_not_at_the_end_of_the_file():
    text = GOOD.replace('expressions: ["browse up"]', 'expressions: ["browse up]')
    [problem] = problems_of(text)
    assert problem.startswith("ctx.yaml:13: unreadable YAML") and "left open" in problem
    in_a_list = GOOD.replace('"play (deck) $deck:deck"]', '"play (deck) $deck:deck]\n        - "x"')
    [problem] = problems_of(in_a_list.replace('expressions: ["play', 'expressions:\n        - "play'))
    assert problem.startswith("ctx.yaml:10: unreadable YAML") and "closing quote missing" in problem


def test_yaml_nested_thousands_deep_is_a_problem_not_a_recursion_error():
    [problem] = problems_of("context: " + "[" * 5000)
    assert "nested too deeply" in problem


def test_a_huge_file_is_refused_before_it_is_read(tmp_path):
    import time

    path = tmp_path / "huge.yaml"
    path.write_text(GOOD + "# " + "x" * (2 << 20) + "\n")
    started = time.monotonic()
    with pytest.raises(ContextError, match=r"huge.yaml: too big for a context \(2.0 MiB; at most 1 MiB\)"):
        load_context(path)
    assert time.monotonic() - started < 1.0


def test_too_many_slot_phrases_is_one_problem():
    values = "\n".join(f'      "v{n}": [value {n}]' for n in range(4999))
    text = GOOD.replace("  slots:\n", f"  slots:\n    names:\n{values}\n")
    assert problems_of(text) == ["ctx.yaml:4: too many slot phrases: 5,003 (at most 5,000 over all slot types)"]


@pytest.mark.parametrize("edit, expected", [
    (("[one, left]", "[one, 🎧]"), "ctx.yaml:5: slot 'deck' value '1': '🎧' in '🎧' has no English pronunciation"),
    (("[two, right]", "[two, 東京]"), "ctx.yaml:6: slot 'deck' value '2': '東京' in '東京'"),
    (("[two, right]", "[two, '...']"), "ctx.yaml:6: slot 'deck' value '2': '...' has no words to say"),
    (("[two, right]", f"[two, {'x' * 201}]"), "ctx.yaml:6: slot 'deck' value '2': phrase too long (201 characters"),
    (('"browse up"', '"browse 🎧"'), "ctx.yaml:13: intent 'browse_up': '🎧' in 'browse 🎧' has no English"),
    (('"browse up"', '"?! ..."'), "ctx.yaml:13: intent 'browse_up': '?! ...' has no words to say"),
    (('"browse up"', '"' + "[" * 9 + "a" + "]" * 9 + '"'), "ctx.yaml:13: intent 'browse_up': '[' at column 9 nests"),
    (('"browse up"', '"' + "up " * 400 + '"'), "ctx.yaml:13: intent 'browse_up': expression too long (1,200"),
    (('"2": [two, right]', '"left": [two, right]'), "ctx.yaml:10: intent 'play': channel 'deck' needs deck values 1–16"),
])
def test_what_cannot_be_said_or_sent_is_reported(edit, expected):
    old, new = edit
    assert old in GOOD
    problems = problems_of(GOOD.replace(old, new, 1))
    assert any(p.startswith(expected) for p in problems), problems


KEYED = """\
context:
  slots:
    beats: {"1": [one], "2": [two]}
  intents:
    loop:
      expressions: ["loop $beats:beats", "loop it"]
      action: {function: {"1": L1, "2": L2}, number: 1, channel: 0, key: "{beats}"}
"""


@pytest.mark.parametrize("edit, expected", [
    (("", ""), "ctx.yaml:7: intent 'loop': key uses 'beats', which some of its expressions do not fill"),
    (('"loop it"', '"loop it $beats:beats"', '"{beats}"', '"{beats"'), "key must be words and {slot} fields"),
    (('"loop it"', '"loop it $beats:beats"', '"{beats}"', '"{0}"'), "key uses '0', which is not a slot"),
    (('"loop it"', '"loop it $beats:beats"', '"{beats}"', '"{beats.real}"'), "key must be words and {slot} fields"),
])
def test_a_bad_key_template_is_a_problem_not_a_crash_on_stage(edit, expected):
    text = KEYED
    for old, new in zip(edit[::2], edit[1::2]):
        text = text.replace(old, new, 1)
    assert any(expected in p for p in problems_of(text)), problems_of(text)


def test_an_action_key_with_too_many_combinations_is_refused():
    values = "{" + ", ".join(f'"{n}": [w{n}]' for n in range(120)) + "}"
    text = (f"context:\n  slots:\n    a: {values}\n    b: {values}\n  intents:\n    x:\n"
            '      expressions: ["go $a:a $b:b"]\n      action: {function: F, number: 1, channel: 0, key: "{a} {b}"}\n')
    assert any("key makes 14,400 combinations (at most 10,000)" in p for p in problems_of(text))


def test_contexts_check_refuses_a_50_mb_slot_list_at_once(tmp_path, capsys):
    import time

    from djtui.cli import main

    path = tmp_path / "tracks.yaml"
    with open(path, "w") as f:
        f.write("context:\n  slots:\n    track:\n")
        for n in range(1_200_000):
            f.write(f'      - "track number {n}"\n')
    started = time.monotonic()
    assert main(["contexts", "check", str(path)]) == 1  # a problem found in the file
    assert time.monotonic() - started < 2.0
    assert "too big for a context" in capsys.readouterr().out


def test_a_key_given_twice_inside_a_mapping_is_a_problem_at_its_second_line():
    text = GOOD.replace("      safety: safe\n", "      safety: safe\n      expressions: [\"start deck $deck:deck\"]\n")
    with pytest.raises(ContextError) as raised:
        parse_context(text, "ctx.yaml")
    [problem] = raised.value.problems
    assert problem.startswith("ctx.yaml:12:") and "'expressions' given twice (first on line 9)" in problem


@pytest.mark.parametrize("name", ['"/tmp/x"', '"../../x"', '"a\\\\b"', '".."', "[1, 2]", "{a: 1}", '""'])
def test_a_name_that_is_not_a_plain_name_is_refused(name):
    with pytest.raises(ContextError, match="'name' must be a plain name") as raised:
        parse_context(GOOD.replace("name: tiny", f"name: {name}"), "ctx.yaml")
    assert raised.value.problems[0].startswith("ctx.yaml:2:")


def test_problems_are_listed_in_the_order_of_their_lines():
    text = GOOD.replace("safety: safe", "safety: reckless").replace("name: tiny", "name: [1]")
    with pytest.raises(ContextError) as raised:
        parse_context(text, "ctx.yaml")
    lines = [int(p.split(":")[1]) for p in raised.value.problems]
    assert lines == sorted(lines) and len(lines) == 2

