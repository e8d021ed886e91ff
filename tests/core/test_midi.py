"""The MIDI bridge through a real JACK server: djtui's ports on one side, separate rtmidi
clients (standing in for Rekordbox, loopMIDI or a footswitch) on the other."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest
import rtmidi

from djtui.core.config import MidiConfig
from djtui.core.context import command_for
from djtui.core.context_file import default_context
from djtui.core.decks import DeckState, FEEDBACK_OFFSET, state_reports
from djtui.core.echo import EchoFilter, echo_filter
from djtui.core.errors import DjtuiError
from djtui.core.footswitch import MidiHoldTrigger
from djtui.core.midi import MidiIn, MidiOut, feedback_port, monitor, open_feedback
from djtui.core.midi_ports import owned_by, list_ports, midi_systems
from djtui.core.records import MidiCommand
from tests.fixtures.loopmidi import LoopMidiPort, wait_connected


def wait_for(condition: Callable[[], object], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.005)


def receive(client: rtmidi.MidiIn, n: int, timeout: float = 3.0) -> list[list[int]]:
    """The next ``n`` messages ``client`` receives."""
    received: list[list[int]] = []
    deadline = time.monotonic() + timeout
    while len(received) < n:
        message = client.get_message()
        if message:
            received.append(message[0])
        elif time.monotonic() > deadline:
            raise AssertionError(f"got {received}, expected {n} messages")
        else:
            time.sleep(0.002)
    return received


def drain(client: rtmidi.MidiIn, settle_s: float = 0.2) -> list[list[int]]:
    """Everything ``client`` receives until nothing has come for ``settle_s``."""
    received: list[list[int]] = []
    quiet_since = time.monotonic()
    while time.monotonic() - quiet_since < settle_s:
        message = client.get_message()
        if message:
            received.append(message[0])
            quiet_since = time.monotonic()
        else:
            time.sleep(0.002)
    return received


@pytest.fixture
def rekordbox_in() -> Iterator[rtmidi.MidiIn]:
    """A second JACK MIDI client that reads, as Rekordbox would."""
    client = rtmidi.MidiIn(rtapi=rtmidi.API_UNIX_JACK, name="fake rekordbox")
    yield client
    client.close_port()
    client.delete()


@pytest.fixture
def rekordbox_out() -> Iterator[rtmidi.MidiOut]:
    """A second JACK MIDI client that sends, as Rekordbox's feedback would."""
    client = rtmidi.MidiOut(rtapi=rtmidi.API_UNIX_JACK, name="fake rekordbox out")
    yield client
    client.close_port()
    client.delete()


def _connect(client: rtmidi.MidiIn | rtmidi.MidiOut, port: str) -> None:
    names = client.get_ports()
    client.open_port(names.index(port))


@pytest.fixture
def loopmidi(jack_midi: object) -> Iterator[LoopMidiPort]:
    port = LoopMidiPort("djtui")
    yield port
    port.close()


# --- commands (no transport) ------------------------------------------------------------

def test_command_for_uses_the_deck_channel_and_keyed_number() -> None:
    context = default_context()
    assert command_for(context.intents["play"], {"deck": "2"}) == MidiCommand("PlayPause", "note", 1, 11, 127)
    loop = command_for(context.intents["loop"], {"deck": "1", "beats": "1/2"})
    assert (loop.function, loop.channel, loop.number) == ("BeatLoop", 0, 21)  # the pad holding 1/2 beat
    assert command_for(context.intents["loop"], {"deck": "2", "beats": "4"}).function == "4BeatLoop"
    browse = command_for(context.intents["browse_down"], {})
    assert browse == MidiCommand("Browse", "cc", 4, 64, 1)
    assert browse.messages() == [[0xB4, 64, 1]]


def test_a_button_is_a_press_and_a_release_on_the_same_note() -> None:
    assert MidiCommand("Cue", "note", 2, 12).messages() == [[0x92, 12, 127], [0x92, 12, 0]]


def test_command_for_an_intent_without_action_or_slot_is_a_clear_error() -> None:
    context = default_context()
    with pytest.raises(DjtuiError, match="sends no MIDI"):
        command_for(context.intents["confirm"], {})
    with pytest.raises(DjtuiError, match="slot"):
        command_for(context.intents["play"], {})


