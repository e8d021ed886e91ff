"""Every safety rule, with a fake clock (no sleeps) and the default DJ context."""

from __future__ import annotations

import pytest

from djtui.core.config import ControlsConfig, SafetyConfig
from djtui.core.context_file import default_context
from djtui.core.decks import DeckState
from djtui.core.positions import ControlPositions
from djtui.core.records import Candidate, MidiCommand, Move
from djtui.core.safety import REASONS, SafetyGate
from djtui.core.tempo import Tempo


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def heard(intent: str, score: float = 0.9, **slots: str) -> Candidate:
    return Candidate(intent, dict(slots), score, f"{intent} {' '.join(slots.values())}".strip())


@pytest.fixture(scope="module")
def context():
    return default_context()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def state(context) -> DeckState:
    deck_state = DeckState.for_context(context)
    for channel in range(4):  # as Rekordbox's feedback would report: all decks paused
        deck_state.set("playing", channel, False, source="feedback")
    return deck_state


@pytest.fixture
def gate(context, state, clock) -> SafetyGate:
    gate = SafetyGate(context, SafetyConfig(), state, clock=clock)
    gate.arm()
    return gate


def test_every_reason_is_explained() -> None:
    assert all(REASONS.values())


# --- approval -----------------------------------------------------------------------

def test_a_clear_safe_command_is_approved_with_its_midi(gate: SafetyGate, state: DeckState) -> None:
    verdict = gate.judge([heard("play", deck="2"), heard("pause", 0.2, deck="2")])
    assert verdict.approved and verdict.reason == "ok"
    assert verdict.commands == (MidiCommand("PlayPause", "note", 1, 11, 127),)
    assert state.playing(2) is True and state.source("playing", 1) == "sent"


# --- arming -------------------------------------------------------------------------

def test_starts_disarmed_and_only_arm_gets_through(context, state, clock) -> None:
    gate = SafetyGate(context, SafetyConfig(armed_at_start=False), state, clock=clock)
    verdict = gate.judge([heard("play", deck="1")])
    assert (verdict.approved, verdict.reason, verdict.commands) == (False, "disarmed", ())
    assert gate.judge([heard("arm")]).reason == "armed" and gate.armed
    assert gate.judge([heard("play", deck="1")]).reason == "ok"


def test_arm_needs_confidence(context, state, clock) -> None:
    gate = SafetyGate(context, SafetyConfig(), state, clock=clock)
    assert gate.judge([heard("arm", 0.45)]).reason == "low_confidence"
    assert not gate.armed


def test_disarm_stops_everything(gate: SafetyGate) -> None:
    verdict = gate.judge([heard("disarm", 0.85), heard("arm", 0.84)])  # a close runner-up does not stop it
    assert verdict.approved and verdict.reason == "disarmed" and not gate.armed
    assert gate.judge([heard("play", deck="1")]).reason == "disarmed"


@pytest.mark.parametrize("control", ["cancel", "disarm"])
def test_a_command_misheard_as_backing_off_does_not_disarm(gate: SafetyGate, control: str) -> None:
    """Found by an hour's soak: "have loop one back" over music read as cancel at 0.47
    disarmed djtui, and nothing the DJ said afterwards was sent."""
    verdict = gate.judge([heard(control, 0.47), heard("loop_half", 0.3, deck="4")])
    assert not verdict.approved and verdict.reason == "low_confidence" and gate.armed
    assert gate.screen([heard(control, 0.47)]).reason == "low_confidence"  # djtui eval judges alike
    assert gate.screen([heard(control, 0.85), heard("arm", 0.84)]) is None


def test_cancel_is_panic_it_drops_the_pending_command_and_disarms(gate: SafetyGate, state: DeckState) -> None:
    state.set("playing", 0, True, source="feedback")
    assert gate.judge([heard("load", deck="1")]).reason == "needs_confirm"
    verdict = gate.judge([heard("cancel", 0.85)])
    assert verdict.approved and verdict.reason == "cancelled" and verdict.commands == ()
    assert gate.pending is None and not gate.armed
    gate.arm()
    assert gate.judge([heard("confirm")]).reason == "nothing_pending"


# --- what was heard -----------------------------------------------------------------

