"""Recording sessions: prompt a DJ through every command a few times and keep good takes.

No UI here: the TUI's recording screen (and any script) asks :class:`RecordingSession`
for the next :class:`Prompt`, captures audio however it likes, and hands it to
:meth:`RecordingSession.save_take`, which trims silence, checks quality and either writes
the take or returns a :class:`QCResult` asking for a redo. The session can stop at any
moment; opening it again on the same folder resumes where it left off.

Output: ``OUT/recordings/*.wav`` and ``OUT/manifest.jsonl`` (schema in
:mod:`djtui.training.manifest`). Opening a session reconciles the folder without deleting
anything; takes whose manifest lines were lost get them back from the session's script
(see :attr:`RecordingSession.reconciled`). A take that cannot be saved (disk full,
read-only folder) raises one :class:`~djtui.core.errors.DjtuiError` and leaves the folder
as it was.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from djtui.core.context import Context, Sentence
from djtui.core.audio import SAMPLE_RATE, to_model_rate
from djtui.core.text import normalize_text
from djtui.training.manifest import ManifestWriter, Reconciliation, ScriptedTake, Take

FRAME_S = 0.03
MIN_SPEECH_S = 0.2
MIN_DURATION_S = 0.3
MAX_DURATION_S = 6.0
CLIP_LEVEL = 0.999
MAX_CLIPPED_FRACTION = 0.001
QUIET_SPEECH_DB = -40.0
SPEECH_ABOVE_FLOOR_DB = 12.0
SPEECH_ABSOLUTE_DB = -70.0
TRIM_MARGIN_S = (0.15, 0.25)


@dataclass(frozen=True)
class Prompt:
    """What to say next: the sentence, what it means, and which take of it this is."""

    text: str
    intent: str
    slots: dict[str, str]
    take: int


@dataclass(frozen=True)
class QCResult:
    """The verdict on one take. ``passed`` False means: ask for a redo, saying
    ``problems`` (short phrases a DJ understands). ``take`` is the manifest line written
    when it passed."""

    passed: bool
    problems: tuple[str, ...] = ()
    peak_db: float = -120.0
    speech_db: float = -120.0
    speech_s: float = 0.0
    duration: float = 0.0
    take: Take | None = None

    def as_dict(self) -> dict[str, object]:
        return {"passed": self.passed, "problems": list(self.problems), "peak_db": round(self.peak_db, 1),
                "speech_db": round(self.speech_db, 1), "speech_s": round(self.speech_s, 3)}


def _db(x: np.ndarray | float) -> np.ndarray | float:
    return 20.0 * np.log10(np.maximum(x, 1e-6))


def frame_levels(audio: np.ndarray, sample_rate: int = SAMPLE_RATE, frame_s: float = FRAME_S) -> np.ndarray:
    """RMS level in dBFS of consecutive ``frame_s`` frames."""
    hop = max(1, int(frame_s * sample_rate))
    n = len(audio) // hop
    if n == 0:
        return np.full(1, float(_db(np.sqrt(np.mean(audio**2)) if len(audio) else 0.0)))
    frames = np.asarray(audio[: n * hop], dtype=np.float64).reshape(n, hop)
    return np.asarray(_db(np.sqrt(np.mean(frames**2, axis=1))))


def speech_frames(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Energy voice activity: a frame is speech when it is ``SPEECH_ABOVE_FLOOR_DB`` over
    the take's noise floor (its quietest tenth) and above ``SPEECH_ABSOLUTE_DB``. Robust
    enough for a take that starts and ends in room tone, which is what a prompt yields."""
    levels = frame_levels(audio, sample_rate)
    floor = float(np.percentile(levels, 10))
    return (levels > floor + SPEECH_ABOVE_FLOOR_DB) & (levels > SPEECH_ABSOLUTE_DB)


