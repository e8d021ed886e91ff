"""Push-to-talk on a footswitch: held while its note (or sustain CC) is down."""

from __future__ import annotations

import time

import pytest
import rtmidi

from djtui.core.footswitch import MidiHoldTrigger
from tests.fixtures.loopmidi import wait_connected
from tests.fixtures.midi import wait_for

@pytest.mark.jack
def test_footswitch_hold_trigger(jack_midi: object) -> None:
    footswitch = rtmidi.MidiOut(rtapi=rtmidi.API_UNIX_JACK, name="footswitch")
    footswitch.open_virtual_port("pedal")
    events: list[str] = []
    try:
        with MidiHoldTrigger("pedal", 64, on_press=lambda: events.append("down"),
                             on_release=lambda: events.append("up")) as trigger:
            wait_connected("footswitch:pedal")
            footswitch.send_message([0xB0, 64, 127])  # sustain pedal down
            assert trigger.wait(3.0)
            footswitch.send_message([0xB0, 64, 0])
            wait_for(lambda: not trigger.is_held)
            footswitch.send_message([0x90, 64, 100])  # or a note
            wait_for(lambda: trigger.is_held)
            footswitch.send_message([0x80, 64, 0])
            wait_for(lambda: not trigger.is_held)
            footswitch.send_message([0x90, 65, 100])  # another note: ignored
            time.sleep(0.05)
        assert events == ["down", "up", "down", "up"]
    finally:
        footswitch.close_port()
        footswitch.delete()

