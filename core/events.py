"""What the live core tells its front ends: one closed set of typed events.

A :class:`~djtui.core.listener.Listener` (and the threaded
:class:`~djtui.core.pipeline.Pipeline` around it) publishes these dataclasses to its
subscribers. Front ends dispatch on their types (``match event: case Outcome(): …``),
never on names, so renaming a field is a type error, not a silently blank HUD.

Per utterance there is exactly one :class:`Outcome`: what was heard, the top five
readings, the safety verdict, the MIDI sent and where the time went. Everything else is
about the stream (levels, speech starting and ending, dropped audio) or the session
(armed, listening, status and errors).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from djtui.core.records import Candidate, Level, MidiCommand, Verdict

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
class Finished:
    """The source ended (end of file) and every utterance from it has been handled."""


Event = (
    Level | SpeechStarted | SpeechEnded | Hearing | Outcome | Expired | ArmedChanged | ListeningChanged
    | Dropped | Status | Error | Finished
)
"""Everything a subscriber can receive."""
