"""Measure understanding the way the speech-to-intent field does.

The yardstick is Picovoice's speech-to-intent benchmark: recorded commands, noise mixed in
at a signal-to-noise ratio measured between the loudest 2048-sample frames of speech and
noise, and the *command acceptance rate*: a command counts only when its intent and every
slot are right. On top of that djtui reports what a DJ cares about: whether a miss was
rejected (nothing happens, say it again) or misunderstood (the wrong thing happens), how
often music alone triggers a command, and how long understanding takes.

The functions here are pure where they can be (labels, mixing, the accept decision,
scoring); :func:`run_trials` and :func:`run_negatives` drive any recognizer with an
``understand(audio) -> Understanding`` method, so the scoring is testable without models.
"""

from __future__ import annotations

import json
import math
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from djtui.core.errors import DjtuiError

SAMPLE_RATE = 16000
PEAK_FRAME = 2048
"""Frame length (samples) over which the benchmark measures speech and noise energy."""
BENCHMARK_SNRS = (6, 9, 12, 15, 18, 21, 24)
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif")

RHINO_BY_SNR = {6: 0.935, 9: 0.965, 12: 0.98, 15: 0.985, 18: 0.985, 21: 0.99, 24: 0.99}
"""Picovoice Rhino's published command acceptance rate per SNR (dB), read off its plot."""
PUBLISHED_NOISY_ACCURACY = {
    "Picovoice Rhino": 0.976,
    "Microsoft LUIS": 0.899,
    "IBM Watson": 0.868,
    "Amazon Lex": 0.845,
    "Google Dialogflow": 0.776,
}
"""Published command acceptance on the full benchmark, averaged over cafe and kitchen
noise at 6-24 dB."""

CLEAN = "clean"


# --- labels ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Label:
    """What one audio file says: ``intent`` with ``slots``, or ``intent=None`` for audio
    that holds no command and must be rejected. ``text`` is the transcript when known."""

    path: Path
    intent: str | None
    slots: dict[str, str] = field(default_factory=dict)
    text: str | None = None

    def command(self) -> str:
        return command_label(self.intent, self.slots)


def command_label(intent: str | None, slots: dict[str, str]) -> str:
    """``orderDrink(size=large roast=dark roast)``; ``—`` for no command."""
    if intent is None:
        return "—"
    inner = " ".join(f"{k}={v}" for k, v in sorted(slots.items()))
    return f"{intent}({inner})" if inner else intent


def normalize_slots(slots: dict[str, Any] | None) -> dict[str, str]:
    """Slot values compared as the benchmark does: surrounding white space trimmed (its
    labels say ``' milk'``), inner runs of white space collapsed."""
    return {str(k).strip(): " ".join(str(v).split()) for k, v in (slots or {}).items()}


def read_labels(path: str | Path, data_dir: str | Path | None = None) -> list[Label]:
    """Read djtui's ``manifest.jsonl`` or Picovoice's ``label.json``, by content.

    Audio paths in the labels are relative to ``data_dir`` (default: the labels file's
    folder) and must stay inside it (see :func:`djtui.core.paths.within`)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DjtuiError(f"{path}: no such labels file", "give label.json or manifest.jsonl with --labels") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DjtuiError(f"{path}: cannot read the labels ({exc})", "check the file") from None
    base = Path(data_dir) if data_dir else path.parent
    if path.suffix == ".jsonl" or _is_json_lines(text):
        labels = parse_manifest(text, base, str(path))
    else:
        labels = parse_label_json(text, base, str(path))
    if not labels:
        raise DjtuiError(f"{path}: no labelled files in it", "each entry needs a file and its intent")
    return labels


def _is_json_lines(text: str) -> bool:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return exc.msg == "Extra data"  # several objects: one per line
    return isinstance(data, dict) and "path" in data  # a one-line manifest


def parse_label_json(text: str, data_dir: Path, where: str = "label.json") -> list[Label]:
    """Picovoice's layout: ``{file: {"intent": …, "slots": {…}, "text": …}}``."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DjtuiError(f"{where}:{exc.lineno}: not valid JSON ({exc.msg})", "fix the file") from None
    if not isinstance(data, dict):
        raise DjtuiError(f"{where}: expected a mapping of file name to its label", 'like {"a.flac": {"intent": "orderDrink", "slots": {}}}')
    labels = []
    for name, entry in data.items():
        if not isinstance(entry, dict) or "intent" not in entry:
            raise DjtuiError(f"{where}: entry {name!r} needs an 'intent' (null for audio to reject)", 'like {"intent": "orderDrink", "slots": {}}')
        labels.append(_label(_audio_path(data_dir, name, f"{where}: {name!r}"), entry, f"{where}: {name!r}"))
    return labels


