"""What djtui knows of the decks: Rekordbox's reports, never djtui's own presses."""

from __future__ import annotations

from djtui.core.context_file import default_context
from djtui.core.decks import FEEDBACK_OFFSET, DeckState, state_reports

def test_rekordbox_reports_eight_channels_above_the_press() -> None:
    reports = state_reports(default_context())
    assert reports[(FEEDBACK_OFFSET + 2, 11)] == ("playing", 2)  # PlayPause, deck 3
    assert reports[(FEEDBACK_OFFSET, 18)] == ("loop", 0)  # ReloopExit, deck 1
    assert reports[(FEEDBACK_OFFSET + 4, 70)] == ("fx", 4)  # FX1-1On, global
    assert reports[(FEEDBACK_OFFSET + 4, 60)] == ("cfx", 4)  # CFXOn, global
    states = {state for state, _ in reports.values()}
    assert states == {"playing", "cue", "sync", "master", "loop", "slip", "master_tempo", "key_sync",
                      "headphone_cue", "fx", "cfx"}
    assert all(channel >= FEEDBACK_OFFSET for channel, _ in reports)


def test_deck_state_reads_rekordboxs_reports_and_not_presses() -> None:
    now = [100.0]
    state = DeckState(state_reports(default_context()), clock=lambda: now[0])
    assert state.playing(3) is None and not state.heard
    assert state.apply_feedback([0x9A, 11, 127])  # report: deck 3 plays
    assert state.playing(3) is True and state.source("playing", 2) == "feedback"
    assert state.heard and state.last_heard == 100.0
    assert state.apply_feedback([0x9A, 11, 0])
    assert state.playing(3) is False
    assert state.apply_feedback([0x8C, 70, 64])  # note-off: FX unit off
    assert state.get("fx", 4) is False
    assert state.apply_feedback([0x98, 18, 127]) and state.get("loop", 0) is True
    assert not state.apply_feedback([0x92, 11, 127])  # a press of PlayPause, not a report
    assert state.playing(3) is False
    assert not state.apply_feedback([0xBA, 11, 127])
    assert not state.apply_feedback([0x9A, 13, 127])  # JumpToTrackStart: Rekordbox reports nothing