# --- deck state -------------------------------------------------------------------------

def test_rekordbox_reports_eight_channels_above_the_press() -> None:
    reports = state_reports(default_context())
    assert reports[(FEEDBACK_OFFSET + 2, 11)] == ("playing", 2)  # PlayPause, deck 3
    assert reports[(FEEDBACK_OFFSET, 18)] == ("loop", 0)  # ReloopExit, deck 1
    assert reports[(FEEDBACK_OFFSET + 4, 70)] == ("fx", 4)  # FX1-1On, global
    assert reports[(FEEDBACK_OFFSET + 4, 60)] == ("cfx", 4)  # CFXOn, global
    states = {state for state, _ in reports.values()}
    assert states == {"playing", "cue", "sync", "master", "loop", "slip", "master_tempo", "key_sync",
                      "headphone_cue", "fx", "cfx"}
    assert all(channel >= FEEDBACK_OFFSET for channel, _ in reports)


def test_deck_state_reads_rekordboxs_reports_and_not_presses() -> None:
    now = [100.0]
    state = DeckState(state_reports(default_context()), clock=lambda: now[0])
    assert state.playing(3) is None and not state.heard
    assert state.apply_feedback([0x9A, 11, 127])  # report: deck 3 plays
    assert state.playing(3) is True and state.source("playing", 2) == "feedback"
    assert state.heard and state.last_heard == 100.0
    assert state.apply_feedback([0x9A, 11, 0])
    assert state.playing(3) is False
    assert state.apply_feedback([0x8C, 70, 64])  # note-off: FX unit off
    assert state.get("fx", 4) is False
    assert state.apply_feedback([0x98, 18, 127]) and state.get("loop", 0) is True
    assert not state.apply_feedback([0x92, 11, 127])  # a press of PlayPause, not a report
    assert state.playing(3) is False
    assert not state.apply_feedback([0xBA, 11, 127])
    assert not state.apply_feedback([0x9A, 13, 127])  # JumpToTrackStart: Rekordbox reports nothing


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


def test_the_feedback_port_shares_the_output_ports_name() -> None:
    assert feedback_port(MidiConfig()) == "djtui" == MidiConfig().output_port
    assert feedback_port(MidiConfig(output_port="booth")) == "booth"
    assert feedback_port(MidiConfig(output_port="booth", input_port="loopMIDI back")) == "loopMIDI back"


@pytest.mark.parametrize("port, owned", [
    ("djtui", True), ("djtui:djtui", True), ("djtui in:djtui", True), ("djtui-01:djtui", True),
    ("djtui:djtui 128:0", True), ("djtui in:djtui 129:0", True),
    ("djtui monitor:djtui monitor", False), ("loopMIDI:djtui", False), ("djtui:djtui feedback", False),
])
def test_which_listed_ports_are_a_virtual_port_of_that_name(port: str, owned: bool) -> None:
    assert owned_by(port, "djtui") is owned


# --- opening ports ----------------------------------------------------------------------

def test_an_unknown_api_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DJTUI_MIDI_API", "firewire")
    with pytest.raises(DjtuiError, match="unknown MIDI API 'firewire'"):
        MidiOut(MidiConfig())


def test_no_reachable_midi_system_is_one_error_with_a_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DJTUI_MIDI_API", "jack")
    monkeypatch.setenv("JACK_DEFAULT_SERVER", "djtui-no-such-server")
    monkeypatch.setenv("JACK_NO_START_SERVER", "1")
    with pytest.raises(DjtuiError, match="cannot reach the MIDI system") as info:
        MidiOut(MidiConfig())
    assert "JACK" in info.value.hint


# --- through JACK -----------------------------------------------------------------------

@pytest.mark.jack
def test_djtuis_input_and_output_share_one_name(jack_midi: object) -> None:
    state = DeckState()
    with MidiOut(MidiConfig()), open_feedback(MidiConfig(), state):
        ports = list_ports()
    assert [p for p in ports.inputs if p.endswith(":djtui")] == ["djtui:djtui"]  # Rekordbox reads commands here
    assert [p for p in ports.outputs if p.endswith(":djtui")] == ["djtui in:djtui"]  # and reports here


