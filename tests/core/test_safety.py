"""Every safety rule, with a fake clock (no sleeps) and the default DJ context."""

from __future__ import annotations

import pytest

from djtui.core.config import SafetyConfig
from djtui.core.context_file import default_context
from djtui.core.decks import DeckState
from djtui.core.records import Candidate, MidiCommand
from djtui.core.safety import REASONS, SafetyGate


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