def trim_silence(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Cut leading and trailing silence, keeping a short margin around the speech.
    Audio with no speech frames comes back unchanged."""
    voiced = np.flatnonzero(speech_frames(audio, sample_rate))
    if voiced.size == 0:
        return audio
    hop = int(FRAME_S * sample_rate)
    start = max(0, voiced[0] * hop - int(TRIM_MARGIN_S[0] * sample_rate))
    end = min(len(audio), (voiced[-1] + 1) * hop + int(TRIM_MARGIN_S[1] * sample_rate))
    return audio[start:end]


def check_take(audio: np.ndarray, sample_rate: int = SAMPLE_RATE, *, min_s: float = MIN_DURATION_S,
               max_s: float = MAX_DURATION_S) -> QCResult:
    """Quality checks on a (trimmed) take: clipping, too quiet, too short or too long, no
    speech. Passing means fit for training."""
    audio = np.asarray(audio, dtype=np.float32)
    duration = len(audio) / sample_rate
    peak = float(np.max(np.abs(audio))) if len(audio) else 0.0
    voiced = speech_frames(audio, sample_rate) if len(audio) else np.zeros(0, bool)
    levels = frame_levels(audio, sample_rate) if len(audio) else np.zeros(0)
    speech_s = float(voiced.sum() * FRAME_S)
    speech_db = float(_db(np.sqrt(np.mean(10 ** (levels[voiced] / 10))))) if voiced.any() else -120.0
    problems = []
    if len(audio) and np.mean(np.abs(audio) >= CLIP_LEVEL) > MAX_CLIPPED_FRACTION:
        problems.append("clipped: move back from the mic or lower the input gain")
    if speech_s < MIN_SPEECH_S:
        problems.append("no speech heard: check the mic and speak after the prompt appears")
    elif speech_db < QUIET_SPEECH_DB:
        problems.append("too quiet: speak up or raise the input gain")
    if speech_s >= MIN_SPEECH_S and duration < min_s:
        problems.append(f"too short: under {min_s:.1f} s")
    if duration > max_s:
        problems.append(f"too long: over {max_s:.0f} s, say just the command")
    return QCResult(not problems, tuple(problems), float(_db(peak)), speech_db, speech_s, duration)


def prompts_for(context: Context, takes: int = 3, phrasings: int = 2, seed: int = 0,
                shuffle: bool = True, intents: list[str] | None = None) -> list[Prompt]:
    """The session's script: for each intent, ``phrasings`` distinct sentences (small
    intents: all of them, up to that many; big ones: a seeded random sample), each said
    ``takes`` times. The same arguments always give the same list, which is what lets a
    session resume. ``shuffle`` mixes the order (takes of one sentence spread out)."""
    rng = random.Random(seed)
    chosen: list[Sentence] = []
    for name in intents or list(context.intents):
        seen: dict[str, Sentence] = {}
        for _ in range(phrasings * 20):
            if len(seen) >= phrasings:
                break
            sentence = context.sample(1, rng, intent=name)[0]
            seen.setdefault(normalize_text(sentence.text), sentence)
        chosen.extend(seen.values())
    script = [Prompt(normalize_text(s.text), s.intent, dict(s.slots), t) for t in range(1, takes + 1) for s in chosen]
    if shuffle:
        rng.shuffle(script)
    else:
        script.sort(key=lambda p: (list(context.intents).index(p.intent), p.text, p.take))
    return script


@dataclass
class RecordingSession:
    """A resumable recording session for one ``speaker`` into ``out_dir``.

    ``next_prompt()`` gives the next prompt not yet recorded (None when done);
    ``save_take(audio, prompt)`` trims, checks and (if it passes) writes it.
    """

    out_dir: str | Path
    context: Context
    speaker: str
    takes: int = 3
    seed: int = 0
    phrasings: int = 2
    shuffle: bool = True
    intents: list[str] | None = None
    min_s: float = MIN_DURATION_S
    max_s: float = MAX_DURATION_S
    prompts: list[Prompt] = field(init=False)
    writer: ManifestWriter = field(init=False)

    def __post_init__(self) -> None:
        self.out_dir = Path(self.out_dir)
        self.prompts = prompts_for(self.context, self.takes, self.phrasings, self.seed, self.shuffle, self.intents)
        script = [ScriptedTake(self.speaker, p.text, p.intent, p.slots, p.take) for p in self.prompts]
        self.writer = ManifestWriter(self.out_dir, "recordings", script=script,
                                     check=lambda audio: check_take(audio, SAMPLE_RATE, min_s=self.min_s,
                                                                    max_s=self.max_s).as_dict())

    @property
    def manifest(self) -> Path:
        return self.writer.manifest

    @property
    def reconciled(self) -> Reconciliation:
        """What opening the session did to the folder (a lost manifest line written
        again, a stray file set aside); show its ``summary()`` when ``changed``."""
        return self.writer.reconciled

    def is_done(self, prompt: Prompt) -> bool:
        return (self.speaker, prompt.text, prompt.take) in self.writer.done()

    def remaining(self) -> list[Prompt]:
        done = self.writer.done()
        return [p for p in self.prompts if (self.speaker, p.text, p.take) not in done]

    def progress(self) -> tuple[int, int]:
        """(takes recorded, takes in the script)."""
        return len(self.prompts) - len(self.remaining()), len(self.prompts)

    def next_prompt(self) -> Prompt | None:
        left = self.remaining()
        return left[0] if left else None

    def save_take(self, audio: np.ndarray, prompt: Prompt, sample_rate: int = SAMPLE_RATE) -> QCResult:
        """Trim, check and keep one take. On failure nothing is written and the result's
        ``problems`` say why; record the same prompt again."""
        audio = to_model_rate(audio, sample_rate)
        trimmed = trim_silence(audio, SAMPLE_RATE)
        result = check_take(trimmed, SAMPLE_RATE, min_s=self.min_s, max_s=self.max_s)
        if not result.passed:
            return result
        take = self.writer.add(trimmed, text=prompt.text, intent=prompt.intent, slots=prompt.slots,
                               take=prompt.take, speaker=self.speaker, qc=result.as_dict())
        return dataclasses.replace(result, take=take)