def test_nothing_heard_or_below_the_floor_is_out_of_grammar(gate: SafetyGate) -> None:
    assert gate.judge([]).reason == "out_of_grammar"
    assert gate.judge([heard("play", 0.2, deck="1")]).reason == "out_of_grammar"
    assert gate.judge([heard("no_such_intent")]).reason == "out_of_grammar"


def test_below_min_confidence_is_low_confidence(gate: SafetyGate) -> None:
    verdict = gate.judge([heard("play", 0.5, deck="1")])
    assert (verdict.approved, verdict.reason) == (False, "low_confidence")


def test_each_safety_class_has_its_own_threshold_and_the_verdict_names_the_one_passed(context, state, clock) -> None:
    config = SafetyConfig(min_confidence=0.85, min_confidence_safe=0.5, min_confidence_guarded=0.7,
                          min_confidence_destructive=0.95)
    gate = SafetyGate(context, config, state, clock=clock)
    gate.arm()
    approved = gate.judge([heard("play", 0.6, deck="1")])  # safe: 0.6 is enough
    assert approved.reason == "ok" and "0.60 ≥ 0.50 (safe)" in approved.message
    assert gate.judge([heard("sync", 0.6, deck="2")]).reason == "low_confidence"  # guarded
    assert gate.judge([heard("sync", 0.75, deck="2")]).reason == "ok"
    refused = gate.judge([heard("load", 0.9, deck="3")])  # destructive: 0.9 is not enough
    assert refused.reason == "low_confidence" and "0.90 < 0.95 (destructive)" in refused.message
    assert gate.judge([heard("disarm", 0.8)]).reason == "low_confidence"  # controls: min_confidence
    # what djtui eval and early finalisation judge by: the same thresholds
    assert gate.accept([heard("sync", 0.6, deck="2")]).reason == "low_confidence"
    assert gate.screen([heard("browse_up", 0.55)]) is None
    assert "(safe)" in gate.accept([heard("browse_up", 0.55)]).message


def test_a_class_without_a_threshold_of_its_own_keeps_min_confidence(context, state, clock) -> None:
    """The Settings screen's one 'Min confidence' (a config written before the classes
    existed) still governs every command; a class's own threshold overrides it."""
    gate = SafetyGate(context, SafetyConfig(min_confidence=0.9, min_confidence_safe=0.5), state, clock=clock)
    gate.arm()
    assert gate.judge([heard("play", 0.6, deck="1")]).reason == "ok"  # safe: its own 0.5
    refused = gate.judge([heard("sync", 0.85, deck="2")])  # guarded: none of its own, so 0.9
    assert refused.reason == "low_confidence" and "0.85 < 0.90 (guarded)" in refused.message


def test_a_close_runner_up_that_does_something_else_is_ambiguous(gate: SafetyGate) -> None:
    verdict = gate.judge([heard("play", 0.80, deck="1"), heard("play", 0.76, deck="2")])
    assert (verdict.approved, verdict.reason) == (False, "ambiguous")
    assert "deck=2" in verdict.message


def test_a_close_runner_up_doing_the_same_thing_is_not_ambiguous(gate: SafetyGate) -> None:
    # two readings of one command (the resolver may keep both sentences)
    same = Candidate("play", {"deck": "1"}, 0.78, "drop the left deck")
    assert gate.judge([heard("play", 0.80, deck="1"), same]).reason == "ok"


def test_a_clear_margin_is_not_ambiguous(gate: SafetyGate) -> None:
    assert gate.judge([heard("play", 0.90, deck="1"), heard("play", 0.70, deck="2")]).reason == "ok"


# --- repetition ---------------------------------------------------------------------

def test_the_same_command_within_the_cooldown_is_dropped(gate: SafetyGate, clock: FakeClock) -> None:
    assert gate.judge([heard("browse_down")]).reason == "ok"
    clock.advance(1.0)
    verdict = gate.judge([heard("browse_down")])
    assert (verdict.approved, verdict.reason) == (False, "cooldown")
    assert gate.judge([heard("browse_up")]).reason == "ok"  # another command is fine
    clock.advance(0.6)
    assert gate.judge([heard("browse_down")]).reason == "ok"


