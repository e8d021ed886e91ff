"""What the live core tells its front ends: one closed set of typed events.

A :class:`~djtui.core.listener.Listener` (and the threaded
:class:`~djtui.core.pipeline.Pipeline` around it) publishes these dataclasses to its
subscribers. Front ends dispatch on their types (``match event: case Outcome(): …``),
never on names, so renaming a field is a type error, not a silently blank HUD.

Per utterance there is exactly one :class:`Outcome`: what was heard, the top five
readings, the safety verdict, the MIDI sent and where the time went. A knob or fader the
verdict moves is a ramp, which outlives the utterance: :class:`RampStarted` and
:class:`RampEnded`, from the ramp player (:mod:`djtui.core.ramps`). Everything else is
about the stream (levels, the echo canceller's before and after, speech starting and
ending, dropped audio, what listening costs) or the session (armed, listening, the
reference, status and errors).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from djtui.core.records import Candidate, Level, MidiCommand, Move, Verdict

STAGES = ("vad_endpoint", "asr", "search", "resolve", "rescore", "safety", "midi")
"""Stages of :attr:`Outcome.stages_ms`, in order. ``vad_endpoint`` is the silence waited
before the endpoint decision (the hang-over, or less when the command was finalised
early); it comes before the endpoint and is not part of :attr:`Outcome.total_ms`."""


@dataclass(frozen=True)
class SpeechStarted:
    time: float
    """Seconds on the audio stream's clock."""


@dataclass(frozen=True)
class SpeechEnded:
    time: float
    duration_s: float
    accepted: bool
    """False when the burst was too short to be a command and was dropped."""


@dataclass(frozen=True)
class Hearing:
    """A reading of speech still in progress: what djtui would do if it ended now."""

    text: str
    """The free transcript so far."""
    best: Candidate | None


@dataclass(frozen=True)
class Outcome:
    """One utterance, start to finish.

    ``total_ms`` runs from the endpoint decision to the MIDI send returning (or to the
    verdict when nothing was sent); ``said_to_done_ms`` adds the silence waited before
    the endpoint, so it runs from the end of speech: what the DJ feels. ``stages_ms``
    holds each of :data:`STAGES` that ran; stages that ran before the endpoint (during
    the hang-over or while the DJ was still speaking) count only their part after it.
    """

    number: int
    transcript: str
    candidates: tuple[Candidate, ...]
    """Up to five readings, best first."""
    verdict: Verdict
    sent: tuple[MidiCommand, ...]
    """What went out on the MIDI port (or would have, on a dry run)."""
    dry_run: bool
    stages_ms: dict[str, float]
    total_ms: float
    engine: str
    model: str
    speech_s: tuple[float, float]
    """Where the speech was, in seconds on the audio stream's clock."""
    ahead: bool = False
    """Understood before the endpoint (during the hang-over or while the DJ spoke):
    after it only the safety gate and the MIDI send were left."""
    early: bool = False
    """Finalised at the first silent block because the grammar said the command was
    complete, instead of after the hang-over."""
    cut: bool = False
    """``max_speech_ms`` cut the speech short."""
    audio: object = field(default=None, repr=False, compare=False)
    """The utterance's audio (float32, 16 kHz), for the session log's clips."""
    readings: tuple[Candidate, ...] = field(default=(), repr=False, compare=False)
    """Every command considered, best first, with its evidence (``djtui eval`` keeps them)."""

    @property
    def best(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None

    @property
    def command(self) -> str:
        """The approved command's label, or ``""`` when nothing was approved."""
        return self.verdict.candidate.label() if self.verdict.approved and self.verdict.candidate else ""

    @property
    def said_to_done_ms(self) -> float:
        return self.stages_ms.get("vad_endpoint", 0.0) + self.total_ms


@dataclass(frozen=True)
class RampStarted:
    """A knob or fader began moving: ``move`` (its target), from ``start`` (``None``:
    djtui did not know where it was, so the first step jumped) over ``seconds`` (0: one
    jump)."""

    move: Move
    start: float | None
    seconds: float


RampEnd = Literal["done", "replaced", "held", "cancelled", "disarmed", "panic", "stopped", "failed"]
"""How a ramp ended: it arrived; a new move of the same control took over; "hold",
"cancel" or "disarm" was said (or the arm key); PANIC; djtui stopped listening; the MIDI
port failed."""


@dataclass(frozen=True)
class RampEnded:
    """A ramp is over: ``how``, and ``position``, where it left the control (the last
    value sent; ``None`` if nothing was)."""

    move: Move
    position: float | None
    how: RampEnd


@dataclass(frozen=True)
class Expired:
    """A command that waited for 'confirm' ran out of time and was dropped."""

    verdict: Verdict


@dataclass(frozen=True)
class ArmedChanged:
    armed: bool


@dataclass(frozen=True)
class ListeningChanged:
    listening: bool


@dataclass(frozen=True)
class Dropped:
    """Something was lost and the DJ should know: ``what`` is ``"utterance"`` (the
    worker was still busy with earlier ones) or ``"audio"`` (the input overran:
    ``count`` blocks the device delivered that djtui could not take)."""

    what: str
    count: int
    total: int
    """How many of ``what`` were dropped since listening started."""
    message: str


@dataclass(frozen=True)
class Status:
    message: str
    hint: str = ""


@dataclass(frozen=True)
class Error:
    message: str
    hint: str = ""


@dataclass(frozen=True)
class Usage:
    """What listening costs, over the last ``window_s`` seconds (published every couple
    of seconds while the live pipeline listens)."""

    cpu_share: float
    """djtui's CPU time (every thread, and the capture process) per second, as a share of
    the whole machine: 0.25 is a quarter of all ``cores``."""
    realtime_factor: float
    """Seconds spent understanding speech (glimpses, drafts, utterances) per second of
    audio heard. Under 1 it keeps up; at 1 or more commands queue up and come late."""
    window_s: float
    cores: int

    @property
    def keeps_up(self) -> bool:
        return self.realtime_factor < 1.0


@dataclass(frozen=True)
class EchoLevels:
    """One block of the microphone before and after the echo canceller removed the mix
    from it (:mod:`djtui.core.echo_cancel`); the listener's :class:`Level` of the same
    block is the after."""

    before: Level
    after: Level
    erle_db: float | None
    """Sound removed over the last second, dB (``None`` unless cancelling all of it)."""


@dataclass(frozen=True)
class ReferenceStatus:
    """What the echo canceller does with the reference, published when that changes:
    ``state`` is one of :class:`~djtui.core.echo_cancel.ReferenceState`'s values
    (``"cancelling"``, ``"checking"``, ``"silent"``, ``"unrelated"``, ``"late"``,
    ``"lost"``); ``reference`` where it comes from ("input 2 of …"); ``delay_ms`` its
    measured delay (``None`` before the first match)."""

    state: str
    reference: str
    delay_ms: float | None
    message: str
    hint: str = ""

    @property
    def cancelling(self) -> bool:
        return self.state == "cancelling"


@dataclass(frozen=True)
class Finished:
    """The source ended (end of file) and every utterance from it has been handled."""


Event = (
    Level | SpeechStarted | SpeechEnded | Hearing | Outcome | RampStarted | RampEnded | Expired | ArmedChanged
    | ListeningChanged | Dropped | Status | Error | Usage | EchoLevels | ReferenceStatus | Finished
)
"""Everything a subscriber can receive."""
