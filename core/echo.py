"""djtui's own MIDI, read back: which arrivals on a port are echoes of what it sent.

Ports that loop back (a loopMIDI port, the macOS IAC bus) return every message to every
reader, djtui included. What djtui sent and then reads back on its feedback port is
dropped by :class:`EchoFilter`, so it never counts as Rekordbox's feedback (nor as
"Rekordbox is talking to us").
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence

ECHO_WINDOW_S = 2.0
"""A message read back this soon after djtui sent the same bytes is its own echo
(loopMIDI returns it within a millisecond, a busy machine later; Rekordbox's reports use
other channels, and one that looks the same arrives after the echo it follows)."""


class EchoFilter:
    """What djtui sent on a port, so the same bytes read back on an input of that name
    within :data:`ECHO_WINDOW_S` are known as its own echo and dropped.

    Each sent message excuses one arrival, oldest first: a press sent once and echoed
    once is dropped once; a report that happens to look the same arrives after the echo
    and passes. Thread-safe (sends and the input callback run on different threads).
    """

    def __init__(self, window_s: float = ECHO_WINDOW_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.window_s = window_s
        self.dropped = 0
        """How many echoes were dropped: more than 0 means the port loops back."""
        self._clock = clock
        self._sent: deque[tuple[float, tuple[int, ...]]] = deque()
        self._lock = threading.Lock()

    def sent(self, message: Sequence[int]) -> None:
        with self._lock:
            self._forget_old()
            self._sent.append((self._clock(), tuple(message)))

    def is_echo(self, message: Sequence[int]) -> bool:
        """Whether ``message`` is an echo of something djtui sent (and forget that send)."""
        wanted = tuple(message)
        with self._lock:
            self._forget_old()
            for i, (_, raw) in enumerate(self._sent):
                if raw == wanted:
                    del self._sent[i]
                    self.dropped += 1
                    return True
        return False

    def _forget_old(self) -> None:
        horizon = self._clock() - self.window_s
        while self._sent and self._sent[0][0] < horizon:
            self._sent.popleft()


_echo_filters: dict[str, EchoFilter] = {}


_echo_lock = threading.Lock()


def echo_filter(name: str) -> EchoFilter:
    """The one :class:`EchoFilter` of port name ``name`` in this process: every
    :class:`MidiOut` called ``name`` records into it, and the feedback port
    (:func:`open_feedback`) drops what it recorded."""
    with _echo_lock:
        return _echo_filters.setdefault(name, EchoFilter())

