"""Training data on disk: a folder of WAV clips and ``manifest.jsonl`` describing them.

Recording sessions (:mod:`djtui.training.recording`) and synthetic speech
(:mod:`djtui.training.synth`) write the same format; fine-tuning
(:mod:`djtui.training.finetune`) reads it.

Layout::

    DATASET/
      manifest.jsonl        one JSON object per line, one line per take
      recordings/*.wav      16-bit PCM mono (``synth/*.wav`` for synthetic speech)

Manifest line (all keys always present)::

    path         str    the WAV, relative to the manifest's folder ("recordings/x.wav")
    text         str    what was said, lower case, words separated by single spaces
    intent       str    the context intent the sentence means ("play")
    slots        dict   its slot values, canonical ({"deck": "1"})
    take         int    1, 2, 3… for repeated takes of one sentence by one speaker
    duration     float  seconds, after silence trimming
    sample_rate  int    Hz (16000)
    speaker      str    who spoke: a person's name, or a TTS voice id ("espeak:en-gb+m3")
    created_at   str    ISO 8601 UTC time the take was written
    qc           dict   quality checks: {"passed": bool, "problems": [str], "peak_db",
                        "speech_db", "speech_s"} (see recording.check_take); synthetic
                        takes add "synthetic": true

Crash safety: the WAV is written atomically first, then its line is appended and
fsynced. :class:`ManifestWriter` reconciles the folder when it opens, so after any crash
every line has its file and every file has its line.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from djtui.core import fileio
from djtui.core.errors import DjtuiError

MANIFEST = "manifest.jsonl"
SAMPLE_RATE = 16000
FIELDS = ("path", "text", "intent", "slots", "take", "duration", "sample_rate", "speaker", "created_at", "qc")


@dataclass(frozen=True)
class Take:
    """One manifest line. ``path`` is relative to the manifest's folder."""

    path: str
    text: str
    intent: str
    slots: dict[str, str]
    take: int
    duration: float
    sample_rate: int
    speaker: str
    created_at: str
    qc: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=False)

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> Take:
        missing = [k for k in FIELDS if k not in row]
        if missing:
            raise ValueError(f"missing {', '.join(missing)}")
        if not isinstance(row["text"], str) or not row["text"].strip():
            raise ValueError("empty text")
        if not isinstance(row["slots"], dict):
            raise ValueError("slots must be an object")
        return cls(path=str(row["path"]), text=str(row["text"]), intent=str(row["intent"]),
                   slots={str(k): str(v) for k, v in row["slots"].items()}, take=int(row["take"]),
                   duration=float(row["duration"]), sample_rate=int(row["sample_rate"]),
                   speaker=str(row["speaker"]), created_at=str(row["created_at"]),
                   qc=dict(row["qc"] or {}))

    def group(self) -> tuple[str, str]:
        """Takes of one sentence by one speaker: never split across train and validation."""
        return normalize_text(self.text), self.speaker


def normalize_text(text: str) -> str:
    """Lower case, letters/digits/apostrophes only, single spaces: the transcript form."""
    return " ".join(re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split())


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def clip_name(speaker: str, intent: str, text: str, take: int) -> str:
    """A stable, filesystem-safe file name: the same prompt and take always map to the
    same file, so a retried take replaces the old one instead of adding a second."""
    digest = hashlib.sha1(f"{speaker}\0{text}".encode()).hexdigest()[:10]
    slug = re.sub(r"[^A-Za-z0-9]+", "-", speaker).strip("-")[:40] or "speaker"
    return f"{slug}_{intent}_{digest}_t{take}.wav"


def read_manifest(path: str | Path, *, check_files: bool = True) -> list[Take]:
    """All takes of a manifest. Raises :class:`DjtuiError` naming the file and line for a
    missing or unreadable manifest, a broken line or (with ``check_files``) a missing WAV."""
    path = Path(path)
    if path.is_dir():
        path = path / MANIFEST
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise DjtuiError(f"no manifest at {path}", "make one with `djtui synth` or a recording session") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DjtuiError(f"cannot read manifest {path}: {exc}", "check the file and its permissions") from None
    takes = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            take = Take.from_dict(json.loads(line))
        except (ValueError, TypeError, AttributeError) as exc:
            raise DjtuiError(f"{path}:{number}: broken manifest line ({exc})",
                             "fix or delete that line; each line is one JSON object (see the manifest schema)") from None
        if check_files and not (path.parent / take.path).is_file():
            raise DjtuiError(f"{path}:{number}: audio file {path.parent / take.path} is missing",
                             "restore the file or delete its manifest line")
        takes.append(take)
    if not takes:
        raise DjtuiError(f"manifest {path} has no takes", "record or synthesize some first (`djtui synth`)")
    return takes


