"""Acoustic echo cancellation: the DJ's own mix removed from the microphone.

djtui runs beside the music it has to hear through, and the music is not unknown noise:
the mix Rekordbox plays can be captured as a *reference* (a second input, see
:mod:`djtui.core.audio`), and what of it reaches the microphone through the PA and the
room is predicted from it and subtracted, before the VAD and the recognizer see a block.

:class:`EchoCanceller` takes one block of the microphone and the same block of the
reference and returns the microphone cleaned. Per block, in this order:

1. No reference block (its input is gone): the microphone passes through untouched
   (:attr:`ReferenceState.LOST`).
2. The reference is silent (under :data:`SILENT_DBFS` for a second): untouched
   (``SILENT``). The music stopped, or the reference is not connected.
3. The bulk delay between the reference and its echo in the microphone (a PA's DSP, the
   distance, the interface's buffers: often 20-300 ms) is found by :class:`DelayEstimator`
   (GCC-PHAT over the last two seconds, every quarter to half second). Until a match is
   found the microphone passes through (``CHECKING``); a reference that sounds while no
   match is found for :data:`UNRELATED_AFTER_S` is reported as not what the microphone
   hears (``UNRELATED``), one that comes *after* the microphone hears it as ``LATE``
   (nothing causal can cancel it); either way the microphone passes through.
4. Matched (``CANCELLING``): the reference, delayed by the match less
   :data:`MARGIN_MS`, goes to speexdsp's MDF adaptive filter (:data:`TAIL_MS` of echo
   path: the room's reverb; the delay is not its business) and its preprocessor's
   residual echo suppression. A new match (the delay jumped: another buffer size, a
   device re-opened) moves the delay line; the filter keeps what it learnt of the room.
5. A canceller that adds sound instead of removing it (a jump not yet matched) steps
   aside until the next match.

Passing through is exact: a broken reference leaves djtui hearing exactly what it heard
without one. Cancelling lags the microphone by one speex frame (16 ms); switching
between the two cross-fades over that frame.

speexdsp is Xiph's C library (Debian ``libspeexdsp1``, Homebrew ``speexdsp``), called
through ctypes: no binding package, no compiler. Tried against WebRTC's AEC3 on
simulated booths while this was built, it kept the DJ's voice within about 1 dB where
AEC3 cut it by 6-8 dB during double talk (README, "Hearing through the music", says how
far that comparison goes).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

import numpy as np

from djtui.core.audio import BLOCK, SAMPLE_RATE, level
from djtui.core.errors import DjtuiError
from djtui.core.events import EchoLevels, Event, ReferenceStatus

FRAME = 256
"""Samples per speex frame (16 ms): divides the 512-sample block, so no re-blocking."""
TAIL_MS = 512
"""Echo path the adaptive filter models after the bulk delay: the room's reverb."""
MARGIN_MS = 8
"""The reference is delayed this much less than the measured delay, so an estimate a
little late, or a path whose first sound comes a little early, still fits the filter."""
MAX_DELAY_MS = 800
"""Longest bulk delay looked for."""
MAX_LEAD_MS = 100
"""A reference this much *behind* the microphone is still recognised (and reported)."""
SILENT_DBFS = -60.0
"""A reference quieter than this for a second carries no music."""
EARLIEST_MS = 60.0
EARLY_SHARE = 0.6
"""The delay is the earliest arrival up to :data:`EARLIEST_MS` before the strongest
whose correlation reaches this share of the strongest's (the direct sound, before the
reflections that may outweigh it)."""
RELATED_SCORE = 9.0
"""GCC-PHAT peak over the correlation's robust spread (z) that counts as a match;
unrelated signals peak at 4-5."""
UNRELATED_AFTER_S = 4.0
"""Reference and microphone both sounding this long without a match: unrelated."""
FIRST_MATCH_S = 0.375
"""Audio the delay estimator hears before its first estimate."""
RETUNE_MS = 2.0
"""A delay that moved more than this is re-applied (clock drift, a jump)."""
HARM_DB = -1.0
"""An adaptive filter whose output is louder than the microphone by this (over a quarter
second, before the residual suppression hides it) adds echo. Pass through until the next
match."""
COLLAPSE_DB = (0.5, 6.0)
"""A filter that removed at least the second figure over a second and then, over a
quarter second, less than the first: the echo moved (a jump), or the DJ speaks far
louder than the music. Either way, pass through until the next match (a jump's is at
the new delay; a voice's, at the old one, changes nothing)."""
ERLE_WINDOW_S = 1.0
"""Echo removed (dB) is measured over this much of the latest audio."""

