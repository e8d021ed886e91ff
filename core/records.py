"""The plain records djtui's stages hand each other, in the order they flow.

::

    block ─► Level                       (audio: how loud)
    blocks ─► Utterance                  (vad: one stretch of speech)
    Utterance ─► AsrResult               (asr: what was heard, and the evidence)
    AsrResult ─► Understanding           (recognize: the top Candidates)
    Candidates ─► Verdict                (safety: approved or not, and why)
    Verdict ─► MidiCommand               (midi: what goes to Rekordbox)
    Verdict ─► Move ─► MidiCommands      (ramps: a knob or fader moved over time)

Only data lives here: frozen dataclasses with small pure methods, importing nothing of
djtui, so every stage, the events front ends receive and the tests can use them without
pulling in the code that makes them (as whisper keeps its data types apart from its
decoding).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

# --- audio -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Level:
    """Loudness of one block in dB relative to full scale (0 dBFS = a full-scale square)."""

    rms_dbfs: float
    peak_dbfs: float


@dataclass(frozen=True)
class Utterance:
    """One stretch of speech, ready for ASR.

    ``start_time`` and ``end_time`` are seconds on the audio stream's clock (0 = first
    block) where speech began and ended; ``audio`` also holds the pre-roll before it.
    ``endpoint_time`` is the ``time.perf_counter()`` at which the endpointer decided the
    utterance was over: the zero point of every latency djtui reports.
    """

    audio: np.ndarray
    start_time: float
    end_time: float
    endpoint_time: float
    cut: bool = False
    """True when ``max_speech_ms`` cut it short (the speaker was still going)."""
    early: bool = False
    """Closed at the first silence because the command was understood and complete,
    not after the hang-over (:meth:`~djtui.core.vad.Endpointer.close_early`)."""

    @property
    def duration_s(self) -> float:
        return self.end_time - self.start_time

    def same_speech(self, other: Utterance) -> bool:
        """Whether ``other`` covers the same speech (a draft and the utterance it became)."""
        return (self.start_time, self.end_time) == (other.start_time, other.end_time)


# --- speech recognition ------------------------------------------------------------------


@dataclass(frozen=True)
class WhisperEncoding:
    """Whisper's encoder output for one utterance (a CTranslate2 ``StorageView``, shape
    ``[1, frames // 2, d_model]``) and the number of mel ``frames`` that hold audio."""

    output: Any
    frames: int


@dataclass(frozen=True)
class AsrResult:
    """What an engine heard: ``text``; for CTC engines the ``logprobs`` (frames × vocab,
    log-softmax) it was decoded from; for Whisper the ``encoding`` its decoder attends to;
    which ``engine`` and ``model``; and the ``seconds`` it took."""

    text: str
    logprobs: np.ndarray | None
    engine: str
    model: str
    seconds: float
    encoding: WhisperEncoding | None = None
    tokens: tuple[int, ...] = ()
    """Whisper: the token ids of ``text`` (what its decoder wrote)."""


@dataclass(frozen=True)
class Candidate:
    """One reading of an utterance: ``intent`` with ``slots`` (canonical values), a
    calibrated ``score`` in [0, 1], the in-grammar ``sentence`` it matched (what acoustic
    rescoring scores against the audio) and per-source ``evidence`` scores."""

    intent: str
    slots: dict[str, str]
    score: float
    sentence: str
    evidence: dict[str, float] = field(default_factory=dict)

    def key(self) -> tuple[str, tuple[tuple[str, str], ...]]:
        return self.intent, tuple(sorted(self.slots.items()))

    def label(self) -> str:
        slots = " ".join(f"{k}={v}" for k, v in sorted(self.slots.items()))
        return f"{self.intent}({slots})" if slots else self.intent


CommandKey = tuple[str, tuple[tuple[str, str], ...]]
"""A command's identity: its intent and sorted slot values (:meth:`Candidate.key`)."""


@dataclass(frozen=True)
class Understanding:
    """What djtui made of one utterance: the ASR ``transcript``, the top ``candidates``
    (best first, with calibrated scores), the full ``asr`` result and per-stage
    ``timings`` in milliseconds (``asr``, ``search``, ``resolve``, ``rescore``).
    ``readings``: every command considered, best first, each with the evidence its
    confidence came from (what ``djtui eval`` records and ``djtui calibrate`` fits on)."""

    transcript: str
    candidates: list[Candidate]
    asr: AsrResult
    timings: dict[str, float] = field(default_factory=dict)
    readings: tuple[Candidate, ...] = ()

    @property
    def best(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None


@dataclass(frozen=True)
class Glimpse:
    """A quick reading of speech still in progress: the grammar search alone, no
    confidence. ``key`` is the best command's :data:`CommandKey`, ``text`` its words."""

    key: CommandKey | None
    text: str


# --- safety and MIDI ---------------------------------------------------------------------


@dataclass(frozen=True)
class MidiCommand:
    """One Rekordbox function as MIDI: a button (``type='note'``, pressed with velocity
    ``value`` and released), a control change (``type='cc'``) or a 14-bit control change
    (``type='cc14'``, ``value`` 0-16383: the MSB on CC ``number``, the LSB on ``number +
    32``) on ``channel`` (0-15)."""

    function: str
    type: str
    channel: int
    number: int
    value: int = 127

    def messages(self) -> list[list[int]]:
        """Raw MIDI bytes in sending order.

        A button is a pulse: note-on, then the release as note-on with velocity 0, the
        form Pioneer's own controllers send and the ``9n`` code the Rekordbox CSV maps
        (Cue previews while held, so the release must reach the same mapping).

        A 14-bit value is its MSB then its LSB, always both: users report that a 7-bit CC
        alone moves no ``KnobSliderHiRes`` row, and Pioneer's hardware sends the MSB first
        (Rekordbox most likely applies the value when the LSB arrives; not verified).
        """
        if self.type == "note":
            return [[0x90 | self.channel, self.number, self.value], [0x90 | self.channel, self.number, 0]]
        if self.type == "cc14":
            return [[0xB0 | self.channel, self.number, self.value >> 7],
                    [0xB0 | self.channel, self.number + 32, self.value & 0x7F]]
        return [[0xB0 | self.channel, self.number, self.value]]

    def label(self) -> str:
        kind = {"note": "note", "cc14": "cc14"}.get(self.type, "cc")
        return f"{self.function} ch{self.channel + 1} {kind} {self.number}={self.value}"


@dataclass(frozen=True)
class Move:
    """An approved move of one knob or fader (``control``, the context's name, driving
    Rekordbox's ``function`` by CC ``cc`` on ``channel``): from ``start`` to ``target``
    (positions, fractions of the travel 0-1) over ``seconds``.

    ``start`` is where djtui last set it; ``None`` when djtui does not know (Rekordbox
    reports no knob positions), and then the first step jumps. ``seconds`` 0 is a jump.
    ``max_per_s`` is the travel per second the ramp may not exceed (``None``: no limit, a
    cut the DJ asked for or a deck that is not playing); the ramp player keeps to it even
    when the control moved since the gate judged. ``why`` says in words how long and why.
    """

    control: str
    function: str
    channel: int
    cc: int
    hires: bool
    deck: int | None
    start: float | None
    target: float
    seconds: float
    max_per_s: float | None = None
    reverse: bool = False
    why: str = ""

    @property
    def key(self) -> tuple[str, int]:
        """One ramp at a time per control and channel: a new move replaces the running one."""
        return self.control, self.channel

    def raw(self, position: float) -> int:
        """The value sent for ``position``: 0-16383 (14-bit) or 0-127, the centre 0.5
        exactly 8192 or 64."""
        top = 16383 if self.hires else 127
        position = min(1.0, max(0.0, position))
        return int((1.0 - position if self.reverse else position) * top + 0.5)

    def command_at(self, position: float) -> MidiCommand:
        return MidiCommand(self.function, "cc14" if self.hires else "cc", self.channel, self.cc, self.raw(position))

    def label(self) -> str:
        where = f"deck {self.deck}" if self.deck is not None else f"ch{self.channel + 1}"
        start = "?" if self.start is None else f"{self.start:.2f}"
        how = "at once" if self.seconds == 0 else f"over {self.seconds:.2f} s"
        return f"{self.function} {where} {start} → {self.target:.2f} {how}"


@dataclass(frozen=True)
class Verdict:
    """The decision on one utterance. ``approved`` means ``commands`` are to be sent and
    ``moves`` started now (none for arm/disarm/cancel); ``halts``: every ramp in progress
    stops where it is (hold, cancel, disarm); ``reason`` is one of
    :data:`~djtui.core.safety.REASONS`; ``message`` is for the DJ; ``candidate`` is the
    reading judged (``None`` when nothing was heard)."""

    approved: bool
    reason: str
    message: str
    candidate: Candidate | None = None
    commands: tuple[MidiCommand, ...] = ()
    moves: tuple[Move, ...] = ()
    halts: bool = False

    @property
    def command(self) -> MidiCommand | None:
        return self.commands[0] if self.commands else None


@dataclass(frozen=True)
class Pending:
    """A command held for 'confirm' until ``deadline`` (on the gate's clock)."""

    candidate: Candidate
    commands: tuple[MidiCommand, ...]
    deadline: float