@pytest.mark.jack
def test_a_command_reaches_another_jack_client_as_note_on_then_off(jack_midi: object, rekordbox_in: rtmidi.MidiIn) -> None:
    context = default_context()
    with MidiOut(MidiConfig(output_port="djtui")) as out:
        _connect(rekordbox_in, "djtui:djtui")
        wait_connected("djtui:djtui")
        out.send(command_for(context.intents["cue"], {"deck": "3"}))
        received = receive(rekordbox_in, 2)
    note_on, release = received
    assert note_on == [0x92, 12, 127]  # note on, channel 3 (deck 3), Cue's note
    assert release == [0x92, 12, 0]  # note off (as note on, velocity 0), same channel and note


@pytest.mark.jack
def test_a_cc_command_is_one_control_change(jack_midi: object, rekordbox_in: rtmidi.MidiIn) -> None:
    with MidiOut(MidiConfig(output_port="djtui cc")) as out:
        _connect(rekordbox_in, "djtui cc:djtui cc")
        wait_connected("djtui cc:djtui cc")
        out.send(MidiCommand("EQLow", "cc", 0, 61, 0))
        out.send(MidiCommand("Browse", "cc", 4, 64, 127))
        received = receive(rekordbox_in, 2)
    assert received == [[0xB0, 61, 0], [0xB4, 64, 127]]


@pytest.mark.jack
def test_feedback_on_the_shared_name_input_port_updates_deck_state(jack_midi: object,
                                                                  rekordbox_out: rtmidi.MidiOut) -> None:
    state = DeckState.for_context(default_context())
    config = MidiConfig()  # output_port "djtui", input_port empty: the same name
    with MidiOut(config), open_feedback(config, state):
        _connect(rekordbox_out, "djtui in:djtui")
        wait_connected("djtui in:djtui")
        rekordbox_out.send_message([0x99, 11, 127])  # Rekordbox: deck 2 is playing
        wait_for(lambda: state.playing(2) is True)
        rekordbox_out.send_message([0x99, 11, 0])
        wait_for(lambda: state.playing(2) is False)
        rekordbox_out.send_message([0x98, 14, 127])  # Sync on, deck 1
        wait_for(lambda: state.get("sync", 0) is True)
    assert state.source("playing", 1) == "feedback" and state.heard


@pytest.mark.jack
def test_on_a_port_that_loops_back_djtuis_echo_is_ignored(loopmidi: LoopMidiPort) -> None:
    """Windows: djtui and Rekordbox share one loopMIDI port both ways. djtui's press must
    reach Rekordbox once, and its echo must neither count as feedback nor flip state."""
    context = default_context()
    config = MidiConfig(virtual=False)  # the existing port called "djtui"
    state = DeckState.for_context(context)
    rekordbox_reads = rtmidi.MidiIn(rtapi=rtmidi.API_UNIX_JACK, name="fake rekordbox")
    rekordbox_writes = rtmidi.MidiOut(rtapi=rtmidi.API_UNIX_JACK, name="fake rekordbox out")
    try:
        with MidiOut(config) as out, open_feedback(config, state):
            _connect(rekordbox_reads, loopmidi.source)
            _connect(rekordbox_writes, loopmidi.sink)
            wait_connected(loopmidi.source, loopmidi.sink, count=2)
            rekordbox_writes.send_message([0x98, 11, 0])  # Rekordbox reports deck 1 paused
            wait_for(lambda: state.playing(1) is False)
            state.last_heard = None
            echoes = out.echoes.dropped
            out.send(command_for(context.intents["play"], {"deck": "1"}))
            seen_by_rekordbox = drain(rekordbox_reads)
            assert [m for m in seen_by_rekordbox if m[0] & 0x0F < FEEDBACK_OFFSET] == [[0x90, 11, 127], [0x90, 11, 0]]
            wait_for(lambda: out.echoes.dropped == echoes + 2)  # both halves came back round the loop...
            assert not state.heard  # ...and were not taken for Rekordbox talking
            assert state.playing(1) is False and state.source("playing", 0) == "feedback"
            rekordbox_writes.send_message([0x98, 11, 127])  # now Rekordbox says it plays
            wait_for(lambda: state.playing(1) is True)
    finally:
        for client in (rekordbox_reads, rekordbox_writes):
            client.close_port()
            client.delete()


