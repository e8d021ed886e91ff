"""What djtui knows of Rekordbox's decks: which functions Rekordbox reports, where its
reports arrive, and the state they (or djtui's own presses) leave each deck in.

Rekordbox reports a function's state on the MIDI output it was mapped for, ``FEEDBACK_OFFSET``
channels above the channel that presses it (a controller lights its LEDs with it). The
safety gate reads :class:`DeckState` (is deck 2 playing?); the MIDI port feeds it; the
mapping export writes the output codes that make Rekordbox send the reports.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from djtui.core.context import Action, Context

DECKS = 4
"""Deck n sends on MIDI channel n-1 (the context's ``channel: deck``)."""


FEEDBACK_OFFSET = 8
"""Rekordbox reports a function's state this many channels above the channel that
presses it (deck 1 presses on channel 1 and is reported on channel 9), so presses live
on channels 1-8 and reports on 9-16."""


REPORTED_STATES = {
    "PlayPause": "playing",
    "Cue": "cue",
    "Sync": "sync",
    "Master": "master",
    "ReloopExit": "loop",
    "Slip": "slip",
    "MasterTempo": "master_tempo",
    "KeySync": "key_sync",
    "HeadphoneCue": "headphone_cue",
    "FX1-1On": "fx",
    "CFXOn": "cfx",
}
"""Rekordbox functions whose state Rekordbox reports back (a controller lights its LED
with it), and the name djtui keeps that state under. A context's ``toggle:`` names it
for its own functions."""


def reported_state(action: Action, function: str) -> str | None:
    """The state Rekordbox reports for ``function`` pressed by ``action`` (a note):
    the action's ``toggle`` if it names one, else :data:`REPORTED_STATES`."""
    if action.type != "note":
        return None
    return action.toggle or REPORTED_STATES.get(function)


def state_reports(context: Context) -> dict[tuple[int, int], tuple[str, int]]:
    """``(channel, note)`` of each report Rekordbox sends -> ``(state, channel pressed)``.

    One entry per deck channel for deck functions, one for a function on a fixed
    channel; the report's channel is :data:`FEEDBACK_OFFSET` above the press's.
    """
    reports: dict[tuple[int, int], tuple[str, int]] = {}
    for binding in context.bindings():
        action = binding.intent.action
        assert action is not None
        state = reported_state(action, binding.function)
        if state is None or binding.number is None:
            continue
        for channel in (range(DECKS) if action.channel is None else (action.channel,)):
            if channel + FEEDBACK_OFFSET < 16:
                reports[(channel + FEEDBACK_OFFSET, binding.number)] = (state, channel)
    return reports


class DeckState:
    """What djtui knows of Rekordbox's state (``playing``, ``loop``, ``fx``, …) per MIDI
    channel of the press (deck n = channel n-1).

    Each entry is ``True``/``False`` or unknown (``None``), with its source: ``"feedback"``
    (Rekordbox said so) or ``"sent"`` (djtui pressed the toggle). The newest report wins,
    so feedback corrects a press Rekordbox ignored. ``reports`` maps a report's
    ``(channel, note)`` to the state and channel it is about; :meth:`for_context` builds it
    with :func:`state_reports`. :attr:`last_heard` says when Rekordbox last sent anything
    at all. Safe to use from the MIDI callback thread.
    """

    def __init__(self, reports: dict[tuple[int, int], tuple[str, int]] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.reports = dict(reports or {})
        self.last_heard: float | None = None
        """``clock()`` time of the last message on the feedback port (echoes excluded)."""
        self._clock = clock
        self._state: dict[tuple[str, int], tuple[bool, str]] = {}
        self._lock = threading.Lock()
        self._listeners: list[Callable[[str, int, bool, str], None]] = []

    @classmethod
    def for_context(cls, context: Context) -> DeckState:
        return cls(state_reports(context))

    def get(self, toggle: str, channel: int) -> bool | None:
        with self._lock:
            entry = self._state.get((toggle, channel))
        return None if entry is None else entry[0]

    def source(self, toggle: str, channel: int) -> str | None:
        with self._lock:
            entry = self._state.get((toggle, channel))
        return None if entry is None else entry[1]

    def playing(self, deck: int) -> bool | None:
        """Whether deck ``deck`` (1-4) plays; ``None`` until djtui has heard or sent it."""
        return self.get("playing", deck - 1)

    @property
    def heard(self) -> bool:
        """Whether Rekordbox has sent anything since djtui opened its port."""
        return self.last_heard is not None

    def set(self, toggle: str, channel: int, on: bool, source: str = "sent") -> None:
        with self._lock:
            changed = self._state.get((toggle, channel)) != (on, source)
            self._state[(toggle, channel)] = (on, source)
            listeners = list(self._listeners)
        if changed:
            for listener in listeners:
                listener(toggle, channel, on, source)

    def apply_feedback(self, message: Sequence[int]) -> bool:
        """Take one raw message from Rekordbox; ``True`` if it reported a known state
        (note-on with velocity > 0 = on; velocity 0 or note-off = off)."""
        self.last_heard = self._clock()
        if len(message) < 3:
            return False
        status, number, velocity = message[0] & 0xF0, message[1], message[2]
        if status not in (0x80, 0x90):
            return False
        report = self.reports.get((message[0] & 0x0F, number))
        if report is None:
            return False
        state, channel = report
        self.set(state, channel, status == 0x90 and velocity > 0, source="feedback")
        return True

    def subscribe(self, listener: Callable[[str, int, bool, str], None]) -> None:
        """Call ``listener(toggle, channel, on, source)`` on every change (from any thread)."""
        with self._lock:
            self._listeners.append(listener)

    def snapshot(self) -> dict[tuple[str, int], tuple[bool, str]]:
        with self._lock:
            return dict(self._state)

