"""Push-to-talk on a footswitch or any controller note: listen while it is held."""

from __future__ import annotations

import threading
from collections.abc import Callable

from djtui.core.midi import MidiIn

class MidiHoldTrigger:
    """Push-to-talk on a footswitch: held while ``note`` is down on the existing input
    port ``port``. A note (velocity > 0 = down) or a CC of that number (>= 64 = down,
    as sustain pedals send) both work. ``on_press``/``on_release`` run on rtmidi's
    thread and must not block."""

    def __init__(self, port: str, note: int, *, on_press: Callable[[], None] | None = None,
                 on_release: Callable[[], None] | None = None, virtual: bool = False,
                 api: str | None = None) -> None:
        self.note = note
        self.on_press = on_press
        self.on_release = on_release
        self._held = threading.Event()
        self._input = MidiIn(port, self._receive, virtual=virtual, api=api)

    @property
    def is_held(self) -> bool:
        return self._held.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the switch is held (or ``timeout``); ``True`` if held."""
        return self._held.wait(timeout)

    def _receive(self, message: list[int]) -> None:
        if len(message) < 3 or message[1] != self.note:
            return
        status = message[0] & 0xF0
        if status == 0x90:
            down = message[2] > 0
        elif status == 0x80:
            down = False
        elif status == 0xB0:
            down = message[2] >= 64
        else:
            return
        if down == self._held.is_set():
            return
        if down:
            self._held.set()
            if self.on_press:
                self.on_press()
        else:
            self._held.clear()
            if self.on_release:
                self.on_release()

    def close(self) -> None:
        self._input.close()

    def __enter__(self) -> MidiHoldTrigger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