_SPEEX_ECHO_SET_SAMPLING_RATE = 24
_PP_SET_DENOISE = 0
_PP_SET_AGC = 2
_PP_SET_DEREVERB = 8
_PP_SET_NOISE_SUPPRESS = 18
_PP_SET_ECHO_SUPPRESS = 20
_PP_SET_ECHO_SUPPRESS_ACTIVE = 22
_PP_SET_ECHO_STATE = 24

_library: ctypes.CDLL | None = None
_library_lock = threading.Lock()


def speexdsp(path: str | None = None) -> ctypes.CDLL:
    """Xiph's libspeexdsp, loaded once, its echo and preprocessor calls typed; a
    :class:`DjtuiError` saying how to install it when it is missing."""
    global _library
    with _library_lock:
        if _library is not None and path is None:
            return _library
        names = [path] if path else [ctypes.util.find_library("speexdsp"), "libspeexdsp.so.1",
                                     "libspeexdsp.1.dylib", "libspeexdsp.dylib", "libspeexdsp-1.dll", "libspeexdsp.dll"]
        problems = []
        for name in filter(None, names):
            try:
                lib = ctypes.CDLL(name)
                break
            except OSError as exc:
                problems.append(str(exc))
        else:
            raise DjtuiError(
                "echo cancellation needs Xiph's speexdsp library, which is not installed"
                + (f" ({problems[-1]})" if problems else ""),
                "install it (Debian/Ubuntu: apt install libspeexdsp1; macOS: brew install speexdsp), "
                "or leave [audio] reference_channel and reference_device empty")
        vp, ci = ctypes.c_void_p, ctypes.c_int
        for name, restype, argtypes in (
            ("speex_echo_state_init", vp, [ci, ci]),
            ("speex_echo_ctl", ci, [vp, ci, vp]),
            ("speex_echo_cancellation", None, [vp, vp, vp, vp]),
            ("speex_echo_state_reset", None, [vp]),
            ("speex_echo_state_destroy", None, [vp]),
            ("speex_preprocess_state_init", vp, [ci, ci]),
            ("speex_preprocess_ctl", ci, [vp, ci, vp]),
            ("speex_preprocess_run", ci, [vp, vp]),
            ("speex_preprocess_state_destroy", None, [vp]),
        ):
            function = getattr(lib, name)
            function.restype, function.argtypes = restype, argtypes
        if path is None:
            _library = lib
        return lib


def _to_int16(block: np.ndarray, out: np.ndarray) -> None:
    out[:] = np.clip(np.rint(block * 32768.0), -32768, 32767)


