"""``djtui midi ports`` and ``monitor`` on Linux as a new user meets them: the MIDI system
that answers, no raw ALSA or JACK lines, djtui's own ports told apart, a busy port said
before anything else. Against the tests' real JACK server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from djtui.cli import main
from djtui.core.config import MidiConfig
from djtui.core.decks import DeckState
from djtui.core.midi import MidiOut, open_feedback

NOISE = ("ALSA lib", "Cannot connect to server", "jack server is not running", "JackShmReadWritePtr")
"""What ALSA and libjack print on their own when a system is not there."""

ALSA_THERE = Path("/dev/snd/seq").exists()


def _djtui(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "DJTUI_MIDI_API"} | env
    return subprocess.run([sys.executable, "-m", "djtui", *args], capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL, env=environment)


@pytest.mark.jack
def test_without_an_api_the_doctor_uses_the_system_that_answers(jack_server: object) -> None:
    done = _djtui("midi", "doctor", "--wait", "0")
    assert done.returncode == 1, done.stdout + done.stderr  # ran; only Rekordbox's feedback is missing
    [chosen] = [line for line in done.stdout.splitlines() if "← djtui uses this" in line]
    assert " reachable" in chosen and "not reachable" not in chosen
    if not ALSA_THERE:
        assert chosen.split() [0] == "jack"  # JACK answers, ALSA does not: JACK
    assert not [line for line in (done.stdout + done.stderr).splitlines() if line.startswith(NOISE)]


@pytest.mark.skipif(ALSA_THERE, reason="the ALSA sequencer is loaded here: nothing to complain about")
def test_an_unreachable_alsa_is_one_line_of_djtuis_own() -> None:
    done = _djtui("midi", "ports", "--api", "alsa")
    assert done.returncode == 2
    assert done.stderr.splitlines()[0].startswith("djtui: cannot reach the MIDI system")
    assert not [line for line in done.stderr.splitlines() if line.startswith(NOISE)]


@pytest.mark.jack
def test_monitor_on_djtuis_own_busy_port_says_busy_before_listening(jack_midi: object,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    with MidiOut(MidiConfig()), open_feedback(MidiConfig(), DeckState()):  # another djtui, running
        assert main(["midi", "monitor"]) == 2
    err = capsys.readouterr().err
    assert "MIDI port 'djtui' is busy" in err and "listening on" not in err


@pytest.mark.jack
def test_ports_does_not_offer_djtuis_own_ports_as_others(jack_midi: object, capsys: pytest.CaptureFixture[str]) -> None:
    with MidiOut(MidiConfig()), open_feedback(MidiConfig(), DeckState()):  # another djtui, running
        assert main(["midi", "ports"]) == 0
    out = capsys.readouterr().out
    inputs = out.split("inputs (djtui can read):")[1].split("outputs")[0]
    outputs = out.split("outputs (djtui can send to):")[1].split("djtui's own")[0]
    assert "djtui:djtui" not in inputs and "djtui in:djtui" not in outputs
    assert "djtui's own ports, open in another djtui: djtui:djtui, djtui in:djtui" in out
