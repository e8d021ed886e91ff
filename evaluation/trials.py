"""Running the live listener over labelled recordings, and over audio with no command.

Every recording is streamed block by block through a
:class:`~djtui.core.listener.Listener` built from the same stages as the live pipeline
(VAD, endpointer, recognizer, the safety gate's rules about what was said), so what is
measured is what runs: the same cuts, the same readings, the same verdicts. The listener
judges with ``act=False`` (:meth:`~djtui.core.safety.SafetyGate.accept`): arming, deck
state, cooldowns and rate limits depend on a session's history, not on what was said.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from djtui.core.audio import BLOCK, SAMPLE_RATE, read_audio
from djtui.core.errors import DjtuiError
from djtui.core.events import Outcome
from djtui.core.noise import NoiseBank
from djtui.core.records import Candidate, Verdict
from djtui.evaluation.labels import Label, command_label, normalize_slots

if TYPE_CHECKING:
    from djtui.core.stages import Stages

CLEAN = "clean"
BENCHMARK_SNRS = (6, 9, 12, 15, 18, 21, 24)
"""The SNRs (dB) of Picovoice's speech-to-intent benchmark."""


class Hears(Protocol):
    """What evaluation needs of a listener (:class:`~djtui.core.listener.Listener`)."""

    stages: Stages

    def reset(self) -> None: ...

    def process(self, frame: np.ndarray) -> Outcome | None: ...

    def flush(self) -> Outcome | None: ...


def hear(listener: Hears, audio: np.ndarray) -> list[Outcome]:
    """Every utterance ``listener`` finds in ``audio``, streamed as a microphone would
    deliver it (the last block padded with silence; speech still open at the end is
    closed as at the end of a file)."""
    listener.reset()
    outcomes = []
    for start in range(0, audio.size, BLOCK):
        frame = audio[start:start + BLOCK]
        if frame.size < BLOCK:
            frame = np.pad(frame, (0, BLOCK - frame.size))
        if (outcome := listener.process(np.ascontiguousarray(frame, dtype=np.float32))) is not None:
            outcomes.append(outcome)
    if (outcome := listener.flush()) is not None:
        outcomes.append(outcome)
    return outcomes


Reading = tuple[str, dict[str, str], dict[str, float]]
"""One command an utterance was read as: intent, slots, and the evidence its confidence
came from (the grammar search's: :data:`djtui.core.confidence.FEATURES` and what they
were computed from, :meth:`djtui.core.recognize.Recognizer.understand`)."""


def readings_of(candidates: Sequence[Candidate]) -> tuple[Reading, ...]:
    """The readings of one utterance (an outcome's ``readings``), best first; candidates
    without the grammar search's evidence (a CTC engine's) are left out."""
    from djtui.core.confidence import FEATURES

    return tuple((c.intent, dict(c.slots), dict(c.evidence)) for c in candidates
                 if all(f in c.evidence for f in FEATURES))


@dataclass(frozen=True)
class Trial:
    """One labelled file under one condition ('clean' or an SNR such as '6')."""

    file: str
    condition: str
    expected_intent: str | None
    expected_slots: dict[str, str]
    reference: str | None
    transcript: str
    intent: str | None
    """The accepted command's intent; ``None`` when rejected."""
    slots: dict[str, str]
    score: float | None
    """The best reading's confidence (accepted or not); ``None`` when nothing was heard."""
    reason: str
    """The safety gate's reason: 'accepted', 'out_of_grammar', 'low_confidence',
    'ambiguous', or 'no_speech' when the VAD heard no utterance."""
    latency_ms: float = 0.0
    """End of speech to verdict for the utterance that decided the trial."""
    timings_ms: dict[str, float] = field(default_factory=dict)
    """That utterance's stages (see :data:`djtui.core.events.STAGES`)."""
    best: tuple[str, dict[str, str]] | None = None
    """The top reading (intent, slots) whether accepted or not: tells recognition
    errors from confidence that is set too high or too low."""
    utterances: int = 1
    """How many utterances the VAD cut the recording into."""
    early: bool = False
    """The deciding utterance was finalised before the hang-over ran out."""
    readings: tuple[tuple[Reading, ...], ...] = ()
    """Every utterance's readings, in the order heard (:func:`readings_of`): what
    ``djtui calibrate`` fits on, and how a run is judged again under another calibration."""

    @property
    def accepted(self) -> bool:
        return self.intent is not None

    @property
    def outcome(self) -> str:
        """'understood', 'rejected', 'misunderstood' (for commands) or 'correct reject',
        'false accept' (for audio labelled as no command)."""
        if self.expected_intent is None:
            return "false accept" if self.accepted else "correct reject"
        if not self.accepted:
            return "rejected"
        if self.intent == self.expected_intent and normalize_slots(self.slots) == self.expected_slots:
            return "understood"
        return "misunderstood"

    @property
    def correct(self) -> bool:
        return self.outcome in ("understood", "correct reject")

    @property
    def best_correct(self) -> bool:
        """The top reading is the labelled command (accepted or not)."""
        return (self.best is not None and self.best[0] == self.expected_intent
                and normalize_slots(self.best[1]) == self.expected_slots)


