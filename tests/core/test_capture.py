"""The capture process on its own: what it says on stdout, through a real JACK server.

Each test starts ``python -m djtui.core.capture`` as djtui does and reads its messages
(see the module docstring for the wire format).
"""

from __future__ import annotations

import json
import subprocess
import time
from typing import IO, Any

import numpy as np
import pytest

from djtui.core import capture

RATE, BLOCK = 16000, 512


def start(device: str, channels: int = 1) -> subprocess.Popen[bytes]:
    return subprocess.Popen(capture.command(device, RATE, BLOCK, channels), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)


def message(stdout: IO[bytes]) -> tuple[bytes, Any]:
    """The next message: ``(NEWS, dict)`` or ``(PCM, float32 samples)``."""
    tag, size = capture.HEADER.unpack(stdout.read(capture.HEADER.size))
    payload = stdout.read(size)
    assert len(payload) == size
    return (tag, json.loads(payload)) if tag == capture.NEWS else (tag, np.frombuffer(payload, dtype=np.float32))


def capture_ports() -> set[str]:
    listing = subprocess.run(["jack_lsp"], capture_output=True, text=True, check=True).stdout.split()
    return {port for port in listing if port.startswith("PortAudio") and ":in" in port}


def test_a_missing_device_is_one_failed_message_then_the_child_exits() -> None:
    child = start("no such microphone anywhere")
    tag, news = message(child.stdout)
    assert tag == capture.NEWS
    assert news["failed"]["message"].startswith("audio input 'no such microphone anywhere' not found")
    assert "input_device" in news["failed"]["hint"] or "no input devices" in news["failed"]["hint"]
    assert child.wait(timeout=30) == 0
    assert child.stdout.read() == b""


@pytest.mark.jack
def test_blocks_flow_until_stdin_closes_then_the_child_leaves_the_server(jack_server) -> None:
    before = capture_ports()
    child = start("system")
    try:
        tag, news = message(child.stdout)
        assert tag == capture.NEWS
        assert news["opened"] == {"device": "system", "hostapi": "JACK Audio Connection Kit", "rate": RATE,
                                  "frames": BLOCK, "channels": 1}
        assert len(capture_ports() - before) == 1  # its input port, on the server
        blocks: list[np.ndarray] = []
        while len(blocks) < 20:
            tag, payload = message(child.stdout)
            if tag == capture.PCM:
                blocks.append(payload)
            else:
                assert "lost" in payload  # input lost to a busy machine, counted
        assert all(samples.shape == (BLOCK,) for samples in blocks)
        child.communicate(timeout=30)  # stdin closed (djtui closing, or gone), the rest read
        assert child.returncode == 0
        assert capture_ports() == before
    finally:
        child.kill()


@pytest.mark.jack
def test_a_reader_that_falls_behind_loses_counted_blocks_not_the_stream(jack_server) -> None:
    child = start("system")
    try:
        assert "opened" in message(child.stdout)[1]
        time.sleep(5)  # the pipe (~1 s of blocks) and the child's ring (~2 s) overflow meanwhile
        lost = 0
        for _ in range(500):
            tag, payload = message(child.stdout)
            if tag == capture.NEWS:
                lost = payload["lost"]
                break
        assert lost > 0
        assert [message(child.stdout)[0] for _ in range(10)].count(capture.PCM) >= 9  # and blocks still flow
        assert child.poll() is None
    finally:
        child.communicate(timeout=30)


@pytest.mark.jack
def test_two_channels_come_in_one_stream_interleaved_frame_by_frame(jack_server) -> None:
    """The microphone on input 1 and the mix on input 2 of one interface: one stream, so
    the two are sampled by one clock and every block holds both, aligned."""
    from djtui.bench.jack import Player, patch
    from djtui.core.audio import rescan_devices

    rescan_devices()
    child = start("system", channels=2)
    player = None
    try:
        tag, news = message(child.stdout)
        assert news["opened"]["channels"] == 2
        player = Player("system", RATE, channels=2)
        patch()  # player 1 -> input 1, 2 -> 2
        t = np.arange(RATE * 3) / RATE
        player.play(np.stack([0.5 * np.sin(2 * np.pi * 440 * t), 0.25 * np.sign(np.sin(2 * np.pi * 110 * t))], axis=1))
        frames = []
        for _ in range(300):  # past the blocks from before the player started
            tag, payload = message(child.stdout)
            if tag == capture.PCM:
                assert payload.shape == (2 * BLOCK,)
                if np.any(payload):
                    frames.append(payload.reshape(BLOCK, 2))
                if len(frames) == 10:
                    break
        both = np.concatenate(frames)
        assert np.max(np.abs(both[:, 0])) == pytest.approx(0.5, abs=0.01)  # the sine, on its own channel
        assert set(np.round(np.abs(both[:, 1]), 3)) <= {0.0, 0.25}  # the square wave, on the other
    finally:
        if player is not None:
            player.close()
        child.communicate(timeout=30)
