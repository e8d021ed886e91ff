"""The MIDI bridge through a real JACK server: djtui's virtual ports on one side, a
separate rtmidi client (standing in for Rekordbox or a footswitch) on the other."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
import rtmidi

from djtui.core.config import MidiConfig
from djtui.core.context import default_context
from djtui.core.errors import DjtuiError
from djtui.core.midi import (
    DeckState,
    MidiCommand,
    MidiHoldTrigger,
    MidiOut,
    command_for,
    list_ports,
    monitor,
    open_feedback,
)


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


# --- commands (no transport) ------------------------------------------------------------

def test_command_for_uses_the_deck_channel_and_keyed_number() -> None:
    context = default_context()
    assert command_for(context.intents["play"], {"deck": "2"}) == MidiCommand("PlayPause", "note", 1, 11, 127)
    loop = command_for(context.intents["loop"], {"deck": "1", "beats": "1/2"})
    assert (loop.function, loop.channel, loop.number) == ("PAD2_BeatLoop", 0, 21)
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


def test_deck_state_reads_rekordbox_feedback_codes() -> None:
    state = DeckState.for_context(default_context())
    assert state.playing(3) is None
    assert state.apply_feedback([0x92, 11, 127])  # PlayPause LED on, deck 3
    assert state.playing(3) is True and state.source("playing", 2) == "feedback"
    assert state.apply_feedback([0x92, 11, 0])
    assert state.playing(3) is False
    assert state.apply_feedback([0x94, 70, 127])  # FX unit on (global channel)
    assert state.get("fx", 4) is True
    assert not state.apply_feedback([0x92, 12, 127])  # Cue: not a toggle djtui tracks
    assert not state.apply_feedback([0xB2, 11, 127])


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
def test_a_command_reaches_another_jack_client_as_note_on_then_off(jack_midi: object, rekordbox_in: rtmidi.MidiIn) -> None:
    context = default_context()
    with MidiOut(MidiConfig(output_port="djtui")) as out:
        _connect(rekordbox_in, "djtui:djtui")
        time.sleep(0.05)  # let JACK wire the connection before the first event
        out.send(command_for(context.intents["cue"], {"deck": "3"}))
        received = receive(rekordbox_in, 2)
    note_on, release = received
    assert note_on == [0x92, 12, 127]  # note on, channel 3 (deck 3), Cue's note
    assert release == [0x92, 12, 0]  # note off (as note on, velocity 0), same channel and note


@pytest.mark.jack
def test_a_cc_command_is_one_control_change(jack_midi: object, rekordbox_in: rtmidi.MidiIn) -> None:
    with MidiOut(MidiConfig(output_port="djtui cc")) as out:
        _connect(rekordbox_in, "djtui cc:djtui cc")
        time.sleep(0.05)
        out.send(MidiCommand("EQLow", "cc", 0, 61, 0))
        out.send(MidiCommand("Browse", "cc", 4, 64, 127))
        received = receive(rekordbox_in, 2)
    assert received == [[0xB0, 61, 0], [0xB4, 64, 127]]


@pytest.mark.jack
def test_feedback_on_the_input_port_updates_deck_state(jack_midi: object, rekordbox_out: rtmidi.MidiOut) -> None:
    state = DeckState.for_context(default_context())
    with open_feedback(MidiConfig(input_port="djtui feedback"), state):
        _connect(rekordbox_out, "djtui feedback:djtui feedback")
        time.sleep(0.05)
        rekordbox_out.send_message([0x91, 11, 127])  # Rekordbox: deck 2 is playing
        wait_for(lambda: state.playing(2) is True)
        rekordbox_out.send_message([0x91, 11, 0])
        wait_for(lambda: state.playing(2) is False)
    assert state.source("playing", 1) == "feedback"


@pytest.mark.jack
def test_a_second_port_of_the_same_name_is_busy(jack_midi: object) -> None:
    with MidiOut(MidiConfig(output_port="djtui busy")):
        with pytest.raises(DjtuiError, match="busy") as info:
            MidiOut(MidiConfig(output_port="djtui busy"))
    assert "another name" in info.value.hint


@pytest.mark.jack
def test_a_missing_existing_port_lists_what_there_is(jack_midi: object) -> None:
    with MidiOut(MidiConfig(output_port="djtui present")):
        with pytest.raises(DjtuiError, match="no MIDI output port named 'loopMIDI Port'"):
            MidiOut(MidiConfig(output_port="loopMIDI Port", virtual=False))


@pytest.mark.jack
def test_an_existing_port_is_opened_by_part_of_its_name(jack_midi: object, rekordbox_in: rtmidi.MidiIn) -> None:
    rekordbox_in.open_virtual_port("loopMIDI Port")
    with MidiOut(MidiConfig(output_port="loopMIDI", virtual=False)) as out:
        time.sleep(0.05)
        out.send(MidiCommand("Sync", "note", 0, 14))
        received = receive(rekordbox_in, 2)
    assert received[0] == [0x90, 14, 127]


@pytest.mark.jack
def test_list_ports_shows_djtuis_virtual_ports(jack_midi: object) -> None:
    with MidiOut(MidiConfig(output_port="djtui listed")):
        assert any(p.startswith("djtui listed") for p in list_ports().inputs)


@pytest.mark.jack
def test_footswitch_hold_trigger(jack_midi: object) -> None:
    footswitch = rtmidi.MidiOut(rtapi=rtmidi.API_UNIX_JACK, name="footswitch")
    footswitch.open_virtual_port("pedal")
    events: list[str] = []
    try:
        with MidiHoldTrigger("pedal", 64, on_press=lambda: events.append("down"),
                             on_release=lambda: events.append("up")) as trigger:
            time.sleep(0.05)
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
    _connect(rekordbox_out, "djtui monitor:djtui monitor")
    time.sleep(0.05)
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
    time.sleep(0.05)
    with pytest.raises(DjtuiError, match="not a valid MIDI command"):
        out.send(MidiCommand("Cue", "note", 0, 12, value=200))  # the press is fine, the velocity is not
    out.send(MidiCommand("Sync", "note", 0, 14))
    assert receive(rekordbox_in, 2) == [[0x90, 14, 127], [0x90, 14, 0]]  # nothing of the bad one
    out.close()
    with pytest.raises(DjtuiError, match="closed"):
        out.send(MidiCommand("Sync", "note", 0, 14))
