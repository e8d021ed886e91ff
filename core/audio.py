"""Audio in: fixed 16 kHz mono blocks from a microphone or a file, and their levels.

Everything downstream (VAD, endpointing, ASR) sees one thing: ``float32`` blocks of
:data:`BLOCK` samples at :data:`SAMPLE_RATE`. A device running at another rate is
resampled with soxr's streaming resampler; a file is decoded with soundfile.

A microphone is captured by a child process (:mod:`djtui.core.capture`), so a sound
server or device that dies under PortAudio can take only that process down; djtui
reports the loss and starts a fresh one until the input is back. A thread reads the
child's blocks into a preallocated ring; resampling, level metering and everything else
happen on the thread that iterates :meth:`MicrophoneSource.blocks`.
"""

from __future__ import annotations

import json
import logging
import math
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from djtui.core.errors import DjtuiError
from djtui.core.records import Level
from djtui.core.ring import BlockRing

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
BLOCK = 512
"""Samples per block: 32 ms at 16 kHz, the step silero-vad takes."""
SILENCE_DBFS = -120.0
"""Level reported for digital silence (log of zero)."""
MAX_PEAK = 2.0
"""Float samples past full scale up to this (+6 dBFS) are clipped, with a warning; a file
louder than that is no recording at a level to trust (a gain of ×10⁶ is a scaling
mistake somewhere) and is refused. The same rule for a live ``--input`` and ``djtui eval``."""


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

    ``channel`` is the channel heard as the microphone (1 is the first; ``None``: all of
    them mixed down); ``reference_channel`` the channel carrying the mix, for the echo
    canceller (:meth:`pairs`): a booth recording has the microphone on 1 and the
    reference on 2. Raises :class:`DjtuiError` for a missing, unreadable or empty file, a
    WAV cut short (:func:`check_whole`), one holding NaN/Inf samples or peaks louder than
    :data:`MAX_PEAK`, or one without the channels asked for, when created, so a bad
    ``--input`` fails before anything is loaded (a file is not a live stream: there is
    nothing to keep going for). Peaks past full scale up to that are clipped, with a
    warning, as :func:`read_audio` clips them.
    """

    def __init__(self, path: str | Path, realtime: bool = True, sample_rate: int = SAMPLE_RATE, block: int = BLOCK,
                 channel: int | None = None, reference_channel: int | None = None) -> None:
        import soundfile as sf

        self.path = Path(path)
        self.realtime = realtime
        self.sample_rate = sample_rate
        self.block = block
        self.channel = channel
        self.reference_channel = reference_channel
        self._closed = threading.Event()
        if not self.path.is_file():
            raise DjtuiError(f"{self.path}: no such audio file", "give a .wav or .flac file")
        try:
            info = sf.info(str(self.path))
        except (sf.LibsndfileError, RuntimeError, OSError) as exc:
            raise DjtuiError(f"{self.path}: not a readable audio file ({exc})", "give a .wav or .flac file") from None
        if info.frames <= 0 or info.samplerate <= 0:
            raise DjtuiError(f"{self.path}: the file holds no audio", "record or synthesise the command again")
        check_whole(self.path, info.frames, info.samplerate)
        for wanted in (channel, reference_channel):
            if wanted is not None and not 1 <= wanted <= info.channels:
                raise DjtuiError(f"{self.path}: has {info.channels} channel{'s' if info.channels != 1 else ''}, "
                                 f"no channel {wanted}", "give a booth recording (microphone on channel 1, the mix on "
                                                         "channel 2), or leave --reference-channel out")
        self._clip = info.subtype in ("FLOAT", "DOUBLE") and _loud(self.path, _float_peak(self.path))
        self.file_rate = int(info.samplerate)
        self.duration_s = info.frames / info.samplerate

    def blocks(self) -> Iterator[np.ndarray]:
        for microphone, _ in self.pairs():
            yield microphone

    def pairs(self) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        """Each block of the microphone's channel with the same block of the reference
        channel (``None`` without one)."""
        import soundfile as sf

        take = [self.channel, self.reference_channel] if self.reference_channel else [self.channel]
        rebuffers = [_Rebuffer(self.block) for _ in take]
        resampling = self.file_rate != self.sample_rate
        resamplers = [_resampler(self.file_rate, self.sample_rate) for _ in take] if resampling else []
        block_s = self.block / self.sample_rate
        started = time.monotonic()
        emitted = 0
        chunk_frames = max(1, self.file_rate * self.block // self.sample_rate)

        def cut(columns: list[np.ndarray]) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
            blocks = [list(rebuffer.push(column)) for rebuffer, column in zip(rebuffers, columns)]
            yield from zip(blocks[0], blocks[1] if len(blocks) > 1 else [None] * len(blocks[0]))

        try:
            with sf.SoundFile(str(self.path)) as f:
                for chunk in f.blocks(blocksize=chunk_frames, dtype="float32", always_2d=True):
                    if self._clip:
                        np.clip(chunk, -1.0, 1.0, out=chunk)
                    columns = [_column(chunk, channel) for channel in take]
                    if resampling:
                        columns = [r.resample_chunk(np.ascontiguousarray(c)) for r, c in zip(resamplers, columns)]
                    for pair in cut(columns):
                        if self._closed.is_set():
                            return
                        if self.realtime:
                            delay = started + emitted * block_s - time.monotonic()
                            if delay > 0:
                                time.sleep(delay)
                        emitted += 1
                        yield pair
                tails = [r.resample_chunk(np.zeros(0, dtype=np.float32), last=True) for r in resamplers]
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise DjtuiError(f"{self.path}: the file is damaged ({exc})", "re-export it as wav or flac") from None
        if tails and len(tails[0]):
            yield from cut(tails)
        flushed = [list(rebuffer.flush()) for rebuffer in rebuffers]
        yield from zip(flushed[0], flushed[1] if len(flushed) > 1 else [None] * len(flushed[0]))

    def close(self) -> None:
        self._closed.set()


def _column(chunk: np.ndarray, channel: int | None) -> np.ndarray:
    """One channel of a frames × channels chunk (1 is the first); ``None``: the mean."""
    if channel is None:
        return chunk.mean(axis=1, dtype=np.float32) if chunk.shape[1] > 1 else chunk[:, 0]
    return np.ascontiguousarray(chunk[:, channel - 1])


def _float_peak(path: Path, chunk_frames: int = 1 << 16) -> float:
    """The loudest sample of a floating-point file; :class:`DjtuiError` if it holds NaN
    or infinite samples: they would pass through the VAD and the models as silence or
    garbage, unannounced. Only float files can hold either, so only those pay for this
    read (~0.1 s a minute)."""
    import soundfile as sf

    peak = 0.0
    try:
        with sf.SoundFile(str(path)) as f:
            start = 0
            for chunk in f.blocks(blocksize=chunk_frames, dtype="float32", always_2d=True):
                finite = np.isfinite(chunk).all(axis=1)
                if not finite.all():
                    at = (start + int(np.argmin(finite))) / f.samplerate
                    raise DjtuiError(f"{path}: holds NaN or infinite samples (the first at {at:.1f} s)",
                                     "re-export it from your editor as 16-bit PCM wav")
                peak = max(peak, float(np.abs(chunk).max(initial=0.0)))
                start += len(chunk)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise DjtuiError(f"{path}: the file is damaged ({exc})", "re-export it as wav or flac") from None
    return peak


def _loud(path: Path, peak: float) -> bool:
    """Whether samples past full scale need clipping (said on the log, which the command
    line shows); a peak over :data:`MAX_PEAK` is a :class:`DjtuiError`."""
    if peak > MAX_PEAK:
        times = f"{peak:.2f}" if peak < 10 else f"{peak:,.0f}"
        raise DjtuiError(f"{path}: peaks at {times}× full scale ({_dbfs(peak):+.0f} dBFS), past the "
                         f"{MAX_PEAK:g}× (+{_dbfs(MAX_PEAK):.0f} dBFS) djtui clips: not a recording at a level to use",
                         "normalise it to peak at or below 0 dBFS (or export it as 16-bit PCM wav)")
    if peak > 1.0:
        log.warning("%s: peaks at %.2f× full scale (%+.1f dBFS): clipped to full scale", path, peak, _dbfs(peak))
        return True
    return False


def wav_frames_promised(path: str | Path) -> int | None:
    """The frames a WAV file's header says its data holds (``data`` chunk size over the
    ``fmt`` block size); ``None`` for another format or a size left open (0 or
    0xFFFFFFFF, as a streaming writer leaves it)."""
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] not in (b"RIFF", b"RIFX") or head[8:12] != b"WAVE":
            return None
        order = "big" if head[:4] == b"RIFX" else "little"
        block_align = 0
        while len(chunk := f.read(8)) == 8:
            kind, size = chunk[:4], int.from_bytes(chunk[4:], order)
            if kind == b"data":
                return size // block_align if block_align and size not in (0, 0xFFFFFFFF) else None
            body = f.read(size + size % 2)  # chunks are padded to an even size
            if kind == b"fmt " and len(body) >= 14:
                block_align = int.from_bytes(body[12:14], order)
    return None


def check_whole(path: str | Path, frames: int, rate: int) -> None:
    """:class:`DjtuiError` when a WAV file holds fewer ``frames`` than its header promises:
    a recording cut off (a full disk, a crash, a copy interrupted), which libsndfile reads
    without a word. The same rule for a live ``--input`` and ``djtui eval``."""
    try:
        promised = wav_frames_promised(path)
    except OSError:
        return  # reading the audio says what is wrong with the file
    if promised is not None and promised > frames:
        raise DjtuiError(f"{path}: cut short: its header promises {promised:,} frames ({promised / rate:.2f} s), "
                         f"the file holds {frames:,} ({frames / rate:.2f} s)",
                         "the recording was cut off (a full disk, a crash?): record or export it again")


def to_model_rate(audio: np.ndarray, rate: int, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """``audio`` (one channel, or frames × channels: averaged) as mono float32 at
    ``sample_rate`` (soxr, high quality): the one way djtui brings sound to the models'
    rate. Streams resample block by block instead (:func:`_resampler`)."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim > 1:
        audio = audio.mean(axis=1, dtype=np.float32) if audio.shape[1] > 1 else audio[:, 0]
    if rate != sample_rate:
        import soxr

        audio = soxr.resample(audio, rate, sample_rate)
    return np.ascontiguousarray(audio, dtype=np.float32)


