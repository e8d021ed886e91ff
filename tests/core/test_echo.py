"""djtui's own MIDI read back is its echo, dropped once and only soon after sending."""

from __future__ import annotations

from djtui.core.echo import EchoFilter, echo_filter

def test_an_echo_is_dropped_once_and_only_soon_after_sending() -> None:
    now = [0.0]
    echoes = EchoFilter(window_s=0.5, clock=lambda: now[0])
    echoes.sent([0x90, 11, 127])
    echoes.sent([0x90, 11, 0])
    assert echoes.is_echo([0x90, 11, 127])
    assert not echoes.is_echo([0x90, 11, 127])  # sent once, excused once
    assert not echoes.is_echo([0x98, 11, 127])  # a report
    now[0] = 0.6
    assert not echoes.is_echo([0x90, 11, 0])  # too late to be an echo
    assert echoes.dropped == 1
    assert echo_filter("djtui echo test") is echo_filter("djtui echo test")

