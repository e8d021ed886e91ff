"""The ramp player on its own thread, against a real clock: streams of control changes
that arrive on time, replace each other, and stop the moment they are told to."""

from __future__ import annotations

import threading
import time

import pytest

from djtui.core.errors import DjtuiError
from djtui.core.events import Error, RampEnded, RampStarted
from djtui.core.positions import ControlPositions
from djtui.core.ramps import RampPlayer
from djtui.core.records import MidiCommand, Move


class Port:
    """Where the ramp player's control changes go: each with the time it was sent."""

    def __init__(self, fail_after: int | None = None) -> None:
        self.sent: list[tuple[float, MidiCommand]] = []
        self.fail_after = fail_after
        self.lock = threading.Lock()

    def send(self, command: MidiCommand) -> None:
        with self.lock:
            if self.fail_after is not None and len(self.sent) >= self.fail_after:
                raise DjtuiError("MIDI port 'djtui' is gone", "plug it back in")
            self.sent.append((time.monotonic(), command))

    def values(self) -> list[int]:
        with self.lock:
            return [c.value for _, c in self.sent]


def fader(start: float | None, target: float, seconds: float, max_per_s: float | None = None) -> Move:
    return Move("fader", "ChannelFader", 1, 19, True, 2, start, target, seconds, max_per_s)


@pytest.fixture
def player():
    positions = ControlPositions()
    port = Port()
    ramps = RampPlayer(positions, port.send)
    events: list = []
    ramps.subscribe(events.append)
    yield ramps, positions, port, events
    ramps.close()


def wait_for(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_a_ramp_is_a_monotone_stream_that_arrives_on_time(player) -> None:
    ramps, positions, port, events = player
    positions.set("fader", 1, 0.0)
    began = time.monotonic()
    ramps.play(fader(0.0, 1.0, 0.6))
    wait_for(lambda: any(isinstance(e, RampEnded) for e in events))
    values = port.values()
    assert values == sorted(values) and len(set(values)) == len(values)  # only changes are sent
    assert values[-1] == 16383
    last_at = port.sent[-1][0]
    assert abs((last_at - began) - 0.6) < 0.032  # on time, within one audio block
    gaps = [b[0] - a[0] for a, b in zip(port.sent, port.sent[1:])]
    assert max(gaps) < 0.1 and len(values) > 30  # a step every 10 ms or so, never a stall (a loaded CI stretches one)
    assert positions.get("fader", 1) == 1.0
    assert [type(e) for e in events] == [RampStarted, RampEnded] and events[1].how == "done"


def test_a_new_move_of_the_same_control_takes_over_where_the_last_one_got_to(player) -> None:
    ramps, positions, port, events = player
    positions.set("fader", 1, 0.0)
    ramps.play(fader(0.0, 1.0, 1.0))
    time.sleep(0.3)
    ramps.play(fader(None, 0.0, 0.3))  # the gate's idea of the start may be stale: the player's is not
    wait_for(lambda: sum(isinstance(e, RampEnded) for e in events) == 2)
    replaced, second = events[1], events[2]
    assert isinstance(replaced, RampEnded) and replaced.how == "replaced" and 0.2 < replaced.position < 0.45
    assert isinstance(second, RampStarted) and second.start == replaced.position
    values = port.values()
    peak = values.index(max(values))
    assert values[:peak + 1] == sorted(values[:peak + 1]) and values[peak:] == sorted(values[peak:], reverse=True)
    assert values[-1] == 0  # no jump: down from where it was, not from the top


def test_halt_stops_every_ramp_where_it_is_and_nothing_follows(player) -> None:
    ramps, positions, port, events = player
    positions.set("fader", 1, 0.0)
    positions.set("crossfader", 4, 0.0)
    ramps.play(fader(0.0, 1.0, 2.0))
    ramps.play(Move("crossfader", "CrossFader", 4, 31, True, None, 0.0, 1.0, 2.0))
    time.sleep(0.2)
    assert ramps.halt("panic") == 2
    count = len(port.sent)
    time.sleep(0.1)
    assert len(port.sent) == count and ramps.active() == []
    ended = [e for e in events if isinstance(e, RampEnded)]
    assert {e.how for e in ended} == {"panic"} and len(ended) == 2
    assert 0.0 < positions.get("fader", 1) < 0.3  # memory is the last value sent, not the target


def test_the_limit_travels_with_the_move(player) -> None:
    ramps, positions, port, events = player
    positions.set("fader", 1, 0.0)  # the gate planned from 0.5, but the fader is at 0 now
    ramps.play(fader(0.5, 1.0, 0.25, max_per_s=2.0))
    started = next(e for e in events if isinstance(e, RampStarted))
    assert started.start == 0.0 and started.seconds == pytest.approx(0.5)  # lengthened, never sped up


def test_a_control_djtui_never_set_gets_one_jump(player) -> None:
    ramps, positions, port, events = player
    ramps.play(fader(None, 0.5, 2.0))
    wait_for(lambda: any(isinstance(e, RampEnded) for e in events))
    assert [c.messages() for _, c in port.sent] == [[[0xB1, 19, 64], [0xB1, 51, 0]]]
    assert events[0].seconds == 0.0


def test_a_fade_in_from_an_unknown_fader_starts_by_sending_its_start(player) -> None:
    ramps, positions, port, events = player
    ramps.play(fader(0.0, 1.0, 0.2))
    wait_for(lambda: any(isinstance(e, RampEnded) for e in events))
    assert port.values()[0] == 0 and port.values()[-1] == 16383


def test_a_port_that_fails_ends_the_ramps_and_says_so() -> None:
    positions, port = ControlPositions(), Port(fail_after=3)
    ramps = RampPlayer(positions, port.send)
    events: list = []
    ramps.subscribe(events.append)
    positions.set("fader", 1, 0.0)
    try:
        ramps.play(fader(0.0, 1.0, 1.0))
        wait_for(lambda: any(isinstance(e, RampEnded) for e in events))
    finally:
        ramps.close()
    assert any(isinstance(e, Error) and "gone" in e.message for e in events)
    assert [e.how for e in events if isinstance(e, RampEnded)] == ["failed"]
    assert len(port.sent) == 3 and positions.get("fader", 1) == pytest.approx(port.sent[-1][1].value / 16383, abs=1e-4)


def test_a_dry_run_moves_djtuis_memory_and_sends_nothing() -> None:
    positions = ControlPositions()
    ramps = RampPlayer(positions, None)
    try:
        ramps.play(fader(None, 0.25, 0.0))
        wait_for(lambda: positions.get("fader", 1) is not None)
    finally:
        ramps.close()
    assert positions.get("fader", 1) == 0.25