class SpeexCanceller:
    """speexdsp's MDF echo canceller and the preprocessor that suppresses what it
    leaves, on 16 kHz float blocks (a multiple of ``frame`` samples, ±1.0 full scale).

    The preprocessor's noise suppression stays on (``noise_suppress_db``): speexdsp 1.2
    applies none of its gains, residual echo suppression included, when it is off. Its
    overlap-add delays the output by one frame. One instance holds C state: drive it
    from one thread.
    """

    def __init__(self, sample_rate: int = SAMPLE_RATE, frame: int = FRAME, tail_ms: int = TAIL_MS,
                 noise_suppress_db: int = -15, echo_suppress_db: int = -40, echo_suppress_active_db: int = -15) -> None:
        self._lib = speexdsp()
        self.sample_rate, self.frame = sample_rate, frame
        self.taps = tail_ms * sample_rate // 1000
        self._gains = (noise_suppress_db, echo_suppress_db, echo_suppress_active_db)
        self._echo = self._lib.speex_echo_state_init(frame, self.taps)
        if not self._echo:
            raise DjtuiError("speexdsp could not start its echo canceller", "see djtui's log; reinstall libspeexdsp")
        self._control(self._lib.speex_echo_ctl, self._echo, _SPEEX_ECHO_SET_SAMPLING_RATE, sample_rate)
        self._preprocess: Any = None
        self._new_preprocessor()
        self._mic = np.zeros(BLOCK, dtype=np.int16)
        self._ref = np.zeros(BLOCK, dtype=np.int16)
        self._out = np.zeros(BLOCK, dtype=np.int16)
        self.linear_energy = 0.0
        """Energy of the adaptive filter's output in the last block, before the residual
        echo suppression: louder than the microphone means the filter adds echo."""

    @property
    def latency_samples(self) -> int:
        """How far the output lags the microphone: the preprocessor's one frame."""
        return self.frame

    @staticmethod
    def _control(function: Any, state: Any, request: int, value: int) -> None:
        number = ctypes.c_int(value)
        function(state, request, ctypes.byref(number))

    def _new_preprocessor(self) -> None:
        lib = self._lib
        if self._preprocess:
            lib.speex_preprocess_state_destroy(self._preprocess)
        self._preprocess = lib.speex_preprocess_state_init(self.frame, self.sample_rate)
        if not self._preprocess:
            raise DjtuiError("speexdsp could not start its preprocessor", "see djtui's log; reinstall libspeexdsp")
        noise, echo, echo_active = self._gains
        for request, value in ((_PP_SET_DENOISE, 1), (_PP_SET_NOISE_SUPPRESS, noise), (_PP_SET_AGC, 0),
                               (_PP_SET_DEREVERB, 0)):
            self._control(lib.speex_preprocess_ctl, self._preprocess, request, value)
        lib.speex_preprocess_ctl(self._preprocess, _PP_SET_ECHO_STATE, ctypes.c_void_p(self._echo))
        self._control(lib.speex_preprocess_ctl, self._preprocess, _PP_SET_ECHO_SUPPRESS, echo)
        self._control(lib.speex_preprocess_ctl, self._preprocess, _PP_SET_ECHO_SUPPRESS_ACTIVE, echo_active)

    def process(self, mic: np.ndarray, reference: np.ndarray) -> np.ndarray:
        """``mic`` with the echo of ``reference`` removed (same length, float32)."""
        n = len(mic)
        if n % self.frame or len(reference) != n:
            raise ValueError(f"blocks must be equal multiples of {self.frame} samples")
        if n != len(self._mic):
            self._mic, self._ref, self._out = (np.zeros(n, dtype=np.int16) for _ in range(3))
        _to_int16(mic, self._mic)
        _to_int16(reference, self._ref)
        lib, echo, preprocess = self._lib, self._echo, self._preprocess
        m, r, o = self._mic.ctypes.data, self._ref.ctypes.data, self._out.ctypes.data
        linear = 0.0
        for start in range(0, n, self.frame):
            offset = 2 * start  # bytes: int16
            lib.speex_echo_cancellation(echo, m + offset, r + offset, o + offset)
            frame = self._out[start:start + self.frame].astype(np.float32)
            linear += float(np.dot(frame, frame))
            lib.speex_preprocess_run(preprocess, o + offset)
        self.linear_energy = linear / 32768.0**2
        return self._out.astype(np.float32) / 32768.0

    def last_frame(self) -> np.ndarray:
        """The cleaned frame the last :meth:`process` ended with (the one the output has
        not reached yet, given the frame's lag)."""
        return self._out[-self.frame:].astype(np.float32) / 32768.0

    def reset(self) -> None:
        """Forget the echo path (speexdsp has no preprocessor reset: a new one)."""
        self._lib.speex_echo_state_reset(self._echo)
        self._new_preprocessor()

    def close(self) -> None:
        if getattr(self, "_preprocess", None):
            self._lib.speex_preprocess_state_destroy(self._preprocess)
            self._preprocess = None
        if getattr(self, "_echo", None):
            self._lib.speex_echo_state_destroy(self._echo)
            self._echo = None

    def __del__(self) -> None:
        self.close()


