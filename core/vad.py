"""Voice activity and end of speech: which blocks are speech, and when a command ends.

:class:`SileroVad` (neural, robust to music and crowd noise) gives each 32 ms block a
speech probability; :class:`EnergyVad` is the fallback level gate. The
:class:`Endpointer` turns those probabilities into :class:`Utterance` s: it keeps a little
audio from before speech starts (pre-roll), and closes the utterance after
``hangover_ms`` of silence, or at once when push-to-talk is released.
"""

from __future__ import annotations

import importlib.util
import threading
import time
from collections import deque
from dataclasses import replace
from pathlib import Path
from typing import Protocol

import numpy as np

from djtui.core.audio import BLOCK, SAMPLE_RATE, level
from djtui.core.errors import DjtuiError
from djtui.core.records import Utterance


class Vad(Protocol):
    def probability(self, block: np.ndarray) -> float:
        """Speech probability (0..1) of one :data:`~djtui.core.audio.BLOCK`-sample block."""
        ...

    def reset(self) -> None: ...


class SileroVad:
    """silero-vad's ONNX model, shipped inside the ``silero-vad`` package (no download).

    The model is run with onnxruntime directly rather than through the package's torch
    wrapper: same numbers, no torch import (seconds at start) and no tensors per block.
    Like the wrapper, each call sees the last 64 samples of the previous block as context.
    """

    CONTEXT = 64

    def __init__(self, sample_rate: int = SAMPLE_RATE) -> None:
        if sample_rate != 16000:
            raise DjtuiError(f"silero-vad runs at 16000 Hz, not {sample_rate}", "leave [audio] sample_rate at 16000")
        try:
            import onnxruntime
        except ImportError:
            raise DjtuiError("silero-vad needs onnxruntime, which is not installed", "pip install onnxruntime, or set [vad] engine = \"energy\"") from None
        path = self.model_path()
        options = onnxruntime.SessionOptions()
        options.inter_op_num_threads = 1
        options.intra_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
        self._input = np.zeros((1, self.CONTEXT + BLOCK), dtype=np.float32)
        self._rate = np.array(sample_rate, dtype=np.int64)
        self.reset()

    @staticmethod
    def model_path() -> Path:
        """The bundled model file, found without importing the package (which imports torch)."""
        spec = importlib.util.find_spec("silero_vad")
        if spec is None or not spec.submodule_search_locations:
            raise DjtuiError("silero-vad is not installed", "pip install silero-vad, or set [vad] engine = \"energy\"")
        path = Path(next(iter(spec.submodule_search_locations))) / "data" / "silero_vad.onnx"
        if not path.is_file():
            raise DjtuiError(f"silero-vad's model is missing ({path})", "reinstall silero-vad, or set [vad] engine = \"energy\"")
        return path

    def reset(self) -> None:
        self._state = np.zeros((2, 1, 128), dtype=np.float32)
        self._input[:] = 0.0

    def probability(self, block: np.ndarray) -> float:
        self._input[0, self.CONTEXT :] = block
        out, self._state = self._session.run(None, {"input": self._input, "state": self._state, "sr": self._rate})
        self._input[0, : self.CONTEXT] = self._input[0, -self.CONTEXT :]
        return float(out[0, 0])


class EnergyVad:
    """Speech = a block louder than ``threshold_dbfs`` (RMS). Cheap, needs no model, but
    any loud sound counts: use it with push-to-talk, or as a fallback."""

    def __init__(self, threshold_dbfs: float = -35.0) -> None:
        self.threshold_dbfs = threshold_dbfs

    def probability(self, block: np.ndarray) -> float:
        return 1.0 if level(block).rms_dbfs >= self.threshold_dbfs else 0.0

    def reset(self) -> None:
        pass


def load_vad(engine: str = "silero", energy_threshold_dbfs: float = -35.0) -> Vad:
    """``"silero"`` or ``"energy"`` (the ``[vad] engine`` setting)."""
    if engine == "silero":
        return SileroVad()
    if engine == "energy":
        return EnergyVad(energy_threshold_dbfs)
    raise DjtuiError(f"unknown VAD engine {engine!r}", "set [vad] engine to \"silero\" or \"energy\"")