@pytest.mark.jack
def test_an_echo_that_looks_like_a_report_flips_nothing(loopmidi: LoopMidiPort) -> None:
    """A hand-made mapping whose reports use the press's own code (as controllers' files
    do): the echo of a press is byte for byte a report, and must still be dropped."""
    state = DeckState({(0, 11): ("playing", 0)})
    config = MidiConfig(virtual=False)
    with MidiOut(config) as out, open_feedback(config, state):
        wait_connected(loopmidi.sink, loopmidi.source)
        echoes = out.echoes.dropped
        out.send(MidiCommand("PlayPause", "note", 0, 11))
        wait_for(lambda: len(loopmidi.forwarded) == 2)
        wait_for(lambda: out.echoes.dropped == echoes + 2)
    assert state.playing(1) is None and not state.heard


@pytest.mark.jack
def test_a_second_port_of_the_same_name_is_busy(jack_midi: object) -> None:
    with MidiOut(MidiConfig(output_port="djtui busy")), open_feedback(MidiConfig(output_port="djtui busy"), DeckState()):
        with pytest.raises(DjtuiError, match="busy") as info:
            MidiOut(MidiConfig(output_port="djtui busy"))
        assert "another name" in info.value.hint
        with pytest.raises(DjtuiError, match="busy"):
            open_feedback(MidiConfig(output_port="djtui busy"), DeckState())


@pytest.mark.jack
def test_a_missing_existing_port_lists_what_there_is(jack_midi: object) -> None:
    with MidiOut(MidiConfig(output_port="djtui present")):
        with pytest.raises(DjtuiError, match="no MIDI output port named 'loopMIDI Port'"):
            MidiOut(MidiConfig(output_port="loopMIDI Port", virtual=False))


@pytest.mark.jack
def test_an_existing_port_is_opened_by_part_of_its_name(jack_midi: object, rekordbox_in: rtmidi.MidiIn) -> None:
    rekordbox_in.open_virtual_port("loopMIDI Port")
    with MidiOut(MidiConfig(output_port="loopMIDI", virtual=False)) as out:
        wait_connected("fake rekordbox:loopMIDI Port")
        out.send(MidiCommand("Sync", "note", 0, 14))
        received = receive(rekordbox_in, 2)
    assert received[0] == [0x90, 14, 127]


@pytest.mark.jack
def test_a_port_that_goes_and_comes_back_is_reported_once_and_reconnected(jack_midi: object) -> None:
    """loopMIDI quit and started again mid-set: djtui says so once each way, refuses to
    pretend it sent anything meanwhile, and is connected again without a restart."""
    status: list[str] = []
    loop = LoopMidiPort("loopMIDI Port")
    state = DeckState({(8, 11): ("playing", 0)})
    config = MidiConfig(output_port="loopMIDI Port", virtual=False)
    out = MidiOut(config, on_status=status.append, check_s=0.05)
    feedback = MidiIn("loopMIDI Port", state.apply_feedback, virtual=False, on_status=status.append, check_s=0.05)
    rekordbox = rtmidi.MidiOut(rtapi=rtmidi.API_UNIX_JACK, name="fake rekordbox out")
    try:
        wait_connected(loop.sink, loop.source)
        out.send(MidiCommand("Sync", "note", 0, 14))
        wait_for(lambda: loop.forwarded[:1] == [[0x90, 14, 127]])
        loop.close()
        wait_for(lambda: not out.connected and not feedback.connected)
        with pytest.raises(DjtuiError, match=r"is gone \(.*\): Sync not sent") as info:
            out.send(MidiCommand("Sync", "note", 0, 14))
        assert "reconnects by itself" in info.value.hint
        time.sleep(0.2)  # several checks while it is gone: still one report
        loop = LoopMidiPort("loopMIDI Port")
        wait_for(lambda: out.connected and feedback.connected)
        wait_connected(loop.sink, loop.source)
        out.send(MidiCommand("Sync", "note", 0, 15))
        wait_for(lambda: [0x90, 15, 127] in loop.forwarded)
        _connect(rekordbox, loop.sink)
        wait_connected(loop.sink, count=2)
        rekordbox.send_message([0x98, 11, 127])  # feedback flows through the new port too
        wait_for(lambda: state.playing(1) is True)
    finally:
        out.close()
        feedback.close()
        loop.close()
        rekordbox.close_port()
        rekordbox.delete()
    assert sorted(status) == sorted([
        "MIDI output port 'loopMIDI Port' is gone (its program quit or the device was unplugged); "
        "djtui reconnects when it is back",
        "MIDI input port 'loopMIDI Port' is gone (its program quit or the device was unplugged); "
        "djtui reconnects when it is back",
        "MIDI output port 'loopMIDI Port' is back: reconnected",
        "MIDI input port 'loopMIDI Port' is back: reconnected",
    ])


