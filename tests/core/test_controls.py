"""Knobs and faders as data: the controls and moves of a context file, what their values
mean, and every problem the reader names by its line."""

from __future__ import annotations

import pytest

from djtui.core.context_file import default_context, parse_context
from djtui.core.controls import Control, Duration, MoveError, absolute_position, parse_duration, relative_step
from djtui.core.errors import ContextError
from djtui.core.records import MidiCommand, Move

EQ = Control("eq_low", "EQLow", 15, centre=0.5, limit="eq")
FILTER = Control("filter", "CFXParameterCH{deck}", 23, centre=0.5, limit="effect", more="away")
TEMPO = Control("tempo", "TempoSlider", 0, centre=0.5, limit="tempo", span=20, unit="%")


# --- values ------------------------------------------------------------------------------

@pytest.mark.parametrize("text, position", [("0", 0.0), ("1", 1.0), ("0.5", 0.5), ("1/4", 0.25), ("centre", 0.5)])
def test_absolute_values_are_positions_of_the_travel(text, position):
    assert absolute_position(EQ, text) == position


def test_tempo_values_count_percent_from_its_centre():
    assert absolute_position(TEMPO, "0%") == 0.5
    assert absolute_position(TEMPO, "+2%") == pytest.approx(0.6)
    assert absolute_position(TEMPO, "-10%") == pytest.approx(0.0)
    assert relative_step(TEMPO, "up 2%") == ("up", pytest.approx(0.1))
    with pytest.raises(MoveError, match="past the end"):
        absolute_position(TEMPO, "+12%")
    with pytest.raises(MoveError, match="not a unit"):
        absolute_position(EQ, "+2%")


def test_more_means_up_or_away_from_the_centre():
    assert relative_step(EQ, "more 0.05") == ("up", 0.05)
    assert relative_step(EQ, "less 0.05") == ("down", 0.05)
    assert relative_step(FILTER, "more 0.05") == ("away", 0.05)
    assert relative_step(FILTER, "less 0.05") == ("toward", 0.05)


def test_durations_in_bars_are_counted_in_beats():
    assert parse_duration("2 bars") == Duration(8, "beats")
    assert parse_duration("1 bar").label() == "1 bar"
    assert parse_duration("16 beats") == Duration(16, "beats")
    assert parse_duration("4 s") == Duration(4, "s")
    for bad in ("soon", "0 s", "-2 bars", "2 minutes"):
        with pytest.raises(MoveError):
            parse_duration(bad)


def test_where_a_relative_move_ends_depends_on_where_the_control_is():
    context = default_context()
    more_filter = context.intents["knob_by"].move.request({"knob": "filter", "way": "more", "deck": "2"},
                                                         context.controls)
    assert more_filter.step == 0.05 and more_filter.direction == "away"  # "a bit" by default
    assert more_filter.target_from(0.7) == pytest.approx(0.75)
    assert more_filter.target_from(0.3) == pytest.approx(0.25)
    assert more_filter.target_from(0.5) is None  # at its centre "more" goes either way
    assert more_filter.target_from(None) is None  # never set by djtui: unknown
    bass_up = context.intents["knob_by"].move.request({"knob": "eq_low", "way": "up", "amount": "0.15", "deck": "1"},
                                                      context.controls)
    assert bass_up.target_from(0.95) == 1.0  # the end of the travel is as far as it goes


# --- the bundled context -----------------------------------------------------------------

def test_the_dj_context_moves_its_controls_on_the_deck_said():
    context = default_context()
    request = context.intents["fade_in"].move.request({"deck": "2", "duration": "2 bars"}, context.controls)
    assert (request.function, request.channel, request.target, request.start) == ("ChannelFader", 1, 1.0, 0.0)
    assert request.duration == Duration(8, "beats")
    kill = context.intents["eq_kill"].move.request({"band": "low", "deck": "2"}, context.controls)
    assert kill.cut and kill.target == 0.0 and kill.function == "EQLow"
    assert context.intents["eq_kill"].safety == "guarded"  # a cut on a playing deck waits for confirm
    filter_two = context.intents["filter_off"].move.request({"deck": "2"}, context.controls)
    assert filter_two.function == "CFXParameterCH2" and filter_two.target == 0.5
    fader = context.intents["fader_to"].move.request({"deck": "1", "level": "1"}, context.controls)
    assert fader.duration is None  # no duration said: the safety gate decides how fast


def test_fourteen_bit_values_are_msb_then_lsb_and_the_centre_is_exact():
    move = Move("tempo", "TempoSlider", 1, 0, True, 2, 0.5, 0.5, 0.0)
    assert move.raw(0.5) == 8192 and move.raw(0.0) == 0 and move.raw(1.0) == 16383
    assert move.command_at(0.5).messages() == [[0xB1, 0, 64], [0xB1, 32, 0]]
    assert MidiCommand("EQLow", "cc14", 0, 15, 16383).messages() == [[0xB0, 15, 127], [0xB0, 47, 127]]
    seven = Move("x", "SamplerVolume", 4, 3, False, None, None, 0.5, 0.0)
    assert seven.command_at(0.5).messages() == [[0xB4, 3, 64]]
    assert Move("t", "TempoSlider", 0, 0, True, 1, None, 1.0, 0.0, reverse=True).raw(1.0) == 0


