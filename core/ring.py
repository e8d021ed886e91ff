"""A ring of fixed-size audio blocks between one writing and one reading thread.

The capture process (:mod:`djtui.core.capture`) holds one between PortAudio's callback and
the thread that sends blocks to djtui; djtui (:class:`djtui.core.audio.MicrophoneSource`)
holds one between the thread reading the child's pipe and the listener. A reader that
falls a whole ring behind loses the oldest blocks and counts them (:attr:`BlockRing.overrun`)
instead of ever blocking the writer: on an audio path, late is lost.

Bytes only, no numpy: the capture process starts with as little as it can.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class BlockRing:
    """``slots`` blocks of at most ``slot_bytes`` each. The writer fills the next slot in
    place and commits it; the reader copies the oldest unread one out. Only the writer
    touches :attr:`written` and :attr:`last_write`, only the reader :attr:`read` and
    :attr:`overrun`, so neither races the other. The slot after the newest may be being
    filled at any moment, so a reader that far behind skips it too."""

    def __init__(self, slots: int, slot_bytes: int) -> None:
        self.slots, self.slot_bytes = slots, slot_bytes
        self._data = memoryview(bytearray(slots * slot_bytes))
        self._sizes = [0] * slots
        self.written = self.read = 0
        self.overrun = 0
        """Blocks the reader lost by falling a whole ring behind."""
        self.last_write = time.monotonic()
        self.arrived = threading.Event()
        """Set at each commit: a reader may wait on it."""

    def fill(self, write: Callable[[memoryview], int]) -> int:
        """``write(slot)`` fills the next slot (a writable view of ``slot_bytes``) and
        returns the bytes it wrote, which are committed; that count (0: nothing, the
        writer's stream ended) is returned."""
        slot = self.written % self.slots
        start = slot * self.slot_bytes
        size = write(self._data[start : start + self.slot_bytes])
        if size > 0:
            self._sizes[slot] = size
            self.written += 1
            self.last_write = time.monotonic()
            self.arrived.set()
        return size

    def put(self, block: bytes | memoryview) -> None:
        """Copy ``block`` (cut to ``slot_bytes``) into the next slot and commit it."""
        size = min(len(block), self.slot_bytes)

        def copy(slot: memoryview) -> int:
            slot[:size] = block if size == len(block) else memoryview(block)[:size]
            return size

        self.fill(copy)

    def take(self, into: memoryview) -> int:
        """Copy the oldest unread block into ``into`` (at least ``slot_bytes`` long); its
        size in bytes, 0 when there is none."""
        if self.read >= self.written:
            return 0
        if self.written - self.read >= self.slots:
            self.overrun += self.written - self.read - self.slots + 1
            self.read = self.written - self.slots + 1
        slot = self.read % self.slots
        size = self._sizes[slot]
        start = slot * self.slot_bytes
        into[:size] = self._data[start : start + size]
        self.read += 1
        return size
