"""The tempo beats and bars are counted in: set by the DJ, tapped, or (later) tracked.

"Fade in over eight bars" needs to know how long a bar is. djtui does not hear the beat
itself yet: the BPM comes from ``[controls] bpm`` or from taps (the Live screen's ``t``,
:class:`TapTempo`). Without one, a duration in beats or bars is refused and only seconds
work, and the per-beat safety limits count a beat as ``[controls] beat_s_without_tempo``;
the HUD says which.

The seam for a tempo heard from the mix (the music-cancellation issue's reference
input): a tracker calls :meth:`Tempo.set` with ``source="tracked"`` whenever it has a
beat; nothing else changes.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Literal

from djtui.core.controls import Duration

Source = Literal["config", "tapped", "tracked"]

MIN_BPM, MAX_BPM = 20.0, 300.0
"""The tempos djtui believes: a tap pattern or a setting outside them is a mistake."""


class Tempo:
    """The current BPM (``None``: none known) and where it came from; thread-safe."""

    def __init__(self, bpm: float | None = None, source: Source = "config") -> None:
        self._lock = threading.Lock()
        self._bpm: float | None = None
        self.source: Source = source
        if bpm is not None:
            self.set(bpm, source)

    @property
    def bpm(self) -> float | None:
        return self._bpm

    def set(self, bpm: float, source: Source) -> None:
        if not MIN_BPM <= bpm <= MAX_BPM:
            raise ValueError(f"{bpm:g} BPM is not a tempo djtui believes ({MIN_BPM:g}-{MAX_BPM:g})")
        with self._lock:
            self._bpm, self.source = float(bpm), source

    def clear(self) -> None:
        with self._lock:
            self._bpm = None

    @property
    def beat_s(self) -> float | None:
        """Seconds per beat; ``None`` without a tempo."""
        bpm = self._bpm
        return None if bpm is None else 60.0 / bpm

    def seconds(self, duration: Duration) -> float | None:
        """``duration`` in seconds; ``None`` when it is in beats and no tempo is known."""
        if duration.unit == "s":
            return duration.amount
        beat = self.beat_s
        return None if beat is None else duration.amount * beat

    def describe(self) -> str:
        bpm = self._bpm
        return f"{bpm:.1f} BPM ({self.source})" if bpm is not None else "no tempo"


class TapTempo:
    """BPM from taps: the mean of the last few intervals, once two taps came close
    enough together. A pause longer than :attr:`MAX_GAP_S` starts a new count."""

    MAX_GAP_S = 2.0
    KEEP = 8

    def __init__(self) -> None:
        self._taps: deque[float] = deque(maxlen=self.KEEP)

    def tap(self, now: float) -> float | None:
        """Note a tap at ``now`` (seconds, monotonic); the BPM once two taps make one."""
        if self._taps and now - self._taps[-1] > self.MAX_GAP_S:
            self._taps.clear()
        self._taps.append(now)
        if len(self._taps) < 2:
            return None
        bpm = 60.0 * (len(self._taps) - 1) / (self._taps[-1] - self._taps[0])
        return bpm if MIN_BPM <= bpm <= MAX_BPM else None
