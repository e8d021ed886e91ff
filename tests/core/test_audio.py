"""Audio in: file blocks, resampling, levels, clear errors for bad input, and a microphone
that survives its JACK server being killed and restarted (real servers, real ports)."""

from __future__ import annotations

import math
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import psutil
import pytest
import soundfile as sf

from djtui.bench.jack import accepts_clients
from djtui.core.audio import BLOCK, SAMPLE_RATE, SILENCE_DBFS, FileSource, MicrophoneSource, level, read_audio
from djtui.core.errors import DjtuiError


def sine(freq: float, seconds: float, rate: int, amplitude: float) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_level_of_known_signals() -> None:
    full_square = np.where(np.arange(BLOCK) % 2 == 0, 1.0, -1.0).astype(np.float32)
    assert level(full_square).rms_dbfs == pytest.approx(0.0, abs=1e-6)
    assert level(full_square).peak_dbfs == pytest.approx(0.0, abs=1e-6)

    half_sine = sine(1000, BLOCK / SAMPLE_RATE, SAMPLE_RATE, 0.5)  # exactly 32 periods
    assert level(half_sine).peak_dbfs == pytest.approx(20 * math.log10(0.5), abs=0.01)
    assert level(half_sine).rms_dbfs == pytest.approx(20 * math.log10(0.5 / math.sqrt(2)), abs=0.01)

    silent = np.zeros(BLOCK, dtype=np.float32)
    assert level(silent) == level(np.zeros(0, dtype=np.float32))
    assert level(silent).rms_dbfs == SILENCE_DBFS


def test_file_source_yields_fixed_blocks_and_keeps_the_signal(tmp_path, speak) -> None:
    speech = speak("play deck two")
    path = tmp_path / "command.wav"
    sf.write(path, speech, SAMPLE_RATE)

    blocks = list(FileSource(path, realtime=False).blocks())

    assert all(b.shape == (BLOCK,) and b.dtype == np.float32 for b in blocks)
    assert len(blocks) == math.ceil(len(speech) / BLOCK)
    joined = np.concatenate(blocks)
    np.testing.assert_allclose(joined[: len(speech)], speech, atol=1e-4)  # 16-bit wav
    assert not joined[len(speech) :].any()  # the last block is padded with silence


def test_file_source_resamples_and_mixes_to_mono(tmp_path) -> None:
    tone = sine(440, 1.0, 44100, 0.5)
    path = tmp_path / "stereo.flac"
    sf.write(path, np.stack([tone, tone], axis=1), 44100)

    audio = read_audio(path)

    assert abs(len(audio) - SAMPLE_RATE) <= BLOCK
    middle = audio[2000:14000]
    assert level(middle).peak_dbfs == pytest.approx(20 * math.log10(0.5), abs=0.1)
    spectrum = np.abs(np.fft.rfft(middle))
    assert np.argmax(spectrum) * SAMPLE_RATE / len(middle) == pytest.approx(440, abs=3)


def test_file_source_in_real_time_takes_as_long_as_the_file(tmp_path) -> None:
    import time

    path = tmp_path / "half.wav"
    sf.write(path, np.zeros(SAMPLE_RATE // 2, dtype=np.float32), SAMPLE_RATE)
    started = time.monotonic()
    list(FileSource(path, realtime=True).blocks())
    assert time.monotonic() - started == pytest.approx(0.5, abs=0.15)


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "no such audio file"), (b"", "not a readable audio file"), (b"RIFF\x00garbage" * 10, "not a readable audio file")],
)
def test_bad_files_are_one_clear_error(tmp_path, content, message) -> None:
    path = tmp_path / "bad.wav"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DjtuiError, match=message) as error:
        FileSource(path)
    assert error.value.hint