def test_the_rate_limit_counts_the_last_minute(context, state, clock) -> None:
    gate = SafetyGate(context, SafetyConfig(max_commands_per_minute=3), state, clock=clock)
    gate.arm()
    for n in range(1, 4):
        assert gate.judge([heard("hot_cue", number=str(n), deck="1")]).reason == "ok"
        clock.advance(10)
    assert gate.judge([heard("hot_cue", number="4", deck="1")]).reason == "rate_limit"
    clock.advance(31)  # the first one is now more than a minute old
    assert gate.judge([heard("hot_cue", number="4", deck="1")]).reason == "ok"


# --- deck state ---------------------------------------------------------------------

def test_toggles_send_nothing_when_the_deck_is_already_there(gate: SafetyGate, state: DeckState) -> None:
    verdict = gate.judge([heard("pause", deck="1")])  # deck 1 is paused
    assert (verdict.approved, verdict.reason, verdict.commands) == (False, "no_change", ())
    state.set("playing", 0, True, source="feedback")
    assert gate.judge([heard("play", deck="1")]).reason == "no_change"


def test_state_follows_what_was_sent_when_there_is_no_feedback(context, clock) -> None:
    state = DeckState.for_context(context)
    gate = SafetyGate(context, SafetyConfig(armed_at_start=True), state, clock=clock)
    state.set("fx", 4, False, source="sent")
    assert gate.judge([heard("fx_off")]).reason == "no_change"
    state.set("playing", 2, False, source="feedback")
    assert gate.judge([heard("play", deck="3")]).reason == "ok"
    clock.advance(2)
    assert gate.judge([heard("play", deck="3")]).reason == "no_change"  # djtui started it
    # cue returns a playing deck to its cue point and stops it
    assert gate.judge([heard("cue", deck="3")]).reason == "needs_confirm"
    assert gate.judge([heard("confirm")]).reason == "confirmed"
    assert state.playing(3) is False
    clock.advance(2)
    assert gate.judge([heard("play", deck="3")]).reason == "ok"


def test_feedback_overrides_what_djtui_sent(gate: SafetyGate, state: DeckState, clock: FakeClock) -> None:
    assert gate.judge([heard("play", deck="1")]).reason == "ok"
    state.apply_feedback([0x98, 11, 0])  # Rekordbox reports (channel 9): deck 1 did not start
    clock.advance(2)
    assert gate.judge([heard("play", deck="1")]).reason == "ok"


def test_a_toggle_with_unknown_state_waits_for_confirm(context, clock) -> None:
    # djtui cannot know whether PlayPause would start or stop this deck
    gate = SafetyGate(context, SafetyConfig(armed_at_start=True), DeckState.for_context(context), clock=clock)
    verdict = gate.judge([heard("play", deck="1")])
    assert (verdict.reason, verdict.commands) == ("needs_confirm", ())
    assert "unknown" in verdict.message


def test_guarded_on_a_playing_deck_waits_for_confirm(gate: SafetyGate, state: DeckState) -> None:
    assert gate.judge([heard("sync", deck="2")]).reason == "ok"  # paused deck: at once
    state.set("playing", 1, True, source="feedback")
    verdict = gate.judge([heard("hot_cue", number="1", deck="2")])
    assert (verdict.approved, verdict.reason, verdict.commands) == (False, "needs_confirm", ())
    assert gate.pending is not None
    confirmed = gate.judge([heard("confirm")])
    assert confirmed.approved and confirmed.reason == "confirmed"
    assert confirmed.commands == (MidiCommand("PAD1_HotCue", "note", 1, 30, 127),)
    assert confirmed.candidate is not None and confirmed.candidate.intent == "hot_cue"
    assert gate.pending is None


def test_safe_commands_on_a_playing_deck_go_at_once(gate: SafetyGate, state: DeckState) -> None:
    state.set("playing", 0, True, source="feedback")
    assert gate.judge([heard("loop", beats="4", deck="1")]).reason == "ok"


def test_global_guarded_commands_wait_while_any_deck_plays(gate: SafetyGate, state: DeckState) -> None:
    state.set("fx", 4, False, source="feedback")
    assert gate.judge([heard("fx_assign", target="master")]).reason == "ok"
    state.set("playing", 3, True, source="feedback")
    assert gate.judge([heard("fx_on")]).reason == "needs_confirm"


