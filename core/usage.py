"""What listening costs: djtui's share of the CPU, and whether it keeps up with the audio.

djtui shares a laptop with Rekordbox, so the DJ should see what it takes. The live
pipeline tells a :class:`UsageMeter` of every block it hears (:meth:`~UsageMeter.heard`)
and of the time each piece of understanding took (:meth:`~UsageMeter.busy`: a glimpse, a
draft, an utterance); every :data:`EVERY_S` seconds of audio the meter reads the CPU
time of this process and its capture child and says, over the last :data:`WINDOW_S`
seconds, as a :class:`~djtui.core.events.Usage`:

- the CPU share: CPU seconds per second, over all cores (0.25: a quarter of the machine);
- the real-time factor: seconds spent understanding per second of audio. Under 1 the
  pipeline keeps up; at 1 or more, commands wait behind each other.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable

from djtui.core.events import Usage

WINDOW_S = 10.0
"""The recent past each reading covers."""
EVERY_S = 2.0
"""Seconds of audio between readings."""


def process_cpu_s() -> float:
    """CPU seconds (user and system) of this process and the processes it started and
    that still run (the capture child)."""
    import psutil

    process = psutil.Process()
    times = process.cpu_times()
    total = times.user + times.system
    try:
        children = process.children(recursive=True)
    except psutil.Error:
        return total
    for child in children:
        try:
            child_times = child.cpu_times()
        except psutil.Error:  # it ended meanwhile
            continue
        total += child_times.user + child_times.system
    return total


class UsageMeter:
    """Counts audio heard and time spent understanding it; :meth:`heard` returns a
    :class:`~djtui.core.events.Usage` every ``every_s`` seconds of audio. ``clock`` and
    ``cpu`` (wall and CPU seconds) are the system's unless given. :meth:`busy` may be
    called from any thread."""

    def __init__(self, window_s: float = WINDOW_S, every_s: float = EVERY_S, cores: int | None = None,
                 clock: Callable[[], float] = time.perf_counter, cpu: Callable[[], float] = process_cpu_s) -> None:
        self.window_s = window_s
        self.every_s = every_s
        self.cores = cores or os.cpu_count() or 1
        self._clock, self._cpu = clock, cpu
        self._lock = threading.Lock()
        self._audio_s = 0.0
        self._busy_s = 0.0
        self._due_at = every_s
        # (wall, cpu, audio heard, busy) at each reading, oldest first
        self._readings: deque[tuple[float, float, float, float]] = deque()
        self._readings.append((clock(), cpu(), 0.0, 0.0))

    def busy(self, seconds: float) -> None:
        """``seconds`` of understanding just finished (a glimpse, a draft, an utterance)."""
        with self._lock:
            self._busy_s += seconds

    def heard(self, seconds: float) -> Usage | None:
        """``seconds`` more audio heard; a reading when one is due."""
        self._audio_s += seconds
        if self._audio_s < self._due_at:
            return None
        self._due_at = self._audio_s + self.every_s
        with self._lock:
            busy = self._busy_s
        now = (self._clock(), self._cpu(), self._audio_s, busy)
        self._readings.append(now)
        while len(self._readings) > 2 and now[0] - self._readings[1][0] >= self.window_s:
            self._readings.popleft()
        then = self._readings[0]
        wall, cpu, audio, work = (a - b for a, b in zip(now, then))
        return Usage(cpu_share=round(max(0.0, cpu) / max(wall, 1e-9) / self.cores, 4),
                     realtime_factor=round(work / max(audio, 1e-9), 4), window_s=round(wall, 2), cores=self.cores)