def test_empty_wav_is_one_clear_error(tmp_path) -> None:
    path = tmp_path / "empty.wav"
    sf.write(path, np.zeros(0, dtype=np.float32), SAMPLE_RATE)
    with pytest.raises(DjtuiError, match="holds no audio"):
        FileSource(path)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_file_with_nan_or_inf_samples_is_one_clear_error_naming_it(tmp_path, bad) -> None:
    audio = sine(440, 2.0, SAMPLE_RATE, 0.3)
    audio[SAMPLE_RATE + 10] = bad
    path = tmp_path / "broken.wav"
    sf.write(path, audio, SAMPLE_RATE, subtype="FLOAT")
    with pytest.raises(DjtuiError, match=r"broken.wav: holds NaN or infinite samples \(the first at 1.0 s\)") as error:
        FileSource(path)
    assert "16-bit" in error.value.hint
    sf.write(path, np.nan_to_num(audio, posinf=0, neginf=0), SAMPLE_RATE, subtype="FLOAT")
    assert len(read_audio(path)) >= len(audio)  # the same file, mended, reads


def _cut_short(path) -> None:
    """Keep the full header and half of the data, as a recording cut off by a crash."""
    data = path.read_bytes()
    path.write_bytes(data[: 44 + (len(data) - 44) // 2])


def test_a_wav_cut_short_is_refused_the_same_way_live_and_in_evaluation(tmp_path) -> None:
    path = tmp_path / "cut.wav"
    sf.write(path, sine(440, 2.0, SAMPLE_RATE, 0.3), SAMPLE_RATE, subtype="PCM_16")
    _cut_short(path)
    assert sf.info(str(path)).frames == SAMPLE_RATE  # libsndfile reads the half that is there without a word
    said = []
    for read in (FileSource, read_audio):
        with pytest.raises(DjtuiError) as error:
            read(path)
        said.append(error.value.message)
    assert said[0] == said[1] == (f"{path}: cut short: its header promises 32,000 frames (2.00 s), "
                                  "the file holds 16,000 (1.00 s)")


def test_a_float_wav_a_million_times_too_loud_is_refused_live_and_in_evaluation(tmp_path) -> None:
    path = tmp_path / "loud.wav"
    sf.write(path, sine(440, 1.0, SAMPLE_RATE, 0.5) * 1e6, SAMPLE_RATE, subtype="FLOAT")
    said = []
    for read in (FileSource, read_audio):
        with pytest.raises(DjtuiError) as error:
            read(path)
        said.append(error.value.message)
    assert said[0] == said[1] and "peaks at 500,000× full scale (+114 dBFS)" in said[0]


def test_a_float_wav_a_little_past_full_scale_is_clipped_with_a_warning_both_ways(tmp_path, caplog) -> None:
    path = tmp_path / "hot.wav"
    sf.write(path, sine(440, 1.0, SAMPLE_RATE, 1.5), SAMPLE_RATE, subtype="FLOAT")
    with caplog.at_level("WARNING", logger="djtui"):
        live = np.concatenate(list(FileSource(path, realtime=False).blocks()))
        read = read_audio(path)
    assert np.abs(live).max() <= 1.0 and np.abs(read).max() <= 1.0  # the same clipping both ways
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == [f"{path}: peaks at 1.50× full scale (+3.5 dBFS): clipped to full scale"] * 2


def test_a_missing_input_device_is_one_clear_error() -> None:
    with pytest.raises(DjtuiError, match="not found") as error:
        MicrophoneSource("no such microphone anywhere")
    assert "input_device" in error.value.hint or "no input devices" in error.value.hint


class NamedJackServer:
    """jackd (dummy driver, 48 kHz so the capture is resampled) under a fixed name, so it
    can be killed and started again as a DJ's would be; this test's env points at it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, rate: int = 48000) -> None:
        if shutil.which("jackd") is None:
            if os.environ.get("CI"):
                pytest.fail("jackd is required in CI")
            pytest.skip("jackd not found (Debian: apt install jackd2)")
        settings = {"JACK_DEFAULT_SERVER": f"djtui-loss-{uuid.uuid4().hex[:8]}", "JACK_NO_START_SERVER": "1",
                    "JACK_NO_AUDIO_RESERVATION": "1"}
        for key, value in settings.items():
            monkeypatch.setenv(key, value)  # djtui's capture processes inherit it
        self.rate = rate
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(["jackd", "--no-realtime", "-d", "dummy", "-r", str(self.rate), "-p", "1024"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while not accepts_clients(dict(os.environ)):
            assert time.monotonic() < deadline and self.process.poll() is None, "jackd did not start"
            time.sleep(0.1)

    def kill(self) -> None:
        """Stop the server under its clients (SIGTERM; it may take a while to go)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


@pytest.fixture
def named_jack_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[NamedJackServer]:
    server = NamedJackServer(monkeypatch)
    server.start()
    try:
        yield server
    finally:
        server.kill()


class Listening:
    """A :class:`MicrophoneSource` read on a thread, as the pipeline reads it: blocks and
    status messages land in queues."""

    def __init__(self, device: str = "system", **options: Any) -> None:
        self.statuses: queue.Queue[tuple[str, str]] = queue.Queue()
        self.blocks: queue.Queue[np.ndarray] = queue.Queue()
        self.source = MicrophoneSource(device, on_status=lambda message, hint: self.statuses.put((message, hint)),
                                       **options)
        self.failure: BaseException | None = None
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            for block in self.source.blocks():
                self.blocks.put(block)
        except BaseException as exc:  # noqa: BLE001 - the test reports it
            self.failure = exc

    def next_blocks(self, count: int, timeout_s: float = 30.0) -> list[np.ndarray]:
        return [self.blocks.get(timeout=timeout_s) for _ in range(count)]

    def drain(self) -> None:
        while not self.blocks.empty():
            self.blocks.get_nowait()

    def close(self) -> float:
        """Close the source; how long it took."""
        started = time.monotonic()
        self.source.close()
        self.thread.join(timeout=30)
        assert not self.thread.is_alive()
        assert self.failure is None
        return time.monotonic() - started


def capture_processes() -> list[psutil.Process]:
    """This process's capture children (``python -m djtui.core.capture``)."""
    return [child for child in psutil.Process().children(recursive=True)
            if "djtui.core.capture" in " ".join(_cmdline(child))]


def _cmdline(process: psutil.Process) -> list[str]:
    try:
        return process.cmdline()
    except psutil.Error:  # gone meanwhile
        return []


def test_losing_the_device_mid_set_is_reported_not_a_crash(named_jack_server) -> None:
    """A 48 kHz JACK server (so the stream is resampled) is killed under a listening
    source: the source reports the loss, with what to do, and waits; no traceback. In
    this process: PortAudio runs in the capture process, which alone may die of it."""
    listening = Listening()
    try:
        assert listening.source.device_rate == 48000 and "JACK" in listening.source.hostapi
        assert all(block.shape == (BLOCK,) for block in listening.next_blocks(20))  # resampled 48k -> 16k blocks
        named_jack_server.kill()
        message, hint = listening.statuses.get(timeout=30)
        assert message == "audio input lost: system"
        assert "JACK server stopped" in hint and "by itself" in hint
        time.sleep(2 * listening.source.retry_s)
        assert listening.thread.is_alive() and listening.failure is None  # still there, waiting
        assert listening.statuses.empty()  # said once, not once per retry
    finally:
        took = listening.close()
    assert took < 15  # closing never hangs, even mid-retry
    assert capture_processes() == []


def test_a_restarted_jack_server_is_rejoined_by_itself(named_jack_server) -> None:
    """The server killed and started again under the same name: djtui's input comes back
    without a restart, and carries sound (a metronome patched into it) as before."""
    listening = Listening(retry_s=0.5)
    try:
        assert level(np.concatenate(listening.next_blocks(30))).peak_dbfs == SILENCE_DBFS  # the dummy driver: silence
        with metronome():
            assert loudest(listening, seconds=2) > -20  # the clicks reach djtui
        named_jack_server.kill()
        assert listening.statuses.get(timeout=30)[0] == "audio input lost: system"
        time.sleep(1.0)  # a few retries with no server
        named_jack_server.start()
        assert listening.statuses.get(timeout=60) == ("audio input back: system", "")
        with metronome():
            assert loudest(listening, seconds=2) > -20
        assert listening.thread.is_alive() and listening.failure is None
    finally:
        listening.close()
    assert capture_processes() == []


def test_a_capture_that_stops_answering_is_replaced(named_jack_server) -> None:
    """A capture process that hangs (here: stopped by a signal; a USB device that
    vanished without a word looks the same) delivers nothing for ``stall_s``: it is
    reported lost, killed, and a fresh one takes over."""
    listening = Listening(retry_s=0.5, stall_s=1.0)
    try:
        listening.next_blocks(10)
        [hung] = capture_processes()
        hung.suspend()
        assert listening.statuses.get(timeout=30)[0] == "audio input lost: system"
        assert listening.statuses.get(timeout=60) == ("audio input back: system", "")
        listening.drain()
        assert len(listening.next_blocks(20)) == 20
        hung.wait(timeout=30)  # killed, not left behind
        assert [process.pid for process in capture_processes()] != [hung.pid]
    finally:
        listening.close()
    assert capture_processes() == []


@contextmanager
def metronome() -> Iterator[None]:
    """jack_metro clicking 10 times a second (50 ms of 1 kHz at -6 dBFS), patched into
    djtui's capture port."""
    name = f"metro-{uuid.uuid4().hex[:6]}"
    metro = subprocess.Popen(["jack_metro", "-n", name, "-b", "600", "-f", "1000", "-A", "0.5", "-D", "50"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not (outputs := [p for p in jack_ports() if p.startswith(f"{name}:")]):
            assert time.monotonic() < deadline and metro.poll() is None, "jack_metro did not start"
            time.sleep(0.1)
        [capture_port] = [p for p in jack_ports() if p.startswith("PortAudio") and ":in" in p]
        subprocess.run(["jack_connect", outputs[0], capture_port], check=True, timeout=30)
        yield
    finally:
        metro.terminate()
        metro.wait(timeout=30)


def jack_ports() -> list[str]:
    return subprocess.run(["jack_lsp"], capture_output=True, text=True, timeout=30).stdout.split()


def loudest(listening: Listening, seconds: float) -> float:
    """Peak dBFS of the next ``seconds`` of blocks (what arrived before is dropped)."""
    listening.drain()
    return level(np.concatenate(listening.next_blocks(int(seconds * SAMPLE_RATE / BLOCK)))).peak_dbfs


EXITING_LISTENER = r"""
import threading, time
import numpy as np
from djtui.core.audio import MicrophoneSource, list_input_devices, play
from djtui.core.errors import DjtuiError
print("devices", [d["name"] for d in list_input_devices()], flush=True)  # PortAudio in this process, briefly
try:
    play(np.zeros(1600, dtype=np.float32))  # and again (the default output: JACK's, without a sound card)
except DjtuiError:
    pass  # a machine whose default output is busy: not what this test is about
statuses = []
source = MicrophoneSource("system", on_status=lambda message, hint: statuses.append(message))
blocks = source.blocks()
for _ in range(20):
    next(blocks)
print("listening", flush=True)
reader = threading.Thread(target=lambda: [None for _ in blocks], daemon=True)
reader.start()
while not statuses:  # the server is killed meanwhile
    time.sleep(0.05)
print(statuses[0], flush=True)
source.close()
reader.join(30)
print("closed", flush=True)
"""


def test_djtui_exits_cleanly_after_its_jack_server_died(named_jack_server) -> None:
    """A djtui that listed devices, played a take and listened on a JACK server that then
    died exits normally: PortAudio's JACK client, which aborts a process at exit once its
    server is gone (pa_jack.c), lived only in the capture process, and in this one only
    while listing and playing."""
    listener = subprocess.Popen([sys.executable, "-c", EXITING_LISTENER], text=True, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
    try:
        assert "'system'" in listener.stdout.readline()
        assert listener.stdout.readline().strip() == "listening"
        named_jack_server.kill()
        assert listener.stdout.readline().strip() == "audio input lost: system"
        assert listener.stdout.readline().strip() == "closed"
        out, err = listener.communicate(timeout=60)
    finally:
        listener.kill()
    assert listener.returncode == 0, err
    assert "Traceback" not in err and "Assertion" not in err


def test_overruns_count_the_audio_djtui_fell_behind_on(jack_server) -> None:
    """A reader that stops reading for longer than the ring (~2 s) loses the oldest
    blocks; they are counted, and the stream goes on."""
    source = MicrophoneSource("system")
    try:
        blocks = source.blocks()
        for _ in range(10):
            next(blocks)
        before = source.overruns
        time.sleep(4)
        for _ in range(80):  # the ~2 s the ring kept, then fresh ones
            assert next(blocks).shape == (BLOCK,)
        assert source.overruns - before >= 30  # ~2 s of 32 ms blocks
    finally:
        source.close()