def test_a_pending_command_expires(gate: SafetyGate, state: DeckState, clock: FakeClock) -> None:
    state.set("playing", 0, True, source="feedback")
    assert gate.judge([heard("pause", deck="1")]).reason == "needs_confirm"
    clock.advance(2.9)
    assert gate.tick() is None
    clock.advance(0.2)
    expired = gate.tick()
    assert expired is not None and expired.reason == "expired" and not expired.approved
    assert gate.tick() is None  # reported once
    assert gate.judge([heard("confirm")]).reason == "nothing_pending"


def test_a_late_confirm_says_it_was_too_late(gate: SafetyGate, state: DeckState, clock: FakeClock) -> None:
    state.set("playing", 0, True, source="feedback")
    gate.judge([heard("load", deck="1")])
    clock.advance(3.5)
    verdict = gate.judge([heard("confirm")])
    assert (verdict.approved, verdict.reason, verdict.commands) == (False, "expired", ())


def test_confirm_rechecks_the_deck(gate: SafetyGate, state: DeckState) -> None:
    state.set("playing", 0, True, source="feedback")
    assert gate.judge([heard("pause", deck="1")]).reason == "needs_confirm"
    state.apply_feedback([0x98, 11, 0])  # Rekordbox reports: the DJ stopped it by hand
    assert gate.judge([heard("confirm")]).reason == "no_change"  # pressing would restart it


def test_an_unsure_confirm_releases_nothing(gate: SafetyGate, state: DeckState) -> None:
    state.set("playing", 0, True, source="feedback")
    gate.judge([heard("load", deck="1")])
    assert gate.judge([heard("confirm", 0.5)]).reason == "low_confidence"
    assert gate.judge([heard("confirm", 0.9), heard("cancel", 0.88)]).reason == "ambiguous"
    assert gate.pending is not None
    assert gate.judge([heard("confirm")]).reason == "confirmed"


def test_a_new_command_replaces_the_pending_one(gate: SafetyGate, state: DeckState) -> None:
    state.set("playing", 0, True, source="feedback")
    gate.judge([heard("load", deck="1")])
    verdict = gate.judge([heard("load", deck="2")])  # deck 2 is paused: goes at once
    assert verdict.reason == "ok" and "dropped unconfirmed load(deck=1)" in verdict.message
    assert gate.pending is None


def test_chatter_does_not_drop_the_pending_command(gate: SafetyGate, state: DeckState) -> None:
    state.set("playing", 0, True, source="feedback")
    gate.judge([heard("load", deck="1")])
    assert gate.judge([heard("play", 0.1, deck="3")]).reason == "out_of_grammar"
    assert gate.judge([heard("confirm")]).reason == "confirmed"


def test_confirm_is_not_held_back_by_the_cooldown(gate: SafetyGate, state: DeckState, clock: FakeClock) -> None:
    state.set("playing", 0, True, source="feedback")
    assert gate.judge([heard("hot_cue", number="1", deck="1")]).reason == "needs_confirm"
    assert gate.judge([heard("confirm")]).reason == "confirmed"
    clock.advance(0.5)
    assert gate.judge([heard("hot_cue", number="1", deck="1")]).reason == "cooldown"


# --- knobs and faders -----------------------------------------------------------------

@pytest.fixture
def positions() -> ControlPositions:
    return ControlPositions()


@pytest.fixture
def mixer(context, state, clock, positions) -> SafetyGate:
    """The gate at 120 BPM (a beat is 0.5 s) with the default per-beat limits."""
    gate = SafetyGate(context, SafetyConfig(), state, clock=clock, positions=positions, tempo=Tempo(120),
                      limits=ControlsConfig())
    gate.arm()
    return gate


def approve(gate: SafetyGate, positions: ControlPositions, verdict) -> Move:
    """The approved move, played to its end at once (as the ramp player would leave it)."""
    [move] = verdict.moves
    positions.set(move.control, move.channel, move.target)
    return move


def test_a_relative_move_of_a_control_djtui_never_set_is_refused(mixer: SafetyGate) -> None:
    verdict = mixer.judge([heard("knob_by", knob="eq_low", way="down", amount="0.05", deck="2")])
    assert (verdict.approved, verdict.reason, verdict.moves) == (False, "no_value", ())
    assert "reset it" in verdict.message and "does not report" in verdict.message