def conditions_for(snrs: Sequence[float], clean: bool = True) -> list[str]:
    """Condition names in report order: 'clean' then the SNRs from noisiest up."""
    names = [CLEAN] if clean else []
    return names + [format_snr(s) for s in sorted(set(snrs))]


def format_snr(snr: float) -> str:
    return str(int(snr)) if float(snr).is_integer() else f"{snr:g}"


def trial_rng(seed: int, file: str, condition: str) -> np.random.Generator:
    """The same noise for the same file and condition in every run, whatever else is run
    (``--limit`` or other SNRs don't shift it)."""
    return np.random.default_rng([seed, zlib.crc32(file.encode()), zlib.crc32(condition.encode())])


def judge_trial(label: Label, condition: str, outcomes: Sequence[Outcome]) -> Trial:
    """One trial from what the listener made of the recording. A wrong command that was
    accepted makes it misunderstood, whatever else was heard (it would have fired);
    else a right one accepted makes it understood; else it was rejected, for the reason
    of the most confident reading."""
    expected = (label.intent, label.slots)

    def right(outcome: Outcome) -> bool:
        c = outcome.verdict.candidate
        return c is not None and (c.intent, normalize_slots(c.slots)) == expected

    accepted = [o for o in outcomes if o.verdict.approved and o.verdict.candidate is not None]
    wrong = [o for o in accepted if not right(o)]
    deciding = (wrong or accepted or sorted(outcomes, key=lambda o: -(o.best.score if o.best else -1.0)) or [None])[0]
    transcript = " / ".join(o.transcript for o in outcomes)
    if deciding is None:
        return Trial(label.path.name, condition, label.intent, label.slots, label.text, transcript,
                     None, {}, None, "no_speech", utterances=0)
    chosen = deciding.verdict.candidate if deciding.verdict.approved else None
    top = deciding.best
    return Trial(
        file=label.path.name, condition=condition, expected_intent=label.intent, expected_slots=label.slots,
        reference=label.text, transcript=transcript,
        intent=chosen.intent if chosen else None, slots=dict(chosen.slots) if chosen else {},
        score=float(top.score) if top is not None else None, reason=deciding.verdict.reason,
        latency_ms=deciding.said_to_done_ms, timings_ms=dict(deciding.stages_ms),
        best=(top.intent, dict(top.slots)) if top is not None else None,
        utterances=len(outcomes), early=deciding.early,
        readings=tuple(readings_of(o.readings) for o in outcomes),
    )


@dataclass(frozen=True)
class Skipped:
    """A file that could not be read (empty, damaged, cut short, …): measured under no
    condition, counted nowhere, and named in the report."""

    file: str
    reason: str


def _read(path: Path, on_skip: Callable[[Skipped], None] | None,
          read: Callable[[Path], np.ndarray] = read_audio) -> np.ndarray | None:
    """The file's audio (by ``read``), or ``None`` when it cannot be read and ``on_skip``
    takes it (without ``on_skip``, the :class:`DjtuiError` is raised)."""
    try:
        return read(path)
    except DjtuiError as exc:
        if on_skip is None:
            raise
        on_skip(Skipped(str(path), exc.message))
        return None


