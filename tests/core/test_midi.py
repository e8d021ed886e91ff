"""djtui's MIDI ports through a real JACK server: djtui's ports on one side, separate
rtmidi clients (standing in for Rekordbox and loopMIDI) on the other."""

from __future__ import annotations

import threading
import time

import pytest
import rtmidi

from djtui.core.config import MidiConfig
from djtui.core.context import command_for
from djtui.core.context_file import default_context
from djtui.core.decks import DeckState, FEEDBACK_OFFSET
from djtui.core.errors import DjtuiError
from djtui.core.midi import MidiIn, MidiOut, feedback_port, monitor, open_feedback
from djtui.core.midi_ports import list_ports
from djtui.core.records import MidiCommand
from tests.fixtures.loopmidi import LoopMidiPort, wait_connected
from tests.fixtures.midi import connect, drain, receive, wait_for


def test_the_feedback_port_shares_the_output_ports_name() -> None:
    assert feedback_port(MidiConfig()) == "djtui" == MidiConfig().output_port
    assert feedback_port(MidiConfig(output_port="booth")) == "booth"
    assert feedback_port(MidiConfig(output_port="booth", input_port="loopMIDI back")) == "loopMIDI back"


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
        connect(rekordbox_in, "djtui:djtui")
        wait_connected("djtui:djtui")
        out.send(command_for(context.intents["cue"], {"deck": "3"}))
        received = receive(rekordbox_in, 2)
    note_on, release = received
    assert note_on == [0x92, 12, 127]  # note on, channel 3 (deck 3), Cue's note
    assert release == [0x92, 12, 0]  # note off (as note on, velocity 0), same channel and note


@pytest.mark.jack
def test_a_cc_command_is_one_control_change(jack_midi: object, rekordbox_in: rtmidi.MidiIn) -> None:
    with MidiOut(MidiConfig(output_port="djtui cc")) as out:
        connect(rekordbox_in, "djtui cc:djtui cc")
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
        connect(rekordbox_out, "djtui in:djtui")
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
            connect(rekordbox_reads, loopmidi.source)
            connect(rekordbox_writes, loopmidi.sink)
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
        connect(rekordbox, loop.sink)
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
def test_monitor_yields_what_arrives(jack_midi: object, rekordbox_out: rtmidi.MidiOut) -> None:
    stream = monitor(virtual_name="djtui monitor", poll_s=0.05)
    assert next(stream)[1] is None  # port open, nothing yet
    connect(rekordbox_out, "djtui monitor in:djtui monitor")
    wait_connected("djtui monitor in:djtui monitor")
    rekordbox_out.send_message([0x90, 11, 127])
    message = None
    deadline = time.monotonic() + 3
    while message is None and time.monotonic() < deadline:
        _, message = next(stream)
    stream.close()
    assert message is not None and message.type == "note_on" and message.note == 11


@pytest.mark.jack
def test_a_bad_command_sends_nothing_and_a_closed_port_says_so(jack_midi: object, rekordbox_in: rtmidi.MidiIn) -> None:
    out = MidiOut(MidiConfig(output_port="djtui strict"))
    connect(rekordbox_in, "djtui strict:djtui strict")
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
        assert threading.active_count() == before + 2  # its own watch, and the JACK server's
        out.close()
        assert threading.active_count() == before
    finally:
        loop.close()