def read_audio(path: str | Path, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """A whole file as one mono ``float32`` array at ``sample_rate``: the one way djtui
    reads a clip (evaluation, training, tests). A missing, unreadable or empty file, a
    WAV cut short (:func:`check_whole`), or one holding NaN or infinite samples or peaks
    louder than :data:`MAX_PEAK`, is a :class:`DjtuiError` naming it; peaks past full
    scale up to that (a float file) are clipped, with a warning: as :class:`FileSource`."""
    path = Path(path)
    audio, rate = _read_checked(path)
    audio = to_model_rate(audio, rate, sample_rate)
    if not audio.size:  # a few samples at an odd rate resample to none
        raise DjtuiError(f"{path}: too short to hold audio", "record or export it again, or leave it out")
    return audio


def read_channels(path: str | Path, channels: Sequence[int], sample_rate: int = SAMPLE_RATE) -> list[np.ndarray]:
    """Some channels of a file (1 is the first), each as mono ``float32`` at
    ``sample_rate``: a booth recording's microphone and reference. The same checks as
    :func:`read_audio`, and a :class:`DjtuiError` for a channel the file does not have."""
    path = Path(path)
    audio, rate = _read_checked(path)
    if missing := [c for c in channels if not 1 <= c <= audio.shape[1]]:
        raise DjtuiError(f"{path}: has {audio.shape[1]} channel{'s' if audio.shape[1] != 1 else ''}, no channel "
                         f"{missing[0]}", "give a booth recording (microphone on channel 1, the mix on channel 2)")
    return [to_model_rate(audio[:, c - 1], rate, sample_rate) for c in channels]


def _read_checked(path: Path) -> tuple[np.ndarray, int]:
    """The file's frames × channels and rate, checked (see :func:`read_audio`) and clipped."""
    import soundfile as sf

    try:
        audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except FileNotFoundError:
        raise DjtuiError(f"{path}: no such audio file", "check the path (and --data for labels)") from None
    except (OSError, RuntimeError, sf.LibsndfileError) as exc:
        raise DjtuiError(f"{path}: not a readable audio file ({exc})", "use WAV, FLAC or OGG") from None
    if not audio.size:
        raise DjtuiError(f"{path}: holds no audio", "record or export it again, or leave it out")
    check_whole(path, len(audio), rate)
    if not np.isfinite(audio).all():
        raise DjtuiError(f"{path}: holds NaN or infinite samples", "re-export it from your editor as 16-bit PCM wav")
    if _loud(path, float(np.abs(audio).max())):
        audio = np.clip(audio, -1.0, 1.0)
    return audio, int(rate)


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


_portaudio_lock = threading.Lock()


@contextmanager
def _portaudio() -> Iterator[Any]:
    """sounddevice, with PortAudio initialised for the ``with`` block only (unless someone
    in this process already holds it): under JACK, initialised PortAudio is a client of
    the server, and if that server dies first, terminating PortAudio at exit aborts the
    whole process (an assert in pa_jack.c). A fresh initialisation also sees devices
    plugged in, and JACK servers started, since the last one. One block at a time: one
    must not terminate PortAudio under another."""
    with _portaudio_lock:
        ours = "sounddevice" not in sys.modules  # importing it initialises PortAudio
        sd = _sounddevice()
        if not sd._initialized:
            sd._initialize()
            ours = True
        try:
            yield sd
        finally:
            if ours:
                sd._terminate()


def play(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> None:
    """Play ``audio`` on the default output and wait until it has played."""
    audio = np.ascontiguousarray(audio, dtype=np.float32)
    played = threading.Event()
    position = 0
    with _portaudio() as sd:

        def callback(out: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
            nonlocal position
            chunk = audio[position : position + frames]
            out[: len(chunk), 0] = chunk
            out[len(chunk) :, 0] = 0.0
            position += len(chunk)
            if len(chunk) < frames:
                raise sd.CallbackStop

        try:
            with sd.OutputStream(samplerate=sample_rate, channels=1, dtype="float32", callback=callback,
                                 finished_callback=played.set):
                played.wait(len(audio) / sample_rate + 5.0)  # a device gone mid-way never finishes
        except Exception as exc:  # noqa: BLE001 - PortAudio raises many kinds
            raise DjtuiError(f"cannot play back ({exc})", "check the audio output device") from None


def rescan_devices() -> None:
    """Make this process's PortAudio enumerate devices again (a device plugged in, a JACK
    server started since). For code that keeps PortAudio open here (the tests' and
    benches' player); djtui itself captures in a child process and initialises PortAudio
    afresh for each listing and playback. Closes every open stream of this process."""
    with _portaudio_lock:
        sd = _sounddevice()
        if sd._initialized:  # not after a listing or playback here, which let it go
            sd._terminate()
        sd._initialize()


def list_input_devices() -> list[dict[str, Any]]:
    """Input devices as ``{"index", "name", "hostapi", "channels", "sample_rate", "default"}``."""
    from djtui.core.capture import input_devices

    with _portaudio() as sd:
        return input_devices(sd)


class _CaptureProcess:
    """One capture process (:mod:`djtui.core.capture`) and the thread reading its blocks
    into a ring. ``opened`` is set once the child has opened the input (``chosen`` says
    what it delivers), failed (``failure``: message and hint) or ended (``ended``)."""

    RING_SLOTS = 64
    """~2 s of 32 ms blocks for a reader that falls behind."""

    def __init__(self, device: str | int | None, sample_rate: int, block: int, channels: int = 1) -> None:
        import subprocess

        from djtui.core import capture

        self.opened = threading.Event()
        self.arrived = threading.Event()
        self.chosen: dict[str, Any] = {}
        self.failure: tuple[str, str] | None = None
        self.ring: BlockRing | None = None
        self.lost = 0
        self.ended = False
        self.stderr_tail: deque[str] = deque(maxlen=20)
        self._stopping = threading.Lock()
        self.process = subprocess.Popen(capture.command(device, sample_rate, block, channels), stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        threading.Thread(target=self._read, name="djtui-capture-read", daemon=True).start()
        threading.Thread(target=self._log_stderr, name="djtui-capture-log", daemon=True).start()

    @property
    def overruns(self) -> int:
        """Blocks lost: the child's (input overflows, its ring) plus this side's ring."""
        return self.lost + (self.ring.overrun if self.ring else 0)

    @property
    def channels(self) -> int:
        """Channels interleaved in each block (see :mod:`djtui.core.capture`)."""
        return int(self.chosen.get("channels", 1))

    def alive(self, stall_s: float) -> bool:
        """Still delivering: not ended, and a block arrived within ``stall_s``."""
        ring = self.ring
        return not self.ended and ring is not None and time.monotonic() - ring.last_write < stall_s

    def _read(self) -> None:
        from djtui.core import capture

        stream = self.process.stdout
        header = bytearray(capture.HEADER.size)
        try:
            while stream.readinto(header) == len(header):
                tag, size = capture.HEADER.unpack(header)
                if tag == capture.PCM and self.ring is not None:
                    if not self._fill(stream, size):
                        break
                    self.arrived.set()
                    continue
                payload = stream.read(size)
                if len(payload) < size:
                    break
                if tag == capture.NEWS:
                    self._hear(json.loads(payload))
        except (OSError, ValueError) as exc:  # a child killed mid-message, a pipe closed under us
            log.debug("capture process: %s", exc)
        finally:
            self.ended = True
            self.opened.set()
            self.arrived.set()
            stream.close()

    def _fill(self, stream: Any, size: int) -> bool:
        """One block of ``size`` bytes from the child's pipe, read straight into the ring's
        next slot; ``False`` at the end of the stream."""
        assert self.ring is not None
        fits = min(size, self.ring.slot_bytes)

        def read(slot: memoryview) -> int:
            return fits if stream.readinto(slot[:fits]) == fits else 0  # cut short: the child died

        if self.ring.fill(read) != fits:
            return False
        return size == fits or len(stream.read(size - fits)) == size - fits  # never longer, by the protocol

    def take(self) -> np.ndarray | None:
        """The oldest block the child sent that was not taken yet (float32 samples, its
        :attr:`channels` interleaved)."""
        if self.ring is None:
            return None
        block = np.empty(self.ring.slot_bytes // 4, dtype=np.float32)
        size = self.ring.take(memoryview(block).cast("B"))
        return block[: size // 4] if size else None

    def _hear(self, news: dict[str, Any]) -> None:
        if "opened" in news:
            self.chosen = news["opened"]
            self.ring = BlockRing(self.RING_SLOTS, int(self.chosen["frames"]) * self.channels * 4)
            self.opened.set()
        elif "failed" in news:
            self.failure = (str(news["failed"]["message"]), str(news["failed"]["hint"]))
            self.opened.set()
        elif "lost" in news:
            self.lost = int(news["lost"])
        elif "stopped" in news:
            log.info("audio input: %s", news["stopped"])

    def _log_stderr(self) -> None:
        for raw in self.process.stderr:
            line = raw.decode(errors="replace").rstrip()
            self.stderr_tail.append(line)
            log.debug("capture process: %s", line)
        self.process.stderr.close()

    def stop(self, wait: bool = True) -> None:
        """End the child: close its stdin (it leaves the sound server cleanly), then
        terminate it, then kill it. ``wait=False`` does it on a helper thread (a child
        whose server vanished may not answer)."""
        if wait:
            self._stop()
        else:
            threading.Thread(target=self._stop, name="djtui-capture-stop", daemon=True).start()

    def _stop(self) -> None:
        import subprocess

        with self._stopping:
            for end, grace_s in ((self.process.stdin.close, 3.0), (self.process.terminate, 2.0), (self.process.kill, 5.0)):
                try:
                    end()
                    self.process.wait(timeout=grace_s)
                    return
                except subprocess.TimeoutExpired:
                    continue
                except OSError:  # the pipe or the process already gone
                    if self.process.poll() is not None:
                        return


class MicrophoneSource:
    """A sound card input as 16 kHz mono blocks, and optionally the mix as a reference.

    ``device`` is a name substring (matched like sounddevice does: every word must appear
    in "device name, host API") or an index; ``None`` is the system default. A missing
    device raises :class:`DjtuiError` at once. PortAudio runs in a child process (see
    :mod:`djtui.core.capture`): a device that disappears while listening (unplugged, its
    JACK server stopped) is reported once through ``on_status(message, hint)``, a fresh
    child is started every ``retry_s`` until the device is back (reported too), and
    :meth:`blocks` simply pauses meanwhile. An input that delivers nothing for
    ``stall_s`` counts as gone.

    The reference (the mix the echo canceller removes, :mod:`djtui.core.echo_cancel`):
    ``reference_channel`` alone is another channel of the same device, read in the same
    stream (one clock: its samples line up with the microphone's); with
    ``reference_device`` it is that channel (default 1) of another input, captured by a
    process of its own that comes and goes by itself as the microphone does (two clocks:
    see :class:`_ReferenceInput`). :meth:`pairs` yields each microphone block with the
    reference's (``None`` while there is none).
    """

    open_timeout_s = 30.0
    """How long a capture process may take to open the device: Python starting on a
    loaded machine is slow, and a hung sound server never answers."""

    def __init__(
        self,
        device: str | int | None = None,
        sample_rate: int = SAMPLE_RATE,
        block_ms: int = 32,
        on_status: StatusCallback | None = None,
        retry_s: float = 1.0,
        stall_s: float = 1.0,
        reference_channel: int | None = None,
        reference_device: str | int | None = None,
    ) -> None:
        self.device = _device(device)
        self.sample_rate = sample_rate
        self.block = sample_rate * block_ms // 1000
        self.on_status = on_status
        self.retry_s = retry_s
        self.stall_s = stall_s
        self.device_name = ""
        self.hostapi = ""
        self.device_rate = sample_rate
        self.reference_channel = reference_channel
        self.reference_device = _device(reference_device)
        self._closed = threading.Event()
        self._capture: _CaptureProcess | None = None
        self._overruns_before = 0
        self._reference: _ReferenceInput | None = None
        self._open()  # fail now, not on the first block, if the device is not there
        if self.reference_device is not None:
            self._reference = _ReferenceInput(self.reference_device, reference_channel or 1, self)

    @property
    def channels(self) -> int:
        """Channels to read from the microphone's device: the reference's too when it
        is one of them."""
        return self.reference_channel if self.reference_channel and self.reference_device is None else 1

    @property
    def reference(self) -> str:
        """Where the reference comes from, in words ("" without one)."""
        if self._reference is not None:
            return f"input {self._reference.channel} of {self._reference.name or self._reference.device}"
        if self.reference_channel:
            return f"input {self.reference_channel} of {self.device_name}"
        return ""

    def _open(self) -> None:
        """Start a capture process and wait until it has the device; :class:`DjtuiError`
        (and no process left) when it cannot."""
        self._capture = _open_capture(self.device, self.sample_rate, self.block, self.channels, self.open_timeout_s,
                                      self._closed)
        chosen = self._capture.chosen
        self.device_name = str(chosen["device"])
        self.hostapi = str(chosen["hostapi"])
        self.device_rate = int(chosen["rate"])
        if self.channels > self._capture.channels:
            self._status(f"{self.device_name} has {self._capture.channels} input channel"
                         f"{'s' if self._capture.channels != 1 else ''}: no reference on input {self.channels}",
                         "plug the mix into another input and set [audio] reference_channel to it, or use "
                         "[audio] reference_device")

    def _status(self, message: str, hint: str = "") -> None:
        if self.on_status is not None:
            self.on_status(message, hint)

    def _lost_hint(self) -> str:
        if "JACK" in self.hostapi:
            return "the JACK server stopped: start it again; djtui rejoins it by itself"
        return "reconnect the device; listening resumes by itself when it is back"

    @property
    def overruns(self) -> int:
        """Audio lost since the source was created, in blocks: blocks djtui fell a whole
        ring (~2 s) behind on, plus the input overflows PortAudio reported (the device or
        the JACK server dropped input before djtui saw it)."""
        capture = self._capture
        return self._overruns_before + (capture.overruns if capture else 0)

    def blocks(self) -> Iterator[np.ndarray]:
        for microphone, _ in self.pairs():
            yield microphone

    def pairs(self) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        """Each microphone block with the reference's same block (``None`` while there
        is no reference, or none configured)."""
        while not self._closed.is_set():
            capture = self._capture
            if capture is None:  # lost: a fresh capture process every retry_s until one opens
                try:
                    self._open()
                except DjtuiError:
                    self._closed.wait(self.retry_s)
                    continue
                if not self._closed.is_set():
                    self._status(f"audio input back: {self.device_name}")
                continue
            yield from self._pairs_of(capture)
            if not self._closed.is_set():
                self._capture = None
                self._overruns_before += capture.overruns
                capture.stop(wait=False)
                self._status(f"audio input lost: {self.device_name}", self._lost_hint())

    def _pairs_of(self, capture: _CaptureProcess) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        """``capture``'s blocks, resampled and cut to :attr:`block`, until it ends or
        stalls, or the source is closed; the reference's alongside (another channel of
        the same blocks, or the other device's)."""
        channels = capture.channels
        columns = [0] + ([self.reference_channel - 1] if self._reference is None and self.reference_channel
                         and self.reference_channel <= channels else [])
        rebuffers = [_Rebuffer(self.block) for _ in columns]
        resampling = self.device_rate != self.sample_rate
        resamplers = [_resampler(self.device_rate, self.sample_rate) for _ in columns] if resampling else []
        check_s = min(0.1, self.stall_s / 4)
        while capture.ring is not None and not self._closed.is_set():
            capture.arrived.clear()
            chunk = capture.take()
            if chunk is None:
                if not capture.alive(self.stall_s):
                    return
                capture.arrived.wait(check_s)
                continue
            frames = chunk.reshape(-1, channels)
            parts = [np.ascontiguousarray(frames[:, column]) for column in columns]
            if resampling:
                parts = [resampler.resample_chunk(part) for resampler, part in zip(resamplers, parts)]
            blocks = [list(rebuffer.push(part)) for rebuffer, part in zip(rebuffers, parts)]
            for k, microphone in enumerate(blocks[0]):
                if len(blocks) > 1:
                    yield microphone, blocks[1][k]
                elif self._reference is not None:
                    yield microphone, self._reference.take(len(microphone))
                else:
                    yield microphone, None

    def close(self) -> None:
        """Stop listening: :meth:`blocks` ends, and the capture processes are gone when
        this returns (closed, else terminated, else killed: a few seconds at worst)."""
        self._closed.set()
        if self._reference is not None:
            self._reference.close()
        capture = self._capture
        if capture is not None:
            capture.arrived.set()
            capture.stop()


def _device(device: str | int | None) -> str | int | None:
    """An index given as text is an index; empty is the system default."""
    return int(device) if isinstance(device, str) and device.strip().isdigit() else (device or None)


def _open_capture(device: str | int | None, sample_rate: int, block: int, channels: int, timeout_s: float,
                  closed: threading.Event) -> _CaptureProcess:
    """A capture process that has opened ``device``; :class:`DjtuiError` (and no
    process left) when it cannot."""
    try:
        capture = _CaptureProcess(device, sample_rate, block, channels)
    except OSError as exc:  # no process to be had (out of memory, of process slots)
        raise DjtuiError(f"cannot start djtui's audio capture ({exc})", "close other programs and try again") from None
    if closed.is_set():  # closed before it could see this process
        capture.stop()
    opened = capture.opened.wait(timeout_s)
    if not opened or capture.failure or capture.ring is None:
        capture.stop(wait=False)
        if capture.failure:
            raise DjtuiError(*capture.failure)
        if not opened:
            raise DjtuiError(f"the audio input did not open within {timeout_s:.0f} s",
                             "check the sound system (a JACK server that hangs?), or pick another [audio] input_device")
        raise DjtuiError(f"cannot use the sound system: the capture process ended ({_last(capture.stderr_tail)})",
                         "see djtui's log; check that PortAudio works (djtui listen --list-devices)")
    return capture


class _ReferenceInput:
    """The reference on another device: a capture process of its own (started again
    every ``retry_s`` while it is gone, on a thread, so the microphone never waits),
    resampled to 16 kHz into a FIFO that the microphone's blocks draw on.

    Two devices run on two clocks: the FIFO fills a little faster or slower than it
    empties. It starts :data:`PRIME_BLOCKS` deep; run dry it starts over, grown past
    :data:`MAX_BLOCKS` it drops back. Each is a jump of the reference's delay that the
    canceller matches again; between them the delay drifts, which costs echo removal
    (README, "Hearing through the music", measures how much).
    """

    PRIME_BLOCKS = 2
    MAX_BLOCKS = 8

    def __init__(self, device: str | int | None, channel: int, source: MicrophoneSource) -> None:
        self.device, self.channel, self.source = device, channel, source
        self.name = ""
        self._lock = threading.Lock()
        self._fifo = np.zeros(0, dtype=np.float32)
        self._primed = False
        self._alive = False
        self.slips = 0
        """Times the FIFO ran dry or overflowed (each a jump of the delay)."""
        self._thread = threading.Thread(target=self._run, name="djtui-reference", daemon=True)
        self._thread.start()

    def take(self, n: int) -> np.ndarray | None:
        """The next ``n`` samples of the reference; ``None`` while its input is gone."""
        with self._lock:
            if not self._alive:
                return None
            block = self.source.block
            if not self._primed:
                if len(self._fifo) < self.PRIME_BLOCKS * block:
                    return np.zeros(n, dtype=np.float32)
                self._primed = True
            if len(self._fifo) < n:  # ran dry: its clock is slower
                self.slips += 1
                self._primed = False
                out = np.pad(self._fifo, (0, n - len(self._fifo)))
                self._fifo = self._fifo[:0]
                return out
            if len(self._fifo) > (self.MAX_BLOCKS + 1) * block:  # its clock is faster
                self.slips += 1
                self._fifo = self._fifo[-self.PRIME_BLOCKS * block:]
            out, self._fifo = self._fifo[:n].copy(), self._fifo[n:]
            return out

    def _run(self) -> None:
        source = self.source
        first = True
        while not source._closed.is_set():
            try:
                capture = _open_capture(self.device, source.sample_rate, source.block, self.channel,
                                        source.open_timeout_s, source._closed)
            except DjtuiError as exc:
                if first:
                    source._status(f"reference input not available: {exc.message}", exc.hint)
                first = False
                source._closed.wait(source.retry_s)
                continue
            self.name = str(capture.chosen["device"])
            if capture.channels < self.channel:
                source._status(f"{self.name} has {capture.channels} input channel{'s' if capture.channels != 1 else ''}: "
                               f"no reference on input {self.channel}", "set [audio] reference_channel to one it has")
            elif not first:
                source._status(f"reference input back: {self.name}")
            first = False
            self._feed(capture)
            capture.stop(wait=source._closed.is_set())  # closing waits for it, as for the microphone's
            with self._lock:
                self._alive, self._primed, self._fifo = False, False, self._fifo[:0]
            if not source._closed.is_set():
                source._status(f"reference input lost: {self.name}", "reconnect it; cancelling resumes by itself")
                source._closed.wait(source.retry_s)

    def _feed(self, capture: _CaptureProcess) -> None:
        source = self.source
        rate = int(capture.chosen["rate"])
        resampler = _resampler(rate, source.sample_rate) if rate != source.sample_rate else None
        channels, column = capture.channels, min(self.channel, capture.channels) - 1
        while capture.ring is not None and not source._closed.is_set():
            capture.arrived.clear()
            chunk = capture.take()
            if chunk is None:
                if not capture.alive(source.stall_s):
                    return
                capture.arrived.wait(0.05)
                continue
            part = np.ascontiguousarray(chunk.reshape(-1, channels)[:, column])
            if resampler is not None:
                part = resampler.resample_chunk(part)
            with self._lock:
                self._alive = capture.channels >= self.channel
                self._fifo = np.concatenate([self._fifo, part])[-4 * source.sample_rate:]

    def close(self) -> None:
        """Called once the source is closed: the reference's process is gone when this
        returns (or after 10 s)."""
        self._thread.join(timeout=10)


def _last(lines: deque[str]) -> str:
    return lines[-1] if lines else "no message"
