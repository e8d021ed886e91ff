"""Audio in: fixed 16 kHz mono blocks from a microphone or a file, and their levels.

Everything downstream (VAD, endpointing, ASR) sees one thing: ``float32`` blocks of
:data:`BLOCK` samples at :data:`SAMPLE_RATE`. A device running at another rate is
resampled with soxr's streaming resampler; a file is decoded with soundfile.

The PortAudio callback is the one place that must never stall: it copies the device's
block into a preallocated ring and moves an index. Resampling, level metering and
everything else happen on the reader's thread.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from djtui.core.errors import DjtuiError
from djtui.core.events import Level

SAMPLE_RATE = 16000
BLOCK = 512
"""Samples per block: 32 ms at 16 kHz, the step silero-vad takes."""
SILENCE_DBFS = -120.0
"""Level reported for digital silence (log of zero)."""


def level(block: np.ndarray) -> Level:
    """RMS and peak of ``block`` in dBFS, floored at :data:`SILENCE_DBFS`."""
    if block.size == 0:
        return Level(SILENCE_DBFS, SILENCE_DBFS)
    rms = math.sqrt(float(np.dot(block, block)) / block.size)
    peak = float(np.max(np.abs(block)))
    return Level(_dbfs(rms), _dbfs(peak))


def _dbfs(amplitude: float) -> float:
    return max(SILENCE_DBFS, 20.0 * math.log10(amplitude)) if amplitude > 0 else SILENCE_DBFS


StatusCallback = Callable[[str, str], None]
"""``on_status(message, hint)``: a device went away or came back."""


class AudioSource(Protocol):
    """Anything that yields 16 kHz mono blocks of :data:`BLOCK` samples until closed."""

    def blocks(self) -> Iterator[np.ndarray]: ...

    def close(self) -> None: ...


class _Rebuffer:
    """Cuts a stream of arbitrary-length chunks into exact ``size``-sample blocks."""

    def __init__(self, size: int) -> None:
        self._buffer = np.zeros(size * 8, dtype=np.float32)
        self._filled = 0
        self.size = size

    def push(self, chunk: np.ndarray) -> Iterator[np.ndarray]:
        start = 0
        while start < len(chunk):
            take = min(len(chunk) - start, len(self._buffer) - self._filled)
            self._buffer[self._filled : self._filled + take] = chunk[start : start + take]
            self._filled += take
            start += take
            yield from self._drain()

    def _drain(self) -> Iterator[np.ndarray]:
        offset = 0
        while self._filled - offset >= self.size:
            yield self._buffer[offset : offset + self.size].copy()
            offset += self.size
        if offset:
            self._buffer[: self._filled - offset] = self._buffer[offset : self._filled]
            self._filled -= offset

    def flush(self) -> Iterator[np.ndarray]:
        """The last partial block, padded with silence."""
        if self._filled:
            block = np.zeros(self.size, dtype=np.float32)
            block[: self._filled] = self._buffer[: self._filled]
            self._filled = 0
            yield block


def _resampler(in_rate: int, out_rate: int) -> Any:
    import soxr

    return soxr.ResampleStream(in_rate, out_rate, 1, dtype="float32", quality="HQ")


# --- files -------------------------------------------------------------------------------


class FileSource:
    """A wav/flac file as the microphone: same blocks, in real time or as fast as possible.

    Raises :class:`DjtuiError` for a missing, unreadable or empty file, or one holding
    NaN/Inf samples, when created, so a bad ``--input`` fails before anything is loaded
    (a file is not a live stream: there is nothing to keep going for).
    """

    def __init__(self, path: str | Path, realtime: bool = True, sample_rate: int = SAMPLE_RATE, block: int = BLOCK) -> None:
        import soundfile as sf

        self.path = Path(path)
        self.realtime = realtime
        self.sample_rate = sample_rate
        self.block = block
        self._closed = threading.Event()
        if not self.path.is_file():
            raise DjtuiError(f"{self.path}: no such audio file", "give a .wav or .flac file")
        try:
            info = sf.info(str(self.path))
        except (sf.LibsndfileError, RuntimeError, OSError) as exc:
            raise DjtuiError(f"{self.path}: not a readable audio file ({exc})", "give a .wav or .flac file") from None
        if info.frames <= 0 or info.samplerate <= 0:
            raise DjtuiError(f"{self.path}: the file holds no audio", "record or synthesise the command again")
        if info.subtype in ("FLOAT", "DOUBLE"):
            _check_finite(self.path)
        self.file_rate = int(info.samplerate)
        self.duration_s = info.frames / info.samplerate

    def blocks(self) -> Iterator[np.ndarray]:
        import soundfile as sf

        rebuffer = _Rebuffer(self.block)
        resampler = _resampler(self.file_rate, self.sample_rate) if self.file_rate != self.sample_rate else None
        block_s = self.block / self.sample_rate
        started = time.monotonic()
        emitted = 0
        chunk_frames = max(1, self.file_rate * self.block // self.sample_rate)
        try:
            with sf.SoundFile(str(self.path)) as f:
                for chunk in f.blocks(blocksize=chunk_frames, dtype="float32", always_2d=True):
                    mono = chunk.mean(axis=1, dtype=np.float32) if chunk.shape[1] > 1 else chunk[:, 0]
                    if resampler is not None:
                        mono = resampler.resample_chunk(np.ascontiguousarray(mono))
                    for block in rebuffer.push(mono):
                        if self._closed.is_set():
                            return
                        if self.realtime:
                            delay = started + emitted * block_s - time.monotonic()
                            if delay > 0:
                                time.sleep(delay)
                        emitted += 1
                        yield block
                tail = resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True) if resampler is not None else None
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise DjtuiError(f"{self.path}: the file is damaged ({exc})", "re-export it as wav or flac") from None
        if tail is not None and len(tail):
            yield from rebuffer.push(tail)
        yield from rebuffer.flush()

    def close(self) -> None:
        self._closed.set()


def _check_finite(path: Path, chunk_frames: int = 1 << 16) -> None:
    """:class:`DjtuiError` if a floating-point file holds NaN or infinite samples: they
    would pass through the VAD and the models as silence or garbage, unannounced. Only
    float files can hold them, so only those pay for this read (~0.1 s a minute)."""
    import soundfile as sf

    try:
        with sf.SoundFile(str(path)) as f:
            start = 0
            for chunk in f.blocks(blocksize=chunk_frames, dtype="float32", always_2d=True):
                finite = np.isfinite(chunk).all(axis=1)
                if not finite.all():
                    at = (start + int(np.argmin(finite))) / f.samplerate
                    raise DjtuiError(f"{path}: holds NaN or infinite samples (the first at {at:.1f} s)",
                                     "re-export it from your editor as 16-bit PCM wav")
                start += len(chunk)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise DjtuiError(f"{path}: the file is damaged ({exc})", "re-export it as wav or flac") from None


def read_audio(path: str | Path, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """A whole file as one mono ``float32`` array at ``sample_rate``: the one way djtui
    reads a clip (evaluation, training, tests). A missing, unreadable or empty file, or
    one holding NaN or infinite samples, is a :class:`DjtuiError` naming it; samples past
    full scale (a float file) are clipped, with a warning."""
    import soundfile as sf

    path = Path(path)
    try:
        audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except FileNotFoundError:
        raise DjtuiError(f"{path}: no such audio file", "check the path (and --data for labels)") from None
    except (OSError, RuntimeError, sf.LibsndfileError) as exc:
        raise DjtuiError(f"{path}: not a readable audio file ({exc})", "use WAV, FLAC or OGG") from None
    if not audio.size:
        raise DjtuiError(f"{path}: holds no audio", "record or export it again, or leave it out")
    if not np.isfinite(audio).all():
        raise DjtuiError(f"{path}: holds NaN or infinite samples", "re-export it from your editor as 16-bit PCM wav")
    audio = audio.mean(axis=1) if audio.shape[1] > 1 else audio[:, 0]
    if np.abs(audio).max() > 1.0:
        logging.getLogger(__name__).info("%s: samples past full scale, clipped", path)
        audio = np.clip(audio, -1.0, 1.0)
    if rate != sample_rate:
        import soxr

        audio = soxr.resample(audio, rate, sample_rate)
        if not audio.size:  # a few samples at an odd rate resample to none
            raise DjtuiError(f"{path}: too short to hold audio", "record or export it again, or leave it out")
    return np.ascontiguousarray(audio, dtype=np.float32)


# --- microphones -------------------------------------------------------------------------


def _sounddevice() -> Any:
    try:
        import sounddevice
    except OSError as exc:  # the module loads libportaudio at import
        raise DjtuiError(
            f"cannot use the sound system: PortAudio is missing ({exc})",
            "install PortAudio (Debian/Ubuntu: apt install libportaudio2; macOS: brew install portaudio)",
        ) from None
    return sounddevice


def play(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> None:
    """Play ``audio`` on the default output and wait until it has played."""
    sd = _sounddevice()
    try:
        sd.play(audio, sample_rate, blocking=True)
    except Exception as exc:  # noqa: BLE001 - PortAudio raises many kinds
        raise DjtuiError(f"cannot play back ({exc})", "check the audio output device") from None


def rescan_devices() -> None:
    """Make PortAudio enumerate devices again (a device plugged in, a JACK server
    started since). Closes every open stream of this process: call it before opening."""
    sd = _sounddevice()
    sd._terminate()
    sd._initialize()


def list_input_devices() -> list[dict[str, Any]]:
    """Input devices as ``{"index", "name", "hostapi", "channels", "sample_rate", "default"}``."""
    sd = _sounddevice()
    hostapis = sd.query_hostapis()
    try:
        default_input = sd.default.device[0]
    except Exception:  # noqa: BLE001 - no default device is a normal state
        default_input = -1
    devices = []
    for index, device in enumerate(sd.query_devices()):
        if device["max_input_channels"] > 0:
            devices.append(
                {
                    "index": index,
                    "name": device["name"],
                    "hostapi": hostapis[device["hostapi"]]["name"],
                    "channels": device["max_input_channels"],
                    "sample_rate": int(device["default_samplerate"]),
                    "default": index == default_input,
                }
            )
    return devices


def _device_hint() -> str:
    try:
        names = [f"{d['index']}: {d['name']} ({d['hostapi']})" for d in list_input_devices()]
    except DjtuiError:
        names = []
    if not names:
        return "no input devices found: plug in a microphone or audio interface (or start JACK)"
    return "set [audio] input_device to one of: " + "; ".join(names)


class _Ring:
    """Fixed blocks of device audio shared by the PortAudio callback (writer) and the
    reader thread. The writer only copies and bumps ``written``; when the reader falls a
    whole ring behind, the oldest blocks are overwritten and counted in ``overruns``."""

    def __init__(self, slots: int, frames: int) -> None:
        self.data = np.zeros((slots, frames), dtype=np.float32)
        self.frames_in = np.zeros(slots, dtype=np.int64)
        self.slots = slots
        self.written = 0
        self.read = 0
        self.overruns = 0
        self.last_write = time.monotonic()

    def write(self, indata: np.ndarray) -> None:
        slot = self.written % self.slots
        n = min(len(indata), self.data.shape[1])
        np.copyto(self.data[slot, :n], indata[:n, 0])
        self.frames_in[slot] = n
        self.written += 1
        self.last_write = time.monotonic()

    def take(self) -> np.ndarray | None:
        if self.read >= self.written:
            return None
        if self.written - self.read > self.slots:
            self.overruns += self.written - self.read - self.slots
            self.read = self.written - self.slots
        slot = self.read % self.slots
        block = self.data[slot, : self.frames_in[slot]].copy()
        self.read += 1
        return block


class MicrophoneSource:
    """A sound card input as 16 kHz mono blocks.

    ``device`` is a name substring (matched like sounddevice does: every word must appear
    in "device name, host API") or an index; ``None`` is the system default. A missing
    device raises :class:`DjtuiError` at once. A device that disappears while listening
    is reported through ``on_status(message, hint)`` and reopened every ``retry_s`` until
    it is back; :meth:`blocks` simply pauses meanwhile.
    """

    def __init__(
        self,
        device: str | int | None = None,
        sample_rate: int = SAMPLE_RATE,
        block_ms: int = 32,
        on_status: StatusCallback | None = None,
        retry_s: float = 1.0,
        stall_s: float = 1.0,
    ) -> None:
        self.device = int(device) if isinstance(device, str) and device.strip().isdigit() else (device or None)
        self.sample_rate = sample_rate
        self.block = sample_rate * block_ms // 1000
        self.on_status = on_status
        self.retry_s = retry_s
        self.stall_s = stall_s
        self.device_name = ""
        self.hostapi = ""
        self.device_rate = sample_rate
        self._closed = threading.Event()
        self._stream: Any = None
        self._ring: _Ring | None = None
        self._lost = False
        self._open()  # fail now, not on the first block, if the device is not there

    def _open(self) -> None:
        sd = _sounddevice()
        try:
            info = sd.query_devices(self.device, kind="input")
        except (ValueError, sd.PortAudioError) as exc:
            what = f"audio input {self.device!r}" if self.device is not None else "the default audio input"
            raise DjtuiError(f"{what} not found ({exc})", _device_hint()) from None
        self.device_name = str(info["name"])
        self.hostapi = str(sd.query_hostapis(info["hostapi"])["name"])
        self.device_rate = int(info["default_samplerate"])
        try:  # take the model's rate directly when the device offers it
            sd.check_input_settings(device=self.device, channels=1, samplerate=self.sample_rate, dtype="float32")
            self.device_rate = self.sample_rate
        except (ValueError, sd.PortAudioError):
            pass
        frames = max(1, self.device_rate * self.block // self.sample_rate)
        ring = _Ring(slots=64, frames=frames)
        try:
            stream = sd.InputStream(
                device=self.device,
                channels=1,
                samplerate=self.device_rate,
                blocksize=frames,
                dtype="float32",
                callback=self._callback_for(ring),
            )
            stream.start()
        except (ValueError, sd.PortAudioError) as exc:
            raise DjtuiError(
                f"cannot open audio input {self.device_name!r} ({exc})",
                "close other programs using it, or pick another device with [audio] input_device",
            ) from None
        self._ring, self._stream = ring, stream

    @staticmethod
    def _callback_for(ring: _Ring) -> Callable[..., None]:
        def callback(indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
            if status and status.input_overflow:  # the device (or JACK) dropped input before us
                ring.overruns += 1
            ring.write(indata)

        return callback

    def _close_stream(self, wait: bool = True) -> None:
        """Stop and close the stream. ``wait=False`` (a vanished device) closes it on a
        helper thread: PortAudio's abort can block for good when its server is gone."""
        stream, self._stream = self._stream, None
        if stream is None:
            return

        def close() -> None:
            try:
                stream.abort(ignore_errors=True)
                stream.close(ignore_errors=True)
            except Exception:  # noqa: BLE001 - a vanished device can fail any call
                pass

        if wait:
            close()
        else:
            threading.Thread(target=close, name="djtui-audio-close", daemon=True).start()

    def _status(self, message: str, hint: str = "") -> None:
        if self.on_status is not None:
            self.on_status(message, hint)

    def _alive(self) -> bool:
        stream, ring = self._stream, self._ring
        if stream is None or ring is None:
            return False
        try:
            active = bool(stream.active)
        except Exception:  # noqa: BLE001
            active = False
        return active and time.monotonic() - ring.last_write < self.stall_s

    def _reconnect(self) -> bool:
        """One attempt to reopen the device after it vanished, with PortAudio
        re-initialised so a device plugged back in is seen again. Not under JACK:
        PortAudio's JACK host API cannot rejoin a restarted server (re-initialising
        aborts the process), so there the hint asks for a restart instead."""
        sd = _sounddevice()
        if self._on_jack():
            return False
        try:
            rescan_devices()
            self._open()
        except (DjtuiError, sd.PortAudioError, OSError):
            return False
        return True

    def _on_jack(self) -> bool:
        return "JACK" in self.hostapi

    def _lost_hint(self) -> str:
        if self._on_jack():
            return "the JACK server stopped: restart it, then restart djtui (PortAudio cannot rejoin a new server)"
        return "reconnect the device; listening resumes when it is back"

    @property
    def overruns(self) -> int:
        """Audio lost since the device was opened: blocks the reader fell a whole ring
        (~2 s) behind on, plus the input overflows PortAudio reported (the device or the
        JACK server dropped input before djtui saw it)."""
        return self._ring.overruns if self._ring else 0

    def blocks(self) -> Iterator[np.ndarray]:
        rebuffer = _Rebuffer(self.block)
        resampler = _resampler(self.device_rate, self.sample_rate) if self.device_rate != self.sample_rate else None
        poll_s = self.block / self.sample_rate / 4
        while not self._closed.is_set():
            if self._lost:
                if not self._reconnect():
                    self._closed.wait(self.retry_s)
                    continue
                self._lost = False
                rebuffer = _Rebuffer(self.block)
                resampler = _resampler(self.device_rate, self.sample_rate) if self.device_rate != self.sample_rate else None
                self._status(f"audio input back: {self.device_name}")
                continue
            chunk = self._ring.take() if self._ring else None
            if chunk is None:
                if not self._alive():
                    self._lost = True
                    self._close_stream(wait=False)
                    self._status(f"audio input lost: {self.device_name}", self._lost_hint())
                    continue
                time.sleep(poll_s)
                continue
            if resampler is not None:
                chunk = resampler.resample_chunk(chunk)
            yield from rebuffer.push(chunk)
        self._close_stream()

    def close(self) -> None:
        self._closed.set()
        self._close_stream()