class Endpointer:
    """Finds utterances in a stream of blocks.

    A block is speech when its probability reaches ``threshold``; once speaking, it takes
    ``hangover_ms`` of blocks below ``threshold - 0.15`` (silero's own hysteresis) to end.
    Speech shorter than ``min_speech_ms`` is dropped (a cough, a kick drum); speech
    longer than ``max_speech_ms`` is cut there and the rest ignored until silence.

    Push-to-talk: :meth:`set_listening` (safe to call from any thread) gates it. While
    not listening, blocks are ignored; releasing while speaking ends the utterance at
    once, without waiting for the hang-over.
    """

    def __init__(
        self,
        vad: Vad,
        threshold: float = 0.5,
        hangover_ms: int = 300,
        min_speech_ms: int = 200,
        max_speech_ms: int = 4000,
        pre_roll_ms: int = 200,
        tail_ms: int = 100,
        sample_rate: int = SAMPLE_RATE,
        block: int = BLOCK,
        listening: bool = True,
    ) -> None:
        self.vad = vad
        self.threshold = threshold
        self.release_threshold = max(0.0, threshold - 0.15)
        block_ms = 1000 * block / sample_rate
        self.hangover_ms = hangover_ms
        self.tail_ms = tail_ms
        self._hangover_blocks = max(1, round(hangover_ms / block_ms))
        self._min_blocks = max(1, round(min_speech_ms / block_ms))
        self._max_blocks = max(1, round(max_speech_ms / block_ms))
        self._tail_blocks = min(self._hangover_blocks, max(0, round(tail_ms / block_ms)))
        self._pre_roll: deque[np.ndarray] = deque(maxlen=max(0, round(pre_roll_ms / block_ms)) or 1)
        self.pre_roll_ms = pre_roll_ms
        self.sample_rate = sample_rate
        self.block = block
        self._listening = threading.Event()
        if listening:
            self._listening.set()
        self._lock = threading.Lock()  # push (audio thread) against close_early (another thread)
        self.blocks_seen = 0
        self.last_probability = 0.0
        self._draft: Utterance | None = None
        self._reset_speech()

    def _reset_speech(self) -> None:
        self.speaking = False
        self._cut = False
        self._speech: list[np.ndarray] = []
        self._pre: list[np.ndarray] = []
        self._speech_blocks = 0
        self._silent_blocks = 0
        self._start_block = 0

    def reset(self) -> None:
        """Forget the stream so far (a new recording starts): no speech open, no
        pre-roll, the VAD's own state cleared. The microphone gate stays as it is."""
        with self._lock:
            self._reset()

    def _reset(self) -> None:
        self._reset_speech()
        self._pre_roll.clear()
        self._draft = None
        self.vad.reset()
        self.blocks_seen = 0
        self.last_probability = 0.0

    @property
    def listening(self) -> bool:
        return self._listening.is_set()

    def set_listening(self, on: bool) -> None:
        """Open or close the gate (push-to-talk key, footswitch)."""
        if on:
            self._listening.set()
        else:
            self._listening.clear()

    def _time(self, blocks: int) -> float:
        return blocks * self.block / self.sample_rate

    def push(self, block: np.ndarray) -> Utterance | None:
        """Feed one block; returns an :class:`Utterance` when one has just ended."""
        with self._lock:
            return self._push(block)

    def _push(self, block: np.ndarray) -> Utterance | None:
        index = self.blocks_seen
        self.blocks_seen += 1
        if not self._listening.is_set():
            self.last_probability = 0.0
            if self.speaking and not self._cut:
                return self._finish(trailing_silence=0)
            self._reset_speech()
            self._pre_roll.clear()
            self.vad.reset()
            return None
        probability = self.vad.probability(block)
        self.last_probability = probability
        if not self.speaking:
            if probability >= self.threshold:
                self.speaking = True
                self._start_block = index
                self._pre = list(self._pre_roll) if self.pre_roll_ms > 0 else []
                self._speech = [block]
                self._speech_blocks = 1
                self._silent_blocks = 0
            elif self.pre_roll_ms > 0:
                self._pre_roll.append(block)
            return None
        if self._cut:  # past max_speech_ms: wait for silence, then start afresh
            self._silent_blocks = self._silent_blocks + 1 if probability < self.release_threshold else 0
            if self._silent_blocks >= self._hangover_blocks:
                self._reset_speech()
                self._pre_roll.clear()
            return None
        self._speech.append(block)
        self._speech_blocks += 1
        if probability < self.release_threshold:
            self._silent_blocks += 1
            if self._silent_blocks >= self._hangover_blocks:
                return self._finish(trailing_silence=self._silent_blocks)
            if self._silent_blocks == self._tail_blocks and self._speech_blocks - self._silent_blocks >= self._min_blocks:
                self._draft = self._utterance(self._silent_blocks, endpoint_time=time.perf_counter())
        else:
            if self._silent_blocks:
                self._draft = None  # speech went on: that draft is not the utterance
            self._silent_blocks = 0
        if self._speech_blocks >= self._max_blocks:
            return self._finish(trailing_silence=self._silent_blocks, cut=True)
        return None

    def flush(self) -> Utterance | None:
        """End of stream: close an utterance still open (no hang-over to wait for)."""
        with self._lock:
            return self._flush()

    def _flush(self) -> Utterance | None:
        if self.speaking and not self._cut:
            return self._finish(trailing_silence=self._silent_blocks)
        self._reset_speech()
        return None

    @property
    def pausing(self) -> bool:
        """Whether the utterance open now has gone silent (its hang-over is running)."""
        return self.speaking and not self._cut and self._silent_blocks > 0

    @property
    def voiced_blocks(self) -> int:
        """Blocks of speech in the utterance open now (0 when none is)."""
        return self._speech_blocks - self._silent_blocks if self.speaking and not self._cut else 0

    def speech_so_far(self) -> np.ndarray | None:
        """The audio of the utterance still being spoken (pre-roll included), for a
        reading of it before it ends; ``None`` when no speech is open."""
        with self._lock:
            if not self.speaking or self._cut or not self._speech:
                return None
            return np.concatenate(self._pre + self._speech)

    def close_early(self, draft: Utterance) -> Utterance | None:
        """End the open utterance now, as ``draft`` (from :meth:`take_draft`), instead of
        after the hang-over: the command was understood and is complete. ``None`` when
        speech went on since the draft (it is not the utterance any more). The silence
        that follows starts no utterance of its own. Its ``endpoint_time`` stays the
        draft's: understanding the draft is part of what the DJ waits for."""
        with self._lock:
            if not self.speaking or self._cut or not self._silent_blocks:
                return None
            voiced = self._speech_blocks - self._silent_blocks
            if (self._time(self._start_block), self._time(self._start_block + voiced)) != (draft.start_time, draft.end_time):
                return None
            self._draft = None
            self._reset_speech()
            self._pre_roll.clear()
            return replace(draft, early=True)

    def take_draft(self) -> Utterance | None:
        """The utterance as it will be if the silence that just began lasts the
        hang-over (``endpoint_time``: when the silence began), once; ``None`` if there is
        no new one. Its audio
        is exactly the final utterance's, so ASR can start while the hang-over runs:
        the final :class:`Utterance` equals it in ``start_time``/``end_time``."""
        draft, self._draft = self._draft, None
        return draft

    def _utterance(self, trailing_silence: int, endpoint_time: float, cut: bool = False) -> Utterance:
        voiced_blocks = self._speech_blocks - trailing_silence
        keep = voiced_blocks + min(trailing_silence, self._tail_blocks)
        return Utterance(
            np.concatenate(self._pre + self._speech[:keep]),
            self._time(self._start_block),
            self._time(self._start_block + voiced_blocks),
            endpoint_time,
            cut=cut,
        )

    def _finish(self, trailing_silence: int, cut: bool = False) -> Utterance | None:
        endpoint_time = time.perf_counter()
        voiced_blocks = self._speech_blocks - trailing_silence
        utterance = self._utterance(trailing_silence, endpoint_time, cut) if voiced_blocks >= self._min_blocks else None
        self._draft = None
        if cut:
            self._cut = True
            self._silent_blocks = 0
            self._speech = []
        else:
            self._reset_speech()
        self._pre_roll.clear()
        return utterance