def load_audio(path: str | Path, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """A clip as float32 mono at ``sample_rate``; :class:`DjtuiError` naming the file if it
    cannot be read."""
    import soundfile as sf

    try:
        audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (OSError, RuntimeError, sf.LibsndfileError) as exc:
        raise DjtuiError(f"cannot read audio file {path}: {exc}", "re-record it or delete its manifest line") from None
    audio = audio.mean(axis=1)
    if rate != sample_rate:
        import soxr

        audio = soxr.resample(audio, rate, sample_rate).astype(np.float32)
    return audio


class ManifestWriter:
    """Appends takes to ``root/manifest.jsonl`` with their WAVs in ``root/audio_dir``.

    Opening it reconciles the folder with the manifest (see :meth:`reconcile`); after
    that :meth:`add` keeps them consistent at every instant: WAV first (atomic rename),
    then the manifest line (appended and fsynced).
    """

    def __init__(self, root: str | Path, audio_dir: str = "recordings") -> None:
        self.root = Path(root)
        self.audio_dir = audio_dir
        self.manifest = self.root / MANIFEST
        (self.root / audio_dir).mkdir(parents=True, exist_ok=True)
        self.takes: list[Take] = []
        self.dropped_lines, self.removed_files = self.reconcile()

    def reconcile(self) -> tuple[int, list[Path]]:
        """Make manifest and folder agree after a crash or a hand edit: drop lines that are
        unreadable (a half-written last line) or whose file is gone, rewriting the manifest
        atomically; delete files in the audio folder that no line lists (a take written
        just before a crash, stray temp files). Returns (lines dropped, files removed)."""
        kept: list[Take] = []
        dropped = 0
        if self.manifest.exists():
            for line in self.manifest.read_text(encoding="utf-8", errors="replace").splitlines():
                if not line.strip():
                    continue
                try:
                    take = Take.from_dict(json.loads(line))
                except (ValueError, TypeError, AttributeError):
                    dropped += 1
                    continue
                if (self.root / take.path).is_file():
                    kept.append(take)
                else:
                    dropped += 1
            if dropped:
                fileio.write_text_atomic(self.manifest, "".join(t.to_json() + "\n" for t in kept))
        listed = {(self.root / t.path).resolve() for t in kept}
        removed = []
        for file in sorted((self.root / self.audio_dir).iterdir()):
            if file.is_file() and file.resolve() not in listed:
                file.unlink()
                removed.append(file)
        self.takes = kept
        return dropped, removed

    def done(self) -> set[tuple[str, str, int]]:
        """``(speaker, text, take)`` of every take already in the manifest."""
        return {(t.speaker, t.text, t.take) for t in self.takes}

    def add(self, audio: np.ndarray, *, text: str, intent: str, slots: dict[str, str], take: int,
            speaker: str, qc: dict[str, Any] | None = None, sample_rate: int = SAMPLE_RATE) -> Take:
        """Write one clip and its manifest line; returns the line. A take with the same
        speaker, text and number replaces the earlier one."""
        import soundfile as sf

        name = clip_name(speaker, intent, text, take)
        rel = f"{self.audio_dir}/{name}"
        self._forget(rel)
        audio = np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0)
        fileio.write_atomic(self.root / rel, lambda f: sf.write(f, audio, sample_rate, format="WAV", subtype="PCM_16"))
        entry = Take(path=rel, text=text, intent=intent, slots=dict(slots), take=take,
                     duration=round(len(audio) / sample_rate, 3), sample_rate=sample_rate,
                     speaker=speaker, created_at=now_iso(), qc=dict(qc or {}))
        fileio.append_line(self.manifest, entry.to_json())
        self.takes.append(entry)
        return entry

    def _forget(self, rel: str) -> None:
        # A redo of a take already listed: drop the old line first (atomic rewrite), so
        # the manifest never lists one file twice.
        if any(t.path == rel for t in self.takes):
            self.takes = [t for t in self.takes if t.path != rel]
            fileio.write_text_atomic(self.manifest, "".join(t.to_json() + "\n" for t in self.takes))

