"""Ramps, not jumps: approved moves of knobs and faders played as streams of control changes.

Rekordbox jumps an on-screen control straight to any absolute value it receives (as
projects driving it over MIDI report), so a fade is many values, close together:
:class:`RampPlayer` sends one every ``step_s`` (10 ms by default, ``[controls] step_ms``:
about one audio buffer, so a value sent faster is not heard sooner), each a 14-bit MSB/LSB pair on a
``KnobSliderHiRes`` control, on its own thread, from where djtui last put the control to
the move's target, arriving at the target on time (the position is read off the clock at
every step, so a late wake-up never stretches the ramp). Only changed values are sent.

- A new move of the same control (and channel) replaces the running one, from wherever
  that one had got to.
- :meth:`RampPlayer.halt` ("hold it", cancel, disarm, PANIC) stops every ramp where it is:
  once it returns, nothing more is sent.
- A move's ``max_per_s`` (the safety gate's per-beat limit) is kept even if the control
  moved between the verdict and the start: the ramp is lengthened, never sped up.
- Every value sent is written to :class:`~djtui.core.positions.ControlPositions`, so the
  next relative move starts from what Rekordbox was really sent.

Events (:class:`~djtui.core.events.RampStarted`, :class:`~djtui.core.events.RampEnded`)
go to the subscribers in the order things happened; a MIDI port that fails ends every
ramp and is published as an :class:`~djtui.core.events.Error`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from djtui.core.errors import DjtuiError
from djtui.core.events import Error, Event, RampEnd, RampEnded, RampStarted
from djtui.core.positions import ControlPositions
from djtui.core.records import MidiCommand, Move

log = logging.getLogger(__name__)

STEP_S = 0.010
"""Default pace; see ``[controls] step_ms``."""


@dataclass
class _Ramp:
    move: Move
    start: float | None
    seconds: float
    began: float
    position: float | None
    """The last position sent (``None`` until the first value when the start was unknown)."""
    raw: int | None

    def position_at(self, now: float) -> tuple[float, bool]:
        """Where the control should be at ``now``, and whether the ramp is there."""
        if self.start is None or self.seconds <= 0:
            return self.move.target, True
        done = min(1.0, (now - self.began) / self.seconds)
        return self.start + (self.move.target - self.start) * done, done >= 1.0


@dataclass(frozen=True)
class RampState:
    """A ramp in progress, for the HUD: its move, where it started and is now, and how
    far along (0-1)."""

    move: Move
    start: float | None
    position: float | None
    progress: float
    seconds: float


class RampPlayer:
    """``RampPlayer(positions, send).play(move)``. ``send`` is the MIDI output's
    (``MidiOut.send``); ``None`` sends nothing (a dry run) but keeps positions and events
    as if it had. ``clock`` must be monotonic seconds."""

    def __init__(self, positions: ControlPositions, send: Callable[[MidiCommand], None] | None = None, *,
                 step_s: float = STEP_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.positions = positions
        self.step_s = step_s
        self._send = send
        self._clock = clock
        self._ramps: dict[tuple[str, int], _Ramp] = {}
        self._outbox: list[Event] = []
        self._changed = False
        self._closing = False
        self._cond = threading.Condition()
        self._publishing = threading.RLock()
        self._subscribers: list[Callable[[Event], None]] = []
        self._thread: threading.Thread | None = None

    def subscribe(self, callback: Callable[[Event], None]) -> None:
        """Call ``callback(event)`` for every ramp event (on the player's thread or the
        caller's); it must return at once."""
        self._subscribers.append(callback)

    def play(self, move: Move) -> None:
        """Start ``move`` now, replacing a ramp of the same control."""
        with self._cond:
            if self._closing:
                return
            replaced = self._ramps.pop(move.key, None)
            known = self.positions.get(move.control, move.channel)
            start = known if known is not None else move.start
            seconds = move.seconds if start is not None else 0.0
            if start is not None and move.max_per_s:
                seconds = max(seconds, abs(move.target - start) / move.max_per_s)
            raw = move.raw(start) if known is not None else None  # unknown: even the start must be sent
            if replaced is not None:
                self._outbox.append(RampEnded(replaced.move, replaced.position, "replaced"))
            self._outbox.append(RampStarted(move, start, seconds))
            self._ramps[move.key] = _Ramp(move, start, seconds, self._clock(), known, raw)
            self._step(self._clock())  # the first value goes now, not at the thread's next wake-up
            self._changed = True
            self._start_thread()
            self._cond.notify_all()
        self._flush()

    def halt(self, how: RampEnd = "held") -> int:
        """Stop every ramp where it is; how many were running. Nothing more is sent once
        this returns."""
        with self._cond:
            ended = list(self._ramps.values())
            self._ramps.clear()
            self._outbox.extend(RampEnded(r.move, r.position, how) for r in ended)
            self._changed = True
            self._cond.notify_all()
        self._flush()
        return len(ended)

    def active(self) -> list[RampState]:
        """The ramps in progress now."""
        now = self._clock()
        with self._cond:
            return [RampState(r.move, r.start, r.position,
                              1.0 if r.seconds <= 0 else min(1.0, max(0.0, (now - r.began) / r.seconds)), r.seconds)
                    for r in self._ramps.values()]

    def close(self) -> None:
        """Stop every ramp and the thread."""
        self.halt("stopped")
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    # --- the thread ------------------------------------------------------------------

    def _start_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="djtui-ramps", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._ramps and not self._closing:
                    self._cond.wait()
                if self._closing:
                    return
                self._changed = False
                wake = self._step(self._clock())
            self._flush()
            with self._cond:
                timeout = wake - self._clock()
                if timeout > 0 and not self._changed and not self._closing:
                    self._cond.wait(timeout)

    def _step(self, now: float) -> float:
        """Send each ramp's value for ``now`` (under the lock); when to wake next."""
        wake = now + self.step_s
        for key, ramp in list(self._ramps.items()):
            position, done = ramp.position_at(now)
            command = ramp.move.command_at(position)
            if command.value != ramp.raw:
                try:
                    if self._send is not None:
                        self._send(command)
                except DjtuiError as exc:
                    self._fail(exc)
                    return wake
                ramp.raw, ramp.position = command.value, position
                self.positions.set(ramp.move.control, ramp.move.channel, position)
            if done:
                del self._ramps[key]
                self._outbox.append(RampEnded(ramp.move, ramp.position, "done"))
            else:
                wake = min(wake, ramp.began + ramp.seconds)
        return wake

    def _fail(self, exc: DjtuiError) -> None:
        ended = list(self._ramps.values())
        self._ramps.clear()
        self._outbox.append(Error(f"ramps stopped: {exc.message}", exc.hint))
        self._outbox.extend(RampEnded(r.move, r.position, "failed") for r in ended)

    def _flush(self) -> None:
        """Publish what happened, in order, outside the ramp lock."""
        with self._publishing:
            with self._cond:
                events, self._outbox = self._outbox, []
            for event in events:
                for callback in list(self._subscribers):
                    try:
                        callback(event)
                    except Exception:  # noqa: BLE001 - a broken display must not stop a fade
                        log.exception("a ramp subscriber failed on %s", type(event).__name__)
