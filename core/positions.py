"""Where djtui last put each knob and fader: its only knowledge of them.

Rekordbox reports no knob or fader positions on its MIDI output (its mapping files give
continuous controls no output code, and projects driving it over MIDI found none), so
djtui's idea of where the bass knob is comes from what djtui itself sent, and nothing
else. :class:`ControlPositions` holds that: unknown until djtui has set a control, and
the value actually sent after that (a ramp updates it step by step; a ramp halted
halfway leaves it where the last step put it). If the DJ turns the knob with the mouse
or another controller, djtui does not know; a reset or an absolute move makes it right
again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

Key = tuple[str, int]
"""``(control name, MIDI channel)``: ``("eq_low", 1)`` is deck 2's bass knob."""


class ControlPositions:
    """Last sent position (0-1) of each control on each channel; thread-safe (the ramp
    player writes, the safety gate and the HUD read)."""

    def __init__(self) -> None:
        self._positions: dict[Key, float] = {}
        self._lock = threading.Lock()
        self._listeners: list[Callable[[str, int, float], None]] = []

    def get(self, control: str, channel: int) -> float | None:
        """Where djtui last put it; ``None`` when djtui has never set it."""
        with self._lock:
            return self._positions.get((control, channel))

    def set(self, control: str, channel: int, position: float) -> None:
        with self._lock:
            self._positions[(control, channel)] = position
            listeners = list(self._listeners)
        for listener in listeners:
            listener(control, channel, position)

    def forget(self) -> None:
        """Know nothing again (Rekordbox restarted, or the DJ moved things by hand)."""
        with self._lock:
            self._positions.clear()

    def subscribe(self, listener: Callable[[str, int, float], None]) -> None:
        """Call ``listener(control, channel, position)`` on every change, from the thread
        that sent it (the ramp player's): it must return at once."""
        with self._lock:
            self._listeners.append(listener)

    def snapshot(self) -> dict[Key, float]:
        with self._lock:
            return dict(self._positions)