def test_a_relative_move_starts_from_where_djtui_put_the_control(mixer, positions, clock) -> None:
    positions.set("eq_low", 1, 0.5)
    move = approve(mixer, positions, mixer.judge([heard("knob_by", knob="eq_low", way="down", amount="0.15", deck="2")]))
    assert (move.function, move.channel, move.start, move.target) == ("EQLow", 1, 0.5, pytest.approx(0.35))
    assert move.seconds == 0 and move.max_per_s is None  # deck 2 is paused: nobody hears a jump


def test_a_jump_on_a_playing_deck_becomes_a_ramp_within_the_limit(mixer, state, positions) -> None:
    positions.set("fader", 0, 0.0)
    state.set("playing", 0, True, source="feedback")
    verdict = mixer.judge([heard("fader_to", level="1", deck="1")])
    assert verdict.approved and verdict.reason == "ramped"
    [move] = verdict.moves
    # a quarter of the travel a beat, a beat 0.5 s at 120 BPM: bottom to top in 2 s
    assert move.seconds == pytest.approx(2.0) and move.max_per_s == pytest.approx(0.5)
    assert "0.25 of its travel a beat" in verdict.message


def test_a_ramp_faster_than_the_limit_is_refused_with_the_shortest_that_is_not(mixer, state, positions) -> None:
    state.set("playing", 1, True, source="feedback")
    positions.set("fader", 1, 0.0)
    verdict = mixer.judge([heard("fade_in", deck="2", duration="1 bar")])  # 4 beats: exactly the limit
    assert verdict.reason == "ok" and verdict.moves[0].seconds == pytest.approx(2.0)
    positions.set("eq_low", 1, 0.0)
    verdict = mixer.judge([heard("knob_to", knob="eq_low", level="1", deck="2", duration="1 bar")])
    assert (verdict.approved, verdict.reason, verdict.moves) == (False, "too_fast", ())
    assert "8.0 beats or more" in verdict.message  # the whole EQ travel at 0.125 a beat
    verdict = mixer.judge([heard("knob_to", knob="eq_low", level="1", deck="2", duration="2 bars")])
    assert verdict.reason == "ok" and verdict.moves[0].seconds == pytest.approx(4.0)


def test_a_cut_the_dj_asked_for_jumps_after_confirm(mixer, state, positions) -> None:
    positions.set("eq_low", 0, 0.5)
    state.set("playing", 0, True, source="feedback")
    assert mixer.judge([heard("eq_kill", band="low", deck="1")]).reason == "needs_confirm"
    verdict = mixer.judge([heard("confirm")])
    assert verdict.reason == "confirmed"
    [move] = verdict.moves
    assert (move.target, move.seconds, move.max_per_s) == (0.0, 0.0, None)


def test_kill_on_the_playing_master_deck_still_asks_for_confirm(mixer, state, positions) -> None:
    state.set("playing", 1, True, source="feedback")
    state.set("master", 1, True, source="feedback")
    verdict = mixer.judge([heard("eq_kill", band="high", deck="2")])
    assert (verdict.approved, verdict.reason, verdict.moves) == (False, "needs_confirm", ())


def test_a_control_djtui_has_not_set_on_a_playing_deck_asks_before_its_first_step_jumps(mixer, state) -> None:
    state.set("playing", 1, True, source="feedback")
    verdict = mixer.judge([heard("fade_in", deck="2", duration="2 bars")])
    assert verdict.reason == "needs_confirm" and "jumps it to 0" in verdict.message
    [move] = mixer.judge([heard("confirm")]).moves
    assert (move.start, move.target, move.seconds) == (0.0, 1.0, pytest.approx(4.0))  # from 0, as fade in says


def test_without_a_tempo_beats_are_refused_and_seconds_work(context, state, clock, positions) -> None:
    gate = SafetyGate(context, SafetyConfig(armed_at_start=True), state, clock=clock, positions=positions,
                      tempo=Tempo(None))
    positions.set("fader", 1, 0.0)
    verdict = gate.judge([heard("fade_in", deck="2", duration="8 bars")])
    assert (verdict.approved, verdict.reason) == (False, "no_tempo")
    assert gate.judge([heard("fade_in", deck="2", duration="10 s")]).moves[0].seconds == 10.0
    state.set("playing", 0, True, source="feedback")
    positions.set("fader", 0, 0.0)
    [move] = gate.judge([heard("fader_to", level="1", deck="1")]).moves
    assert move.seconds == pytest.approx(2.0)  # a beat counted as 0.5 s: [controls] beat_s_without_tempo