def parse_manifest(text: str, data_dir: Path, where: str = "manifest.jsonl") -> list[Label]:
    """djtui's manifest: one JSON object a line with ``path``, ``text``, ``intent``, ``slots``."""
    labels = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DjtuiError(f"{where}:{number}: not valid JSON ({exc.msg})", "fix or delete the line") from None
        if not isinstance(entry, dict) or "path" not in entry or "intent" not in entry:
            raise DjtuiError(f"{where}:{number}: each line needs 'path' and 'intent'", "see README, 'Training data'")
        labels.append(_label(_audio_path(data_dir, str(entry["path"]), f"{where}:{number}"), entry, f"{where}:{number}"))
    return labels


def _audio_path(data_dir: Path, name: str, where: str) -> Path:
    from djtui.core.paths import within

    try:
        return within(data_dir, name)
    except ValueError as exc:
        raise DjtuiError(f"{where}: {exc}", "keep the audio under the labels' folder (or --data)") from None


def _label(path: Path, entry: dict[str, Any], where: str) -> Label:
    intent = entry.get("intent")
    slots = entry.get("slots") or {}
    if intent is not None and not isinstance(intent, str):
        raise DjtuiError(f"{where}: 'intent' must be a name or null", "fix the label")
    if not isinstance(slots, dict):
        raise DjtuiError(f"{where}: 'slots' must be a mapping of slot to value", "fix the label")
    text = entry.get("text")
    return Label(path, intent.strip() if intent else None, normalize_slots(slots), str(text) if text else None)


# --- audio and mixing --------------------------------------------------------------------