@pytest.mark.jack
def test_list_ports_shows_djtuis_virtual_ports(jack_midi: object) -> None:
    with MidiOut(MidiConfig(output_port="djtui listed")):
        assert any(p.startswith("djtui listed") for p in list_ports().inputs)


@pytest.mark.jack
def test_midi_systems_says_which_can_be_reached(jack_midi: object) -> None:
    systems = {s.api: s for s in midi_systems()}
    assert systems["jack"].ports is not None and systems["jack"].problem == ""
    if "alsa" in systems and systems["alsa"].ports is None:  # no sequencer in a container
        assert "cannot reach the MIDI system" in systems["alsa"].problem


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


@pytest.mark.jack
def test_monitor_yields_what_arrives(jack_midi: object, rekordbox_out: rtmidi.MidiOut) -> None:
    stream = monitor(virtual_name="djtui monitor", poll_s=0.05)
    assert next(stream)[1] is None  # port open, nothing yet
    _connect(rekordbox_out, "djtui monitor in:djtui monitor")
    wait_connected("djtui monitor in:djtui monitor")
    rekordbox_out.send_message([0x90, 11, 127])
    message = None
    deadline = time.monotonic() + 3
    while message is None and time.monotonic() < deadline:
        _, message = next(stream)
    stream.close()
    assert message is not None and message.type == "note_on" and message.note == 11


@pytest.mark.jack
def test_the_ports_command_lists_djtuis_port(jack_midi: object, capsys: pytest.CaptureFixture[str]) -> None:
    from djtui.cli import main

    with MidiOut(MidiConfig(output_port="djtui cli")):
        assert main(["midi", "ports"]) == 0
    assert "djtui cli:djtui cli" in capsys.readouterr().out


@pytest.mark.jack
def test_a_bad_command_sends_nothing_and_a_closed_port_says_so(jack_midi: object, rekordbox_in: rtmidi.MidiIn) -> None:
    out = MidiOut(MidiConfig(output_port="djtui strict"))
    _connect(rekordbox_in, "djtui strict:djtui strict")
    wait_connected("djtui strict:djtui strict")
    with pytest.raises(DjtuiError, match="not a valid MIDI command"):
        out.send(MidiCommand("Cue", "note", 0, 12, value=200))  # the press is fine, the velocity is not
    out.send(MidiCommand("Sync", "note", 0, 14))
    assert receive(rekordbox_in, 2) == [[0x90, 14, 127], [0x90, 14, 0]]  # nothing of the bad one
    out.close()
    with pytest.raises(DjtuiError, match="closed"):
        out.send(MidiCommand("Sync", "note", 0, 14))


@pytest.mark.jack
def test_closing_a_watched_port_stops_its_watch(jack_midi: object) -> None:
    loop = LoopMidiPort("loopMIDI watch")
    try:
        before = threading.active_count()
        out = MidiOut(MidiConfig(output_port="loopMIDI watch", virtual=False), check_s=0.05)
        assert threading.active_count() == before + 1
        out.close()
        assert threading.active_count() == before
    finally:
        loop.close()