def test_more_on_a_filter_at_its_centre_asks_which_way(mixer, positions) -> None:
    positions.set("filter", 0, 0.5)
    verdict = mixer.judge([heard("knob_by", knob="filter", way="more", deck="1")])
    assert verdict.reason == "which_way"
    positions.set("filter", 0, 0.6)
    assert mixer.judge([heard("knob_by", knob="filter", way="more", deck="1")]).moves[0].target == pytest.approx(0.65)


def test_a_move_to_where_the_control_is_sends_nothing(mixer, positions) -> None:
    positions.set("crossfader", 4, 0.5)
    assert mixer.judge([heard("crossfader_to", xfade="0.5")]).reason == "no_change"


def test_the_crossfader_ramps_while_any_deck_plays(mixer, state, positions) -> None:
    positions.set("crossfader", 4, 0.5)
    [jump] = mixer.judge([heard("crossfader_to", xfade="0")]).moves
    assert jump.seconds == 0  # every deck paused
    state.set("playing", 2, True, source="feedback")
    positions.set("crossfader", 4, 0.5)
    mixer._last_sent.clear()
    verdict = mixer.judge([heard("crossfader_to", xfade="0")])
    assert verdict.reason == "ramped" and verdict.moves[0].seconds == pytest.approx(1.0)


def test_tempo_moves_slowly_on_a_playing_deck(mixer, state, positions) -> None:
    positions.set("tempo", 0, 0.5)
    state.set("playing", 0, True, source="feedback")
    [move] = mixer.judge([heard("tempo_by", way="up", percent="2", deck="1")]).moves
    # +2 % of a ±10 % slider is 0.1 of its travel, at 0.025 a beat: 4 beats, 2 s
    assert move.target == pytest.approx(0.6) and move.seconds == pytest.approx(2.0)


def test_two_readings_of_one_move_are_not_ambiguous(mixer, positions) -> None:
    positions.set("eq_high", 1, 0.5)
    verdict = mixer.judge([heard("knob_by", 0.85, knob="eq_high", way="more", deck="2"),
                           heard("knob_by", 0.83, knob="eq_high", way="more", amount="0.05", deck="2")])
    assert verdict.approved
    verdict = mixer.judge([heard("knob_by", 0.85, knob="eq_high", way="up", deck="1"),
                           heard("knob_by", 0.83, knob="eq_mid", way="up", deck="1")])
    assert verdict.reason == "ambiguous"


def test_hold_backs_off_like_cancel_and_stays_armed(mixer, state, positions) -> None:
    state.set("playing", 0, True, source="feedback")
    positions.set("eq_low", 0, 0.5)
    assert mixer.judge([heard("eq_kill", band="low", deck="1")]).reason == "needs_confirm"
    verdict = mixer.judge([heard("hold", 0.85), heard("fader_to", 0.84, level="0", deck="1")])
    assert verdict.approved and verdict.reason == "held" and verdict.halts
    assert "dropped unconfirmed eq_kill" in verdict.message and mixer.pending is None and mixer.armed
    assert mixer.judge([heard("hold", 0.5)]).reason == "low_confidence"  # never easier than going ahead
    mixer.disarm()
    assert mixer.judge([heard("hold")]).reason == "held"  # works disarmed too: it only stops things


def test_cancel_and_disarm_halt_the_ramps(mixer) -> None:
    assert mixer.judge([heard("disarm")]).halts
    mixer.arm()
    assert mixer.judge([heard("cancel")]).halts


def test_moves_are_judged_like_commands_while_disarmed(context, state, clock, positions) -> None:
    gate = SafetyGate(context, SafetyConfig(), state, clock=clock, positions=positions)
    positions.set("fader", 0, 0.0)
    assert gate.judge([heard("fader_to", level="1", deck="1")]).reason == "disarmed"