def run_trials(listener: Hears, labels: Sequence[Label], conditions: Sequence[str], noise: NoiseBank | None = None,
               seed: int = 0, on_trial: Callable[[Trial], None] | None = None,
               on_skip: Callable[[Skipped], None] | None = None,
               read: Callable[[Path], np.ndarray] = read_audio) -> list[Trial]:
    """Each labelled file under each condition, heard once. Audio is read once per
    file (``read``: what the listener hears of it; a booth recording's microphone,
    echo-cancelled or not); noisy conditions need ``noise`` (mixed at the benchmark's
    peak-frame SNR). A file that cannot be read goes to ``on_skip`` and the others are
    measured (without ``on_skip`` its :class:`DjtuiError` ends the run)."""
    if any(c != CLEAN for c in conditions) and noise is None:
        raise DjtuiError("SNR conditions need noise to mix in", "give --noise FILE")
    trials = []
    for label in labels:
        if (speech := _read(label.path, on_skip, read)) is None:
            continue
        for condition in conditions:
            name = label.path.name
            audio = speech if condition == CLEAN else noise.mix_at_peak_snr(  # type: ignore[union-attr]
                speech, float(condition), trial_rng(seed, name, condition))
            trial = judge_trial(label, condition, hear(listener, audio))
            trials.append(trial)
            if on_trial:
                on_trial(trial)
    return trials


# --- audio with no command in it -----------------------------------------------------------


@dataclass(frozen=True)
class FalseAccept:
    file: str
    start_s: float
    transcript: str
    command: str
    score: float


@dataclass(frozen=True)
class Negatives:
    """Audio with no command in it, cut the way the live pipeline would cut it."""

    seconds: float
    utterances: int
    false_accepts: list[FalseAccept]
    segmentation: str
    readings: list[tuple[str, float, tuple[Reading, ...]]] = field(default_factory=list)
    """Every utterance heard: its file, where it starts, its readings."""

    @property
    def per_hour(self) -> float:
        return len(self.false_accepts) / (self.seconds / 3600.0) if self.seconds > 0 else 0.0


WINDOW_S = 2.0


@dataclass(frozen=True)
class Heard:
    """One stretch of negative audio as judged: where it starts, what was heard, the verdict."""

    start_s: float
    transcript: str
    verdict: Verdict
    readings: tuple[Reading, ...] = ()


def windows(stages: Stages, audio: np.ndarray, seconds: float = WINDOW_S) -> list[Heard]:
    """Back-to-back ``seconds``-long stretches (the last one kept if at least half full),
    each understood and judged by what was said as one utterance: the worst case, as if
    the VAD let everything through (so no VAD, no endpointer: the listener's door is not
    this one's)."""
    size = int(seconds * SAMPLE_RATE)
    heard = []
    for start in range(0, audio.size, size):
        piece = audio[start:start + size]
        if piece.size >= size // 2:
            understanding = stages.recognizer.understand(piece)
            heard.append(Heard(start / SAMPLE_RATE, understanding.transcript,
                               stages.gate.accept(understanding.candidates[:5]), readings_of(understanding.readings)))
    return heard


SEGMENTATIONS = {"vad": "the live VAD endpointer", "windows": f"back-to-back {WINDOW_S:g} s windows"}


def run_negatives(listener: Hears, files: Sequence[Path], segmentation: str = "vad",
                  on_file: Callable[[Path, int], None] | None = None,
                  on_skip: Callable[[Skipped], None] | None = None) -> Negatives:
    """Cut each file into utterances (``"vad"``: as the live pipeline does; ``"windows"``:
    the worst case) and count the commands accepted: every one is a false accept.
    ``on_file(path, utterances)`` after each file; a file that cannot be read goes to
    ``on_skip`` (its hour is not counted), as in :func:`run_trials`."""
    seconds, count, accepted = 0.0, 0, []
    readings: list[tuple[str, float, tuple[Reading, ...]]] = []
    for path in files:
        if (audio := _read(path, on_skip)) is None:
            if on_file:
                on_file(path, 0)
            continue
        seconds += audio.size / SAMPLE_RATE
        if segmentation == "vad":
            heard = [Heard(o.speech_s[0], o.transcript, o.verdict, readings_of(o.readings)) for o in hear(listener, audio)]
        else:
            heard = windows(listener.stages, audio)
        where = f"{path.parent.name}/{path.name}"  # song folders often hold files of one name
        readings.extend((where, u.start_s, u.readings) for u in heard)
        for utterance in heard:
            c = utterance.verdict.candidate
            if utterance.verdict.approved and c is not None:
                accepted.append(FalseAccept(where, utterance.start_s, utterance.transcript,
                                            command_label(c.intent, dict(c.slots)), float(c.score)))
        count += len(heard)
        if on_file:
            on_file(path, len(heard))
    return Negatives(seconds, count, accepted, SEGMENTATIONS[segmentation], readings)
