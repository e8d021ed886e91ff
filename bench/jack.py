"""A private JACK server with the dummy driver, and a player patched into djtui's input:
a sound card without a sound card, for the soak bench and the tests.

``dummy_server()`` starts ``jackd --no-realtime -d dummy -r 16000 -p 512`` under a server
name of its own (so runs never share a server) and points this process and its children
at it (``JACK_DEFAULT_SERVER``); PortAudio and python-rtmidi then reach it like any JACK
set-up. :class:`Player` is a PortAudio output on it; :func:`patch` connects it to
djtui's capture with ``jack_connect``, as a DJ would patch a microphone.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from djtui.core.audio import BLOCK, SAMPLE_RATE
from djtui.core.errors import DjtuiError

SETTINGS = ("JACK_DEFAULT_SERVER", "JACK_NO_AUDIO_RESERVATION", "JACK_NO_START_SERVER")


@dataclass(frozen=True)
class JackServer:
    name: str
    sample_rate: int
    period: int
    log: Path

    def xruns(self) -> int:
        """Over- and underruns the server has logged so far."""
        try:
            return sum("xrun" in line.lower() for line in self.log.read_text(errors="replace").splitlines())
        except OSError:
            return 0


def accepts_clients(env: dict[str, str]) -> bool:
    """Whether a JACK server answers (``jack_lsp`` connects as a client, never starting one)."""
    try:
        done = subprocess.run(["jack_lsp"], env=env, capture_output=True, timeout=5)
    except subprocess.TimeoutExpired:
        return False
    return done.returncode == 0


@contextmanager
def dummy_server(sample_rate: int = SAMPLE_RATE, period: int = BLOCK, prefix: str = "djtui") -> Iterator[JackServer]:
    """A running private JACK server for the ``with`` block (see the module). A missing
    ``jackd`` or one that won't start is a :class:`DjtuiError`."""
    jackd = shutil.which("jackd")
    if jackd is None or shutil.which("jack_lsp") is None:
        raise DjtuiError("jackd/jack_lsp not found", "install JACK (Debian: apt install jackd2; macOS: brew install jack)")
    name = f"{prefix}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    settings = {"JACK_DEFAULT_SERVER": name, "JACK_NO_AUDIO_RESERVATION": "1", "JACK_NO_START_SERVER": "1"}
    saved = {key: os.environ.get(key) for key in SETTINGS}
    env = {**os.environ, **settings}
    log = Path(tempfile.gettempdir()) / f"{name}.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([jackd, "--no-realtime", "-d", "dummy", "-r", str(sample_rate), "-p", str(period)],
                                   env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 15
        while not accepts_clients(env):
            if process.poll() is not None or time.monotonic() > deadline:
                raise DjtuiError(f"jackd did not start: {log.read_text(errors='replace')[-800:]}",
                                 "see the JACK log above; another JACK server may hold the dummy driver")
            time.sleep(0.05)
        os.environ.update(settings)
        yield JackServer(name, sample_rate, period, log)
    finally:
        detach_portaudio()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        process.terminate()
        try:
            # A client killed mid-session makes jackd slow to leave; a kill leaks its slot.
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        log.unlink(missing_ok=True)


def detach_portaudio() -> None:
    """PortAudio's JACK host API keeps a client on the server and aborts the whole
    process at exit (an assert in pa_jack.c) if that server died first: before the server
    goes, make any PortAudio this process started re-enumerate with no JACK to join."""
    if "sounddevice" not in sys.modules:
        return
    from djtui.core.audio import rescan_devices

    os.environ["JACK_DEFAULT_SERVER"] = "djtui-no-server"
    rescan_devices()


class Player:
    """A JACK client (through PortAudio) that plays what it is given, silence otherwise.
    :meth:`play` replaces what is playing; :meth:`queue` appends to it. With
    ``channels=2`` it plays frames × 2 arrays (a microphone and a reference, say); a
    mono array then goes to both."""

    def __init__(self, device: str = "system", rate: int = SAMPLE_RATE, channels: int = 1) -> None:
        import sounddevice as sd

        self._lock = threading.Lock()
        self.channels = channels
        self._audio = np.zeros((0, channels), dtype=np.float32)
        self._position = 0
        self.stream = sd.OutputStream(device=device, channels=channels, samplerate=rate, blocksize=BLOCK,
                                      dtype="float32", callback=self._callback)
        self.stream.start()

    def _callback(self, out: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        with self._lock:
            chunk = self._audio[self._position : self._position + frames]
            self._position += len(chunk)
        out[: len(chunk)] = chunk
        out[len(chunk) :] = 0.0

    def _frames(self, audio: np.ndarray) -> np.ndarray:
        audio = np.asarray(audio, dtype=np.float32)
        return np.repeat(audio[:, None], self.channels, axis=1) if audio.ndim == 1 else audio

    def play(self, audio: np.ndarray) -> None:
        with self._lock:
            self._audio, self._position = self._frames(audio), 0

    def queue(self, audio: np.ndarray) -> None:
        with self._lock:
            self._audio = np.concatenate([self._audio[self._position:], self._frames(audio)])
            self._position = 0

    @property
    def queued_s(self) -> float:
        with self._lock:
            return (len(self._audio) - self._position) / SAMPLE_RATE

    def close(self) -> None:
        self.stream.close()


def portaudio_ports(direction: str) -> list[str]:
    """This process's PortAudio ports on the JACK server (``"input"`` or ``"output"``)."""
    listing = subprocess.run(["jack_lsp", "-p"], capture_output=True, text=True, check=True).stdout.splitlines()
    ports, current = [], None
    for line in listing:
        if not line.startswith(("\t", " ")):
            current = line.strip()
        elif current and f"{direction}," in line and current.startswith("PortAudio"):
            ports.append(current)
    return ports


def patch() -> None:
    """Connect the player's outputs to djtui's capture, channel by channel (both
    PortAudio clients here): its output 1 to input 1, 2 to 2, as cables would."""
    captures, playbacks = portaudio_ports("input"), portaudio_ports("output")
    if not captures or len(captures) != len(playbacks):
        raise DjtuiError(f"cannot patch {playbacks} into {captures}", "one player output per capture input")
    for playback, capture in zip(playbacks, captures):
        subprocess.run(["jack_connect", playback, capture], check=True)