@dataclass(frozen=True)
class DelayMatch:
    """Where the reference's sound is in the microphone: ``delay_ms`` after the
    reference (negative: before it), and how clearly (``score``: the GCC-PHAT peak
    over the correlation's robust spread; :data:`RELATED_SCORE` and more is a match)."""

    delay_ms: float
    score: float

    @property
    def related(self) -> bool:
        return self.score >= RELATED_SCORE


class DelayEstimator:
    """GCC-PHAT of the microphone against the reference over the last ``window_s``:
    the lag of the peak of their whitened cross-correlation is the bulk delay. Whitening
    makes the peak sharp for music and indifferent to the room's colour; both signals are
    halved to 8 kHz first (the delay needs no more, and it halves the cost)."""

    def __init__(self, sample_rate: int = SAMPLE_RATE, window_s: float = 2.0, max_delay_ms: float = MAX_DELAY_MS,
                 max_lead_ms: float = MAX_LEAD_MS) -> None:
        self.rate = sample_rate // 2
        self.window = int(window_s * self.rate)
        self.max_lag = int(max_delay_ms * self.rate / 1000)
        self.max_lead = int(max_lead_ms * self.rate / 1000)
        self._mic = np.zeros(self.window, dtype=np.float32)
        self._ref = np.zeros(self.window + self.max_lag + self.max_lead, dtype=np.float32)
        self.filled = 0
        """Samples (at 8 kHz) of the window heard so far."""
        self._size = 1 << int(math.ceil(math.log2(len(self._mic) + len(self._ref))))
        freqs = np.fft.rfftfreq(self._size, 1 / self.rate)
        self._band = (freqs >= 100) & (freqs <= 3800)

    def push(self, mic: np.ndarray, reference: np.ndarray) -> None:
        """One block of each (16 kHz, equal lengths)."""
        for buffer, block in ((self._mic, mic), (self._ref, reference)):
            half = 0.5 * (block[0::2] + block[1::2])
            buffer[: -len(half)] = buffer[len(half):]
            buffer[-len(half):] = half
        self.filled = min(self.window, self.filled + len(mic) // 2)

    def reset(self, keep_reference: bool = False) -> None:
        """Start a new window; ``keep_reference``: only the microphone's (the echo moved,
        the reference's past is still what it was, and a long delay needs it)."""
        self._mic[:] = 0
        if not keep_reference:
            self._ref[:] = 0
        self.filled = 0

    def estimate(self) -> DelayMatch | None:
        """The best match over the window so far (``None`` while either is silent)."""
        mic, ref = self._mic, self._ref
        if not mic.any() or not ref.any():
            return None
        size = self._size
        cross = np.fft.rfft(ref, size) * np.conj(np.fft.rfft(mic, size))
        magnitude = np.abs(cross)
        weights = np.where(self._band & (magnitude > 1e-12), 1.0 / np.maximum(magnitude, 1e-12), 0.0)
        correlation = np.fft.irfft(cross * weights, size)
        # ref sample k + (max_lag + max_lead) lines up with mic sample k: a delay d is the
        # correlation at lag (max_lag + max_lead - d), leads (negative d) a little beyond.
        zero = self.max_lag + self.max_lead
        lags = correlation[: zero + self.max_lead + 1]
        peak = int(np.argmax(lags))
        spread = 1.4826 * float(np.median(np.abs(lags - np.median(lags))))
        if spread <= 0:
            return None
        # In a reverberant room a reflection can outweigh the direct sound: the delay is
        # the first arrival near the peak's height (a higher lag is an earlier arrival).
        early = lags[peak:min(len(lags), peak + int(EARLIEST_MS * self.rate / 1000) + 1)]
        first = peak + int(np.flatnonzero(early >= EARLY_SHARE * lags[peak])[-1])
        return DelayMatch(1000.0 * (zero - first) / self.rate, float(lags[peak]) / spread)


class ReferenceState(StrEnum):
    """What the canceller is doing with the reference (see the module)."""

    CHECKING = "checking"
    CANCELLING = "cancelling"
    SILENT = "silent"
    UNRELATED = "unrelated"
    LATE = "late"
    LOST = "lost"


DESCRIPTIONS = {
    ReferenceState.CHECKING: ("listening for the reference's music in the microphone", ""),
    ReferenceState.CANCELLING: ("removing the mix from the microphone", ""),
    ReferenceState.SILENT: ("the reference is silent: hearing the microphone as it is",
                            "is the music playing, and the mixer's REC/booth out (or the loopback) connected?"),
    ReferenceState.UNRELATED: ("the reference does not carry the music the microphone hears: hearing the "
                               "microphone as it is",
                               "check that the reference is the mix the PA plays (REC/booth out, or Rekordbox's "
                               "output looped back), and [audio] reference_channel / reference_device"),
    ReferenceState.LATE: ("the reference arrives after the microphone hears it: it cannot be cancelled; hearing "
                          "the microphone as it is",
                          "take the reference from before the PA (the mixer's REC out, not a microphone at the PA)"),
    ReferenceState.LOST: ("the reference input is gone: hearing the microphone as it is",
                          "reconnect it; cancelling resumes by itself when it is back"),
}
"""What each state means for the DJ, and what to do about it."""


class EchoCanceller:
    """The reference's music removed from the microphone, block by block (see the
    module). :meth:`process` is cheap enough for the audio thread: about 1-2 % of a core.
    """

    def __init__(self, sample_rate: int = SAMPLE_RATE, block: int = BLOCK, tail_ms: int = TAIL_MS,
                 margin_ms: float = MARGIN_MS, noise_suppress_db: int = -15) -> None:
        self.sample_rate, self.block = sample_rate, block
        self._speex = SpeexCanceller(sample_rate, FRAME, tail_ms, noise_suppress_db)
        self.margin = int(margin_ms * sample_rate / 1000)
        self._estimator = DelayEstimator(sample_rate)
        longest = int((MAX_DELAY_MS + 50) * sample_rate / 1000)
        self._history = np.zeros(longest + block, dtype=np.float32)
        self._pre_delay = 0
        self.state = ReferenceState.CHECKING
        self.delay_ms: float | None = None
        """The bulk delay applied (the last match), ``None`` before the first."""
        self.match: DelayMatch | None = None
        """The latest estimate, matched or not."""
        self._since_estimate = 0
        self._unmatched_s = 0.0
        self._silent_s = 0.0
        self._pending: DelayMatch | None = None
        self._cancelled_before = False
        self._silence = np.zeros(block, dtype=np.float32)
        self._blend = np.linspace(0.0, 1.0, FRAME, dtype=np.float32)
        window = max(1, round(ERLE_WINDOW_S * sample_rate / block))
        self._energy: deque[tuple[float, float]] = deque(maxlen=window)
        self._quarter = max(1, round(0.25 * sample_rate / block))
        self._linear: deque[tuple[float, float]] = deque(maxlen=5 * self._quarter)
        """(microphone, adaptive filter's output) energy of the last 1.25 s of blocks."""
        self.cpu_s = 0.0
        """Processor time spent in :meth:`process` so far."""
        self.on_change: Callable[[EchoCanceller], None] | None = None
        """Called (on the audio thread) when :attr:`state` or :attr:`delay_ms` changes."""

    # --- the public face ---------------------------------------------------------------

    @property
    def latency_ms(self) -> float:
        """How far the cleaned output lags the microphone while cancelling."""
        return 1000.0 * self._speex.latency_samples / self.sample_rate

    @property
    def erle_db(self) -> float | None:
        """Echo removed over the last :data:`ERLE_WINDOW_S` (microphone power over the
        output's, in dB; it includes the DJ's voice when they speak), ``None`` unless
        cancelling throughout."""
        if self.state != ReferenceState.CANCELLING or len(self._energy) < self._energy.maxlen:  # type: ignore[operator]
            return None
        return _gain_db(self._energy)

    @property
    def cancelling(self) -> bool:
        return self.state == ReferenceState.CANCELLING

    def process(self, mic: np.ndarray, reference: np.ndarray | None) -> np.ndarray:
        """``mic`` cleaned of ``reference`` (``None``: no reference block arrived): one
        block of each, float32 at :attr:`sample_rate`. Passing through returns ``mic``
        itself."""
        started = time.process_time()
        try:
            return self._process(mic, reference)
        finally:
            self.cpu_s += time.process_time() - started

    def reset(self) -> None:
        """A new stream: everything learnt is forgotten."""
        self._speex.reset()
        self._forget()
        self._pre_delay = 0
        self._energy.clear()
        self._linear.clear()
        self._cancelled_before = False
        self._set(ReferenceState.CHECKING)

    def close(self) -> None:
        self._speex.close()

    # --- per block --------------------------------------------------------------------

    def _process(self, mic: np.ndarray, reference: np.ndarray | None) -> np.ndarray:
        block_s = len(mic) / self.sample_rate
        if reference is None:
            if self.state != ReferenceState.LOST:
                self._forget()
                self._set(ReferenceState.LOST)
            return self._pass(mic)
        self._history[: -len(reference)] = self._history[len(reference):]
        self._history[-len(reference):] = reference
        silent = float(np.dot(reference, reference)) <= len(reference) * 10 ** (SILENT_DBFS / 10)
        self._silent_s = self._silent_s + block_s if silent else 0.0
        self._estimator.push(mic, reference)
        if self._silent_s >= 1.0:
            self._set(ReferenceState.SILENT)
        elif self.state in (ReferenceState.SILENT, ReferenceState.LOST) and not silent:
            self._set(ReferenceState.CANCELLING if self.delay_ms is not None else ReferenceState.CHECKING)
        if not silent:
            self._track(block_s)
        # Unmatched, the filter hears silence: adapting to a misaligned reference would
        # unlearn the room (and speexdsp resets itself, on stderr, when it adds echo).
        cancelling = self.state == ReferenceState.CANCELLING
        cleaned = self._speex.process(mic, self._aligned(len(mic)) if cancelling else self._silence)
        if self.state != ReferenceState.CANCELLING:
            return self._pass(mic)
        mic_energy, out_energy = float(np.dot(mic, mic)), float(np.dot(cleaned, cleaned))
        self._energy.append((mic_energy, out_energy))
        self._linear.append((mic_energy, self._speex.linear_energy))
        if self._moved():
            # the echo moved (a jump): match again on what the microphone hears from now on
            self._pending = None
            self._estimator.reset(keep_reference=True)
            self._set(ReferenceState.CHECKING)
            return self._pass(mic)
        if not self._cancelled_before:  # the cleaned stream runs a frame behind: fade it in
            cleaned[:FRAME] = mic[:FRAME] * (1 - self._blend) + cleaned[:FRAME] * self._blend
            self._cancelled_before = True
        return cleaned

    def _pass(self, mic: np.ndarray) -> np.ndarray:
        self._energy.clear()
        self._linear.clear()
        if not self._cancelled_before:
            return mic
        self._cancelled_before = False
        # fade the cleaned stream out over the first frame (its last frame is this one's)
        last = self._speex.last_frame()
        mic = mic.copy()
        mic[:FRAME] = last * (1 - self._blend) + mic[:FRAME] * self._blend
        return mic

    def _moved(self) -> bool:
        """Whether the adaptive filter adds echo, or stopped removing it (see
        :data:`HARM_DB`, :data:`COLLAPSE_DB`)."""
        if len(self._linear) < self._quarter:
            return False
        recent = list(self._linear)[-self._quarter:]
        now = _gain_db(recent)
        if now < HARM_DB:
            return True
        before = list(self._linear)[: -self._quarter]
        return len(before) == 4 * self._quarter and now < COLLAPSE_DB[0] and _gain_db(before) >= COLLAPSE_DB[1]

    def _aligned(self, n: int) -> np.ndarray:
        end = len(self._history) - self._pre_delay
        return self._history[end - n:end]

    def _forget(self) -> None:
        """The reference input went away: when it is back it may be delayed anew."""
        self._estimator.reset()
        self._history[:] = 0
        self.delay_ms = None
        self.match = self._pending = None
        self._unmatched_s = self._silent_s = 0.0
        self._since_estimate = 0

    # --- the delay ----------------------------------------------------------------------

    def _track(self, block_s: float) -> None:
        """Estimate the delay every quarter second until cancelling, then every half;
        follow a match (see the module)."""
        self._unmatched_s += block_s
        self._since_estimate += 1
        every = 16 if self.state == ReferenceState.CANCELLING else 8 if self.delay_ms is not None else 4
        if self._estimator.filled >= FIRST_MATCH_S * self._estimator.rate and self._since_estimate >= every:
            self._since_estimate = 0
            self.match = self._estimator.estimate()
            if self.match is not None and self.match.related:
                self._unmatched_s = 0.0
                self._follow(self.match)
            else:
                self._pending = None
        if self._unmatched_s >= UNRELATED_AFTER_S and self.state == ReferenceState.CHECKING:
            self._set(ReferenceState.UNRELATED)
        elif (self._unmatched_s >= 2 * UNRELATED_AFTER_S and self.state == ReferenceState.CANCELLING
              and (self.erle_db or 0.0) < 3.0):
            self._set(ReferenceState.UNRELATED)  # matched once, but no longer heard (the PA went off)

    def _follow(self, match: DelayMatch) -> None:
        """The first match, and a move while cancelling, apply once two estimates in a
        row agree on them (a beat can look like the delay; a DJ speaking over the music
        must not pull it away); a move within :data:`RETUNE_MS` is the adaptive filter's
        to follow; after the filter stopped working (:meth:`_moved`) one match will do."""
        cancelling = self.state == ReferenceState.CANCELLING
        first = self.delay_ms is None
        agreed = self._pending is not None and abs(self._pending.delay_ms - match.delay_ms) <= RETUNE_MS
        self._pending = match
        if cancelling and abs(match.delay_ms - (self.delay_ms or 0.0)) <= RETUNE_MS:
            return
        if (cancelling or first) and not agreed:
            return  # the first match too: in half a second, a beat can look like the delay
        if match.delay_ms < -1000 * self.margin / self.sample_rate:
            self._set(ReferenceState.LATE)
            return
        samples = int(round(match.delay_ms * self.sample_rate / 1000))
        self._pre_delay = int(np.clip(samples - self.margin, 0, len(self._history) - self.block))
        self.delay_ms = match.delay_ms
        self._set(ReferenceState.CANCELLING, changed=True)

    def _set(self, state: ReferenceState, changed: bool = False) -> None:
        if state == self.state and not changed:
            return
        self.state = state
        if self.on_change is not None:
            self.on_change(self)


def _gain_db(energies: Iterable[tuple[float, float]]) -> float:
    """Microphone over output energy, in dB (0 when either is silent)."""
    pairs = list(energies)
    mic = sum(m for m, _ in pairs)
    out = sum(o for _, o in pairs)
    return 10.0 * math.log10(mic / out) if mic > 0 and out > 0 else 0.0


def cancel_echo(mic: np.ndarray, reference: np.ndarray, canceller: EchoCanceller | None = None,
                block: int = BLOCK) -> np.ndarray:
    """A whole recording cleaned, block by block exactly as live (the last block padded
    with silence, then cut back)."""
    canceller = canceller if canceller is not None else EchoCanceller()
    n = min(len(mic), len(reference))
    out = np.empty(n, dtype=np.float32)
    for start in range(0, n, block):
        m, r = mic[start:start + block], reference[start:start + block]
        if len(m) < block:
            m, r = np.pad(m, (0, block - len(m))), np.pad(r, (0, block - len(r)))
        out[start:start + block] = canceller.process(np.ascontiguousarray(m, dtype=np.float32),
                                                     np.ascontiguousarray(r, dtype=np.float32))[: n - start]
    return out


class PairedSource(Protocol):
    """A source that yields each microphone block with the reference's
    (:class:`~djtui.core.audio.MicrophoneSource`, :class:`~djtui.core.audio.FileSource`)."""

    def pairs(self) -> Iterator[tuple[np.ndarray, np.ndarray | None]]: ...

    def close(self) -> None: ...


class CancellingSource:
    """An audio source whose blocks are its microphone with the reference's music
    removed: what the listener hears when a reference is set. Every block publishes an
    :class:`~djtui.core.events.EchoLevels` (before and after), every change of what the
    canceller does a :class:`~djtui.core.events.ReferenceStatus`, to ``on_event`` (the
    pipeline sets it to its subscribers). ``reference`` says where the reference comes
    from, in words. Everything else is the wrapped source's."""

    def __init__(self, source: PairedSource, canceller: EchoCanceller | None = None, reference: str = "",
                 on_event: Callable[[Event], None] | None = None) -> None:
        self.source = source
        self.canceller = canceller if canceller is not None else EchoCanceller()
        self.reference = reference or str(getattr(source, "reference", "")) or "the reference"
        self.on_event = on_event
        self.canceller.on_change = lambda _: self._publish(self.status())

    def __getattr__(self, name: str) -> Any:  # device_name, overruns, duration_s: the source's
        return getattr(self.source, name)

    @property
    def on_status(self) -> Any:
        return getattr(self.source, "on_status", None)

    @on_status.setter
    def on_status(self, callback: Any) -> None:
        self.source.on_status = callback  # type: ignore[attr-defined]

    def status(self) -> ReferenceStatus:
        """What the canceller does now."""
        canceller = self.canceller
        message, hint = DESCRIPTIONS[canceller.state]
        if canceller.state == ReferenceState.CANCELLING and canceller.delay_ms is not None:
            message += f" (the reference is {canceller.delay_ms:.0f} ms ahead of the microphone)"
        return ReferenceStatus(canceller.state.value, self.reference, canceller.delay_ms, message, hint)

    def blocks(self) -> Iterator[np.ndarray]:
        canceller = self.canceller
        self._publish(self.status())
        for microphone, reference in self.source.pairs():
            cleaned = canceller.process(microphone, reference)
            if self.on_event is not None:
                self.on_event(EchoLevels(level(microphone), level(cleaned), canceller.erle_db))
            yield cleaned

    def _publish(self, event: Event) -> None:
        if self.on_event is not None:
            self.on_event(event)

    def close(self) -> None:
        self.source.close()


def available() -> bool:
    """Whether libspeexdsp can be loaded here."""
    try:
        speexdsp()
    except DjtuiError:
        return False
    return True

