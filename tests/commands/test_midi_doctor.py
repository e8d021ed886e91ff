"""``djtui midi doctor`` against a real JACK server: what it finds, the harmless pulse,
Rekordbox's feedback (or its absence), and the next step it prints."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest
import rtmidi

from djtui.cli import main
from djtui.core.context_file import default_context
from djtui.core.decks import FEEDBACK_OFFSET
from djtui.core.rekordbox import decode, plan_export
from tests.fixtures.loopmidi import LoopMidiPort, wait_connected


class FakeRekordbox:
    """Waits for djtui's ports to appear, connects to both as Rekordbox does, records
    what djtui sends and, once connected, reports deck 2 playing."""

    def __init__(self, report: bool = True) -> None:
        self.heard: list[list[int]] = []
        self._report = report
        self._reads = rtmidi.MidiIn(rtapi=rtmidi.API_UNIX_JACK, name="fake rekordbox")
        self._writes = rtmidi.MidiOut(rtapi=rtmidi.API_UNIX_JACK, name="fake rekordbox out")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            sources, sinks = self._reads.get_ports(), self._writes.get_ports()
            if "djtui:djtui" in sources and "djtui in:djtui" in sinks:
                break
            time.sleep(0.01)
        else:
            return
        self._reads.open_port(self._reads.get_ports().index("djtui:djtui"))
        self._writes.open_port(self._writes.get_ports().index("djtui in:djtui"))
        wait_connected("djtui:djtui", "djtui in:djtui")
        if self._report:
            self._writes.send_message([0x90 | (1 + FEEDBACK_OFFSET), 11, 127])  # deck 2 plays
        while not self._stop.is_set():
            message = self._reads.get_message()
            if message:
                self.heard.append(message[0])
            else:
                time.sleep(0.002)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for client in (self._reads, self._writes):
            client.close_port()
            client.delete()


@pytest.fixture
def rekordbox(jack_midi: object) -> Iterator[FakeRekordbox]:
    fake = FakeRekordbox()
    yield fake
    fake.close()


@pytest.mark.jack
def test_doctor_sees_rekordbox_answer_and_says_all_is_well(rekordbox: FakeRekordbox,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["midi", "doctor", "--pulse", "--wait", "5"]) == 0
    out = capsys.readouterr().out
    assert "jack     reachable  ← djtui uses this" in out
    assert "djtui's ports: 'djtui' (commands to Rekordbox) and 'djtui' (its feedback)" in out
    assert "other programs see them as: djtui:djtui, djtui in:djtui" in out
    assert "Rekordbox reports playing on (deck 2)" in out
    assert "Next: nothing to fix" in out
    # the pulse reached Rekordbox, once, on a note the mapping leaves alone (never play or cue)
    assert len(rekordbox.heard) == 2
    press, release = rekordbox.heard
    assert press[2] == 127 and release[:2] == press[:2] and release[2] == 0
    mapped = {c for row in plan_export(default_context()).rows for c in row.input_codes()}
    assert f"{press[0]:02X}{press[1]:02X}" not in mapped
    assert decode(f"{press[0]:02X}{press[1]:02X}")[1] < FEEDBACK_OFFSET  # not on a report channel
    assert f"note {press[1]} on MIDI channel {(press[0] & 0x0F) + 1}" in out


@pytest.mark.jack
def test_doctor_without_an_answer_says_what_to_do_and_needs_no_keyboard(jack_midi: object) -> None:
    done = subprocess.run([sys.executable, "-m", "djtui", "midi", "doctor", "--wait", "0.5"], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=60, env={**os.environ, "DJTUI_MIDI_API": "jack"})
    assert done.returncode == 1, done.stderr
    assert "Next: nothing came back from Rekordbox" in done.stdout
    for step in ("Quit Rekordbox", "Performance mode", "Preferences > Controller > MIDI", "Import",
                 "djtui midi export-rekordbox"):
        assert step in done.stdout


@pytest.mark.jack
def test_doctor_on_a_port_that_loops_back_says_so(jack_midi: object, tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    loop = LoopMidiPort("djtui")
    config = tmp_path / "config.toml"
    config.write_text("[midi]\nvirtual = false\n")
    try:
        assert main(["--config", str(config), "midi", "doctor", "--pulse", "--wait", "2"]) == 1
    finally:
        loop.close()
    out = capsys.readouterr().out
    assert "existing ports (loopMIDI)" in out
    assert "2 of djtui's own messages came back on its input: the port loops back" in out
    assert "Start loopMIDI with the port 'djtui', then djtui" in out


def test_doctor_with_no_reachable_midi_system_exits_with_one_clear_message(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DJTUI_MIDI_API", "jack")
    monkeypatch.setenv("JACK_DEFAULT_SERVER", "djtui-no-such-server")
    monkeypatch.setenv("JACK_NO_START_SERVER", "1")
    assert main(["midi", "doctor", "--wait", "0"]) == 2
    captured = capsys.readouterr()
    assert "jack     not reachable: cannot reach the MIDI system" in captured.out
    assert "djtui: cannot reach the MIDI system" in captured.err and "start the JACK server" in captured.err
    assert "Traceback" not in captured.err
