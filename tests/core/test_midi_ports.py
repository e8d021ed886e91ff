"""The MIDI system and its ports: which ports are djtui's, what can be reached, opening
one by name, and one clear error for each way that fails (through a real JACK server)."""

from __future__ import annotations

import pytest
import rtmidi

from djtui.core.config import MidiConfig
from djtui.core.decks import DeckState
from djtui.core.errors import DjtuiError
from djtui.core.midi import MidiOut, open_feedback
from djtui.core.midi_ports import list_ports, midi_systems, owned_by
from djtui.core.records import MidiCommand
from tests.fixtures.loopmidi import wait_connected
from tests.fixtures.midi import receive

@pytest.mark.parametrize("port, owned", [
    ("djtui", True), ("djtui:djtui", True), ("djtui in:djtui", True), ("djtui-01:djtui", True),
    ("djtui:djtui 128:0", True), ("djtui in:djtui 129:0", True),
    ("djtui monitor:djtui monitor", False), ("loopMIDI:djtui", False), ("djtui:djtui feedback", False),
])
def test_which_listed_ports_are_a_virtual_port_of_that_name(port: str, owned: bool) -> None:
    assert owned_by(port, "djtui") is owned


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
def test_the_ports_command_lists_djtuis_port(jack_midi: object, capsys: pytest.CaptureFixture[str]) -> None:
    from djtui.cli import main

    with MidiOut(MidiConfig(output_port="djtui cli")):
        assert main(["midi", "ports"]) == 0
    assert "djtui cli:djtui cli" in capsys.readouterr().out

