"""``djtui audio doctor`` against a real JACK server: a microphone on input 1 and the
reference on input 2 (the mix, silence, or other music), and what the doctor says."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from djtui.bench.jack import Player, patch, portaudio_ports
from djtui.core.audio import rescan_devices
from tests.fixtures.booth import room, song, through


@pytest.fixture
def portaudio_on_jack(jack_server, monkeypatch):
    rescan_devices()
    yield jack_server
    monkeypatch.setenv("JACK_DEFAULT_SERVER", "djtui-no-server")
    rescan_devices()


def doctor(program: np.ndarray, capsys: pytest.CaptureFixture[str], *flags: str) -> tuple[int, str]:
    """Run the doctor on ``system`` while a player plays ``program`` (frames × inputs) into it."""
    from djtui.cli import main

    player = Player("system", channels=program.shape[1])
    player.play(program)

    def connect() -> None:  # once the doctor's capture has its ports
        deadline = time.monotonic() + 30
        while len(portaudio_ports("input")) < program.shape[1] and time.monotonic() < deadline:
            time.sleep(0.05)
        patch()

    threading.Thread(target=connect, daemon=True).start()
    try:
        code = main(["audio", "doctor", "--device", "system", *flags])
    finally:
        player.close()
    return code, capsys.readouterr().out


@pytest.mark.jack
@pytest.mark.slow
def test_the_doctor_says_whether_the_reference_carries_the_music_the_microphone_hears(portaudio_on_jack, capsys) -> None:
    music = song("chaos_god", 50, 30)
    heard = through(music, delay_ms=130, response=room(0.5), level=0.05)

    code, out = doctor(np.stack([heard, music], axis=1), capsys, "--reference-channel", "2")
    assert code == 0, out
    assert "reference: input 2 of system (the microphone's own interface: one clock)" in out
    assert "the reference carries the music the microphone hears: 130 ms ahead of it" in out
    assert "Next: nothing to fix" in out

    code, out = doctor(np.stack([heard, np.zeros_like(music)], axis=1), capsys, "--reference-channel", "2")
    assert code == 1
    assert "reference level: silent" in out and "the reference is silent" in out

    other = song("mutilated_mime", 30, 30)
    code, out = doctor(np.stack([heard, other], axis=1), capsys, "--reference-channel", "2", "--seconds", "7")
    assert code == 1
    assert "does not carry the music the microphone hears" in out and "a match scores 9 or more" in out


@pytest.mark.jack
def test_without_a_reference_the_doctor_says_so_and_how_to_connect_one(portaudio_on_jack, capsys) -> None:
    code, out = doctor(np.zeros((16000 * 3, 1), np.float32), capsys, "--seconds", "1")
    assert code == 0
    assert "reference: none set: djtui hears the microphone as it is" in out
    assert "[audio] reference_channel = 2" in out