# --- the reader: every problem by its line -----------------------------------------------

def _problems(text: str) -> list[str]:
    with pytest.raises(ContextError) as caught:
        parse_context(text, "t.yaml")
    return caught.value.problems


BASE = """
context:
  controls:
    fader: {function: ChannelFader, cc: 19, channel: deck}
    CONTROL
  slots:
    deck: {"1": [one], "2": [two]}
    level: {"0": [zero], "1": [full]}
    duration: {"2 bars": [two bars]}
  intents:
    up:
      expressions: ["fader $deck:deck to $level:level (over $duration:duration)"]
      move: MOVE
      safety: SAFETY
"""


def _context(control: str = "", move: str = '{control: fader, to: "{level}", over: "{duration}"}',
             safety: str = "safe") -> str:
    return BASE.replace("CONTROL", control).replace("MOVE", move).replace("SAFETY", safety)


def test_a_well_formed_move_reads():
    context = parse_context(_context(), "t.yaml")
    assert context.controls["fader"].hires and context.controls["fader"].per_deck
    assert context.intents["up"].move.over == "{duration}"


@pytest.mark.parametrize("control, problem", [
    ("eq: {function: EQLow, cc: 40}", "t.yaml:5: control 'eq': cc 40 is out of range 0–31 for a 14-bit"),
    ("eq: {function: EQLow, cc: 40, hires: false, channel: 17}", "t.yaml:5: control 'eq': channel 17 is out of range"),
    ("eq: {function: EQLow}", "t.yaml:5: control 'eq' needs 'cc'"),
    ("eq: {function: 'EQ Low', cc: 1}", "t.yaml:5: control 'eq': 'EQ Low' is not a Rekordbox function name"),
    ("eq: {function: EQLow, cc: 1, limit: loud}", "t.yaml:5: control 'eq': limit must be one of eq, fader, tempo"),
    ("eq: {function: EQLow, cc: 1, centre: 2}", "t.yaml:5: control 'eq': centre 2 is out of range 0–1"),
    ("eq: {function: EQLow, cc: 1, more: away}", "t.yaml:5: control 'eq': more 'away' (from the centre) needs a 'centre'"),
    ("eq: {function: EQLow, cc: 1, unit: '%'}", "t.yaml:5: control 'eq': unit '%' needs a 'span'"),
    ("eq: {function: 'FX{deck}', cc: 1, channel: 4}", "t.yaml:5: control 'eq': a function with '{deck}' needs channel"),
    ("eq: {function: EQLow, cc: 1, colour: red}", "t.yaml:5: control 'eq': unknown key 'colour'"),
    ("eq: {function: EQLow, cc: 1, hires: maybe}", "t.yaml:5: control 'eq': 'hires' must be true or false"),
])
def test_every_control_problem_is_named_by_its_line(control, problem):
    problems = _problems(_context(control=control))
    assert any(p.startswith(problem) for p in problems), problems


@pytest.mark.parametrize("move, problem", [
    ('{to: "{level}"}', "needs the 'control' it moves"),
    ('{control: fader}', "needs exactly one of 'to'"),
    ('{control: fader, to: "1", by: "up 0.1"}', "needs exactly one of 'to'"),
    ('{control: knob, to: "1"}', "no control 'knob'"),
    ('{control: fader, to: "{loudness}"}', "to uses 'loudness', which is not a slot of its expressions"),
    ('{control: fader, to: "{duration}"}', "is not a position"),
    ('{control: fader, to: "2"}', "past the end of 'fader'"),
    ('{control: fader, to: centre}', "control 'fader' has no centre"),
    ('{control: fader, by: "sideways 0.1"}', "is not a relative move"),
    ('{control: fader, to: "1", over: "{level}"}', "is not a duration"),
    ('{control: fader, to: "1", cut: true}', "a cut jumps a playing deck at once"),
    ('{control: fader, to: "1", defaults: {level: "7"}}', "default '7' for 'level' is not a value"),
    ('{control: fader, to: "1", speed: 3}', "unknown key 'speed'"),
])
def test_every_move_problem_is_named_by_its_line(move, problem):
    problems = _problems(_context(move=move))
    assert any(p.startswith("t.yaml:") and problem in p for p in problems), problems


def test_a_move_needs_the_deck_of_a_deck_control():
    text = _context(move='{control: fader, to: "{level}"}').replace(
        '"fader $deck:deck to $level:level (over $duration:duration)"',
        '"fader to $level:level", "fader $deck:deck to $level:level"')
    assert any("every expression needs a $…:deck slot" in p or "must name the deck" in p for p in _problems(text))


def test_a_move_and_an_action_do_not_mix():
    text = _context(move='{control: fader, to: "1"}\n      action: {function: X, type: note, number: 1, channel: 0}')
    assert any("a move cannot also have an 'action'" in p for p in _problems(text))


def test_a_cut_on_a_guarded_intent_reads():
    assert parse_context(_context(move='{control: fader, to: "0", cut: true}', safety="guarded"), "t.yaml")