def load_audio(path: str | Path, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Mono float32 at ``sample_rate`` from any file libsndfile reads; :class:`DjtuiError`
    for an empty file or NaN/Inf samples."""
    import soundfile as sf

    try:
        audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except FileNotFoundError:
        raise DjtuiError(f"{path}: no such audio file", "check --data and the paths in the labels") from None
    except (RuntimeError, sf.LibsndfileError) as exc:
        raise DjtuiError(f"{path}: cannot read the audio ({exc})", "use WAV, FLAC or OGG") from None
    if not audio.size or not np.isfinite(audio).all():  # a score on broken audio would be no score
        raise DjtuiError(f"{path}: {'holds no audio' if not audio.size else 'holds NaN or infinite samples'}",
                         "re-export the file or leave it out of the labels")
    audio = audio.mean(axis=1)
    if rate != sample_rate:
        import soxr

        audio = soxr.resample(audio, rate, sample_rate)
    return np.ascontiguousarray(audio, dtype=np.float32)


def peak_frame_energy(audio: np.ndarray, frame_length: int = PEAK_FRAME) -> float:
    """Energy (sum of squares) of the loudest whole ``frame_length`` frame; audio shorter
    than one frame counts as one frame."""
    audio = np.asarray(audio, dtype=np.float64)
    n = audio.size // frame_length
    if n == 0:
        return float(np.sum(audio**2))
    frames = audio[: n * frame_length].reshape(n, frame_length)
    return float(np.max(np.sum(frames**2, axis=1)))


def peak_snr_db(speech: np.ndarray, noise: np.ndarray, frame_length: int = PEAK_FRAME) -> float:
    """The benchmark's SNR: loudest speech frame against loudest noise frame, in dB."""
    return 10.0 * math.log10(peak_frame_energy(speech, frame_length) / peak_frame_energy(noise, frame_length))


def noise_segment(noise: np.ndarray, length: int, rng: np.random.Generator) -> np.ndarray:
    """A random ``length``-sample stretch of ``noise`` (looped when it is shorter)."""
    if noise.size == 0:
        raise DjtuiError("noise file is empty", "give a noise recording with sound in it")
    if noise.size < length:
        noise = np.tile(noise, length // noise.size + 1)
    start = int(rng.integers(0, noise.size - length + 1))
    return noise[start : start + length]


def scale_noise(speech: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """``noise`` scaled so :func:`peak_snr_db` of speech against it is ``snr_db``."""
    noise_energy = peak_frame_energy(noise)
    if noise_energy <= 0.0:
        raise DjtuiError("the noise segment is silent", "give a noise recording with sound throughout")
    scale = math.sqrt(peak_frame_energy(speech) / (noise_energy * 10.0 ** (snr_db / 10.0)))
    return (noise * scale).astype(np.float32)


def mix_at_snr(speech: np.ndarray, noise: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """Speech plus a random segment of ``noise`` at ``snr_db``, as the benchmark mixes.

    Only if the sum would clip is it scaled down (both parts alike, so the SNR holds)."""
    part = scale_noise(speech, noise_segment(noise, speech.size, rng), snr_db)
    mixed = speech.astype(np.float32) + part
    peak = float(np.max(np.abs(mixed))) if mixed.size else 0.0
    return mixed / peak if peak > 1.0 else mixed


@dataclass
class NoiseBank:
    """Noise recordings to mix from: a random recording, then a random segment of it."""

    tracks: list[np.ndarray]
    names: list[str]

    @classmethod
    def load(cls, paths: Sequence[str | Path]) -> NoiseBank:
        tracks, names = [], []
        for path in paths:
            audio = load_audio(path)
            if peak_frame_energy(audio) <= 0.0:
                raise DjtuiError(f"{path}: the noise file is silent", "give a recording with sound in it")
            tracks.append(audio)
            names.append(Path(path).name)
        return cls(tracks, names)

    def mix(self, speech: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
        track = self.tracks[int(rng.integers(0, len(self.tracks)))]
        return mix_at_snr(speech, track, snr_db, rng)


def audio_files(paths: Iterable[str | Path]) -> list[Path]:
    """Audio files named, or found (recursively) in the folders named, sorted."""
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file()))
        elif path.is_file():
            found.append(path)
        else:
            raise DjtuiError(f"{path}: no such file or folder", "give audio files or folders of them")
    return found


# --- the accept decision -----------------------------------------------------------------


class Scored(Protocol):
    intent: str
    slots: dict[str, str]
    score: float


@dataclass(frozen=True)
class Decision:
    """What the confidence part of the safety layer makes of the top candidates."""

    candidate: Scored | None
    reason: str
    """'accepted', 'out of grammar', 'low confidence' or 'ambiguous'."""

    @property
    def accepted(self) -> bool:
        return self.candidate is not None


def decide(candidates: Sequence[Scored], min_confidence: float, min_margin: float,
           grammar_floor: float = 0.0) -> Decision:
    """The live :class:`~djtui.core.safety.SafetyGate`'s confidence rules, and only those:
    the best candidate is accepted when it reaches ``min_confidence`` and every different
    command trails it by at least ``min_margin`` (below ``grammar_floor``, or with no
    candidate at all, it is not a command).

    Arming, cooldowns, rate limits and deck state depend on a session's history, not on
    what was said, so evaluation leaves them out. Two readings count as the same command
    when their intent and slots match (the gate, which knows each intent's MIDI action,
    also merges different intents that send the same message)."""
    ranked = sorted(candidates, key=lambda c: c.score, reverse=True)
    if not ranked or ranked[0].score < grammar_floor:
        return Decision(None, "out of grammar")
    best = ranked[0]
    if best.score < min_confidence:
        return Decision(None, "low confidence")
    key = (best.intent, normalize_slots(best.slots))
    for other in ranked[1:]:
        if best.score - other.score >= min_margin:
            break
        if (other.intent, normalize_slots(other.slots)) != key:
            return Decision(None, "ambiguous")
    return Decision(best, "accepted")


# --- running the recognizer --------------------------------------------------------------


class Understands(Protocol):
    def understand(self, audio: np.ndarray) -> Any: ...


Decider = Callable[[Sequence[Any]], Decision]


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
    reason: str
    latency_s: float
    timings_ms: dict[str, float] = field(default_factory=dict)
    """The recognizer's own per-stage timings (asr, resolve, rescore), milliseconds."""
    best: tuple[str, dict[str, str]] | None = None
    """The top candidate (intent, slots) whether accepted or not: tells recognition
    errors from confidence that is set too high or too low."""

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
        """The top candidate is the labelled command (accepted or not)."""
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


def _understand(recognizer: Understands, audio: np.ndarray, decider: Decider) -> tuple[Any, Decision, float]:
    start = time.perf_counter()
    understanding = recognizer.understand(audio)
    elapsed = time.perf_counter() - start
    return understanding, decider(list(understanding.candidates)), elapsed


def _timings_ms(understanding: Any) -> dict[str, float]:
    timings = getattr(understanding, "timings", None) or {}
    if not isinstance(timings, dict):
        timings = getattr(timings, "__dict__", {})
    return {str(k): float(v) for k, v in timings.items() if isinstance(v, (int, float))}


def run_trials(recognizer: Understands, labels: Sequence[Label], conditions: Sequence[str], decider: Decider,
               noise: NoiseBank | None = None, seed: int = 0,
               on_trial: Callable[[Trial], None] | None = None) -> list[Trial]:
    """Each labelled file under each condition, understood once. Audio is read once per
    file; noisy conditions need ``noise``."""
    if any(c != CLEAN for c in conditions) and noise is None:
        raise DjtuiError("SNR conditions need noise to mix in", "give --noise FILE")
    trials = []
    for label in labels:
        speech = load_audio(label.path)
        if speech.size == 0:
            raise DjtuiError(f"{label.path}: the audio file is empty", "re-record it or drop it from the labels")
        for condition in conditions:
            name = label.path.name
            audio = speech if condition == CLEAN else noise.mix(speech, float(condition), trial_rng(seed, name, condition))  # type: ignore[union-attr]
            understanding, decision, elapsed = _understand(recognizer, audio, decider)
            best = decision.candidate
            top = max(understanding.candidates, key=lambda c: c.score, default=None)
            trial = Trial(
                file=name, condition=condition, expected_intent=label.intent, expected_slots=label.slots,
                reference=label.text, transcript=str(getattr(understanding, "transcript", "")),
                intent=best.intent if best else None, slots=dict(best.slots) if best else {},
                score=float(understanding.candidates[0].score) if understanding.candidates else None,
                reason=decision.reason, latency_s=elapsed, timings_ms=_timings_ms(understanding),
                best=(top.intent, dict(top.slots)) if top is not None else None,
            )
            trials.append(trial)
            if on_trial:
                on_trial(trial)
    return trials


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

    @property
    def per_hour(self) -> float:
        return len(self.false_accepts) / (self.seconds / 3600.0) if self.seconds > 0 else 0.0


Segmenter = Callable[[np.ndarray], list[tuple[float, np.ndarray]]]
"""Cuts a recording into what the recognizer would be handed: ``(start_s, audio)``."""


def windows(audio: np.ndarray, seconds: float = 2.0, sample_rate: int = SAMPLE_RATE) -> list[tuple[float, np.ndarray]]:
    """Back-to-back ``seconds``-long stretches (the last one kept if at least half full):
    the worst case, as if the VAD let everything through."""
    size = int(seconds * sample_rate)
    return [(start / sample_rate, audio[start : start + size]) for start in range(0, audio.size, size)
            if min(size, audio.size - start) >= size // 2]


def vad_utterances(vad_config: Any) -> Segmenter:
    """The live pipeline's cut: its VAD and :class:`~djtui.core.vad.Endpointer` with the
    ``[vad]`` settings, fed 32 ms blocks; every utterance it closes (including those cut at
    ``max_speech_ms``) goes to the recognizer, as it would on stage."""
    from djtui.core.audio import BLOCK
    from djtui.core.vad import Endpointer, load_vad

    vad = load_vad(vad_config.engine, vad_config.energy_threshold_dbfs)

    def segment(audio: np.ndarray) -> list[tuple[float, np.ndarray]]:
        vad.reset()
        endpointer = Endpointer(vad, threshold=vad_config.threshold, hangover_ms=vad_config.hangover_ms,
                                min_speech_ms=vad_config.min_speech_ms, max_speech_ms=vad_config.max_speech_ms)
        found = []
        for start in range(0, audio.size - BLOCK + 1, BLOCK):
            utterance = endpointer.push(audio[start : start + BLOCK])
            if utterance is not None:
                found.append((utterance.start_time, utterance.audio))
        if (utterance := endpointer.flush()) is not None:
            found.append((utterance.start_time, utterance.audio))
        return found

    return segment


def run_negatives(recognizer: Understands, files: Sequence[Path], decider: Decider, segment: Segmenter = windows,
                  segmentation: str = "2 s windows", on_file: Callable[[Path, int], None] | None = None) -> Negatives:
    """Cut each file into utterances with ``segment`` and count the commands accepted:
    every one is a false accept. ``on_file(path, utterances)`` after each file."""
    seconds, count, accepted = 0.0, 0, []
    for path in files:
        audio = load_audio(path)
        seconds += audio.size / SAMPLE_RATE
        pieces = segment(audio)
        where = f"{path.parent.name}/{path.name}"  # song folders often hold files of one name
        for start_s, piece in pieces:
            understanding, decision, _ = _understand(recognizer, piece, decider)
            if decision.candidate is not None:
                c = decision.candidate
                accepted.append(FalseAccept(where, round(start_s, 2), str(getattr(understanding, "transcript", "")),
                                            command_label(c.intent, dict(c.slots)), float(c.score)))
        count += len(pieces)
        if on_file:
            on_file(path, len(pieces))
    return Negatives(seconds, count, accepted, segmentation)


# --- scoring -----------------------------------------------------------------------------


def normalize_text(text: str) -> str:
    """Lower case, punctuation dropped (apostrophes kept), white space collapsed: WER
    should count words, not Whisper's capitals and full stops."""
    kept = "".join(ch if ch.isalnum() or ch in "' " else " " for ch in text.lower())
    return " ".join(kept.split())


def error_rates(references: Sequence[str], hypotheses: Sequence[str]) -> tuple[float, float] | None:
    """Corpus WER and CER (jiwer) over the pairs with a non-empty reference."""
    pairs = [(normalize_text(r), normalize_text(h)) for r, h in zip(references, hypotheses) if normalize_text(r)]
    if not pairs:
        return None
    import jiwer

    refs, hyps = [r for r, _ in pairs], [h for _, h in pairs]
    return float(jiwer.wer(refs, hyps)), float(jiwer.cer(refs, hyps))


def confusions(trials: Iterable[Trial], top: int = 10) -> list[dict[str, Any]]:
    """The most frequent mistakes in accepted commands, per field: the intent, or each slot
    that came out wrong (``got`` is '—' for a slot missing, ``expected`` '—' for one added)."""
    counts: Counter[tuple[str, str, str]] = Counter()
    for t in trials:
        if t.outcome == "false accept":
            counts[("intent", "—", t.intent or "—")] += 1
        elif t.outcome == "misunderstood":
            if t.intent != t.expected_intent:
                counts[("intent", t.expected_intent or "—", t.intent or "—")] += 1
                continue
            got = normalize_slots(t.slots)
            for slot in sorted(set(got) | set(t.expected_slots)):
                if got.get(slot) != t.expected_slots.get(slot):
                    counts[(slot, t.expected_slots.get(slot, "—"), got.get(slot, "—"))] += 1
    return [{"field": f, "expected": e, "got": g, "count": n} for (f, e, g), n in counts.most_common(top)]


def percentiles(ms: Sequence[float]) -> dict[str, float]:
    """p50, p90, p99 and mean, rounded to 0.1."""
    if not ms:
        return {}
    ms = np.asarray(ms, dtype=np.float64)
    return {"p50": round(float(np.percentile(ms, 50)), 1), "p90": round(float(np.percentile(ms, 90)), 1),
            "p99": round(float(np.percentile(ms, 99)), 1), "mean": round(float(ms.mean()), 1)}


def _summary(trials: Sequence[Trial]) -> dict[str, Any]:
    outcomes = Counter(t.outcome for t in trials)
    n = len(trials)
    summary: dict[str, Any] = {
        "accuracy": round(sum(t.correct for t in trials) / n, 4) if n else None,
        "n": n,
        "rejected": outcomes["rejected"],
        "misunderstood": outcomes["misunderstood"],
    }
    commands = [t for t in trials if t.expected_intent is not None]
    if commands:
        summary["top1_accuracy"] = round(sum(t.best_correct for t in commands) / len(commands), 4)
    if reasons := Counter(t.reason for t in trials if t.outcome == "rejected"):
        summary["rejected_because"] = dict(reasons.most_common())
    if outcomes["false accept"] or outcomes["correct reject"]:
        summary["false_accepts"] = outcomes["false accept"]
    rates = error_rates([t.reference or "" for t in trials], [t.transcript for t in trials])
    if rates:
        summary["wer"], summary["cer"] = round(rates[0], 4), round(rates[1], 4)
    return summary


@dataclass
class Report:
    """Everything ``djtui eval`` measured; :meth:`to_dict` is the JSON it writes."""

    engine: str
    summary: dict[str, Any]
    by_snr: dict[str, dict[str, Any]]
    confusions: list[dict[str, Any]]
    latency: dict[str, Any]
    negatives: Negatives | None = None
    thresholds: dict[str, float] = field(default_factory=dict)
    trials: list[Trial] = field(default_factory=list)

    @property
    def accuracy(self) -> float | None:
        return self.summary["accuracy"]

    def _noisy_mean(self, key: str) -> float | None:
        values = [v[key] for k, v in self.by_snr.items() if k != CLEAN and v["n"] and v.get(key) is not None]
        return round(sum(values) / len(values), 4) if values else None

    @property
    def noisy_accuracy(self) -> float | None:
        """Mean accuracy over the SNR conditions: the figure the benchmark publishes."""
        return self._noisy_mean("accuracy")

    def rows(self) -> list[dict[str, Any]]:
        """The table as shown: one row per condition, then the mean of the SNR rows.
        ``rhino`` is Picovoice Rhino's published figure where the condition is one of the
        benchmark's SNRs (and, for the mean, only when all of them were run)."""
        rows = []
        for name, row in self.by_snr.items():
            rhino = RHINO_BY_SNR.get(float(name)) if name != CLEAN else None  # type: ignore[call-overload]
            rows.append({"condition": name if name == CLEAN else f"{name} dB", **row, "rhino": rhino})
        snrs = {float(k) for k in self.by_snr if k != CLEAN}
        if snrs:
            rhino = PUBLISHED_NOISY_ACCURACY["Picovoice Rhino"] if snrs == set(map(float, BENCHMARK_SNRS)) else None
            rows.append({"condition": "mean of SNRs", "accuracy": self.noisy_accuracy,
                         "top1_accuracy": self._noisy_mean("top1_accuracy"), "wer": self._noisy_mean("wer"),
                         "rhino": rhino, "mean": True})
        return rows

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "engine": self.engine,
            "accuracy": self.accuracy,
            "n": self.summary["n"],
            "accuracy_noisy": self.noisy_accuracy,
            "rejected": self.summary["rejected"],
            "misunderstood": self.summary["misunderstood"],
            "rejected_because": self.summary.get("rejected_because", {}),
            "top1_accuracy": self.summary.get("top1_accuracy"),
            "wer": self.summary.get("wer"),
            "cer": self.summary.get("cer"),
            "by_snr": self.by_snr,
            "false_accepts_per_hour": round(self.negatives.per_hour, 2) if self.negatives else None,
            "confusions": self.confusions,
            "latency": self.latency,
            "thresholds": self.thresholds,
        }
        if "false_accepts" in self.summary:
            out["false_accepts"] = self.summary["false_accepts"]
        if self.negatives:
            out["negatives"] = {
                "hours": round(self.negatives.seconds / 3600.0, 4),
                "utterances": self.negatives.utterances,
                "false_accepts": len(self.negatives.false_accepts),
                "segmentation": self.negatives.segmentation,
                "examples": [vars(fa) for fa in self.negatives.false_accepts[:20]],
            }
        out["trials"] = [
            {"file": t.file, "condition": t.condition, "expected": command_label(t.expected_intent, t.expected_slots),
             "transcript": t.transcript, "got": command_label(t.intent, t.slots),
             "best": command_label(*t.best) if t.best else "—", "outcome": t.outcome,
             "reason": t.reason, "score": None if t.score is None else round(t.score, 4),
             "latency_ms": round(1000 * t.latency_s, 1)}
            for t in self.trials
        ]
        return out

    def to_markdown(self) -> str:
        """The accuracy table, one row per condition, ready for a README."""
        rows = self.rows()
        rhino = any(r["rhino"] is not None for r in rows)
        head = ["condition", "accuracy", "n", "rejected", "misunderstood", "top-1"] + (["Rhino"] if rhino else [])
        lines = ["| " + " | ".join(head) + " |", "|---" + "|---:" * (len(head) - 1) + "|"]
        for r in rows:
            bold = "**" if r.get("mean") else ""
            cells = [f"{bold}{r['condition']}{bold}", f"{bold}{percent(r['accuracy'])}{bold}", str(r.get("n", "")),
                     str(r.get("rejected", "")), str(r.get("misunderstood", "")), percent(r.get("top1_accuracy"))]
            if rhino:
                cells.append(percent(r["rhino"]) if r["rhino"] is not None else "")
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)


def percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f} %"


def score(trials: Sequence[Trial], negatives: Negatives | None = None, engine: str = "",
          thresholds: dict[str, float] | None = None) -> Report:
    """Score the trials: overall, per condition, confusions, latency percentiles."""
    by_condition: dict[str, list[Trial]] = {}
    for t in trials:
        by_condition.setdefault(t.condition, []).append(t)
    order = sorted(by_condition, key=lambda c: (c != CLEAN, float(c) if c != CLEAN else 0.0))
    stages: dict[str, list[float]] = {}
    for t in trials:
        for stage, ms in t.timings_ms.items():
            stages.setdefault(stage, []).append(ms)
    latency: dict[str, Any] = percentiles([1000.0 * t.latency_s for t in trials])
    if stages:
        latency["stages"] = {stage: percentiles(values) for stage, values in stages.items()}
    return Report(engine=engine, summary=_summary(trials), by_snr={c: _summary(by_condition[c]) for c in order},
                  confusions=confusions(trials), latency=latency, negatives=negatives,
                  thresholds=dict(thresholds or {}), trials=list(trials))


def write_report(report: Report, path: str | Path) -> Path:
    from djtui.core.fileio import write_text_atomic

    return write_text_atomic(path, json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n")


def plot_accuracy(report: Report, path: str | Path, title: str = "") -> Path:
    """Accuracy against SNR, with Rhino's published curve for reference (PNG, Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from djtui.core.fileio import write_atomic

    noisy = [(float(k), v["accuracy"]) for k, v in report.by_snr.items() if k != CLEAN and v["n"]]
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=100)
    try:
        snrs = sorted(RHINO_BY_SNR)
        ax.plot(snrs, [100 * RHINO_BY_SNR[s] for s in snrs], "--", color="0.55", marker="s", markersize=4,
                label="Picovoice Rhino (published, coffee-maker benchmark)")
        if noisy:
            xs, ys = zip(*sorted(noisy))
            ax.plot(xs, [100 * y for y in ys], "-o", color="#d9480f", label=f"djtui ({report.engine})")
            ax.set_xticks(sorted(set(xs) | set(snrs)))
            top1 = sorted((float(k), v["top1_accuracy"]) for k, v in report.by_snr.items()
                          if k != CLEAN and v.get("top1_accuracy") is not None)
            if top1:
                ax.plot([x for x, _ in top1], [100 * y for _, y in top1], "--", color="#d9480f", alpha=0.45,
                        linewidth=1, label="djtui top-1, before the confidence thresholds")
        if CLEAN in report.by_snr and report.by_snr[CLEAN]["n"]:
            ax.axhline(100 * report.by_snr[CLEAN]["accuracy"], color="#d9480f", linestyle=":", linewidth=1,
                       label="djtui, clean")
        ax.set_xlabel("SNR (dB)")
        ax.set_ylabel("command acceptance rate (%)")
        ax.set_title(title or "Speech-to-intent accuracy against noise")
        ax.grid(True, alpha=0.3)
        ax.legend(loc="best", fontsize=8, framealpha=0.9)
        fig.tight_layout()
        return write_atomic(path, lambda f: fig.savefig(f, format="png"))
    finally:
        plt.close(fig)
