"""Training data on disk: a folder of WAV clips and ``manifest.jsonl`` describing them.

Recording sessions (:mod:`djtui.training.recording`) and synthetic speech
(:mod:`djtui.training.synth`) write the same format; fine-tuning
(:mod:`djtui.training.finetune`) reads it.

Layout::

    DATASET/
      manifest.jsonl           one JSON object per line, one line per take
      recordings/*.wav         16-bit PCM mono (``synth/*.wav`` for synthetic speech)
      manifest.jsonl.rejected  lines reconciling took out of the manifest, as they were
      set-aside/               files reconciling found no line for

Manifest line (all keys always present; other keys are kept as they are)::

    path         str    the WAV, relative to the manifest's folder ("recordings/x.wav");
                        it must stay inside that folder (no absolute path, no "..")
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
                        takes add "synthetic": true, re-described ones "recovered": true

Crash safety: the WAV is written atomically first, then its line is appended and
fsynced; a write that fails (disk full, read-only folder) leaves the folder as it was
and raises one :class:`DjtuiError`. :class:`ManifestWriter` reconciles the folder when it
opens, so after any crash, hand edit or lost manifest every line has its file and every
file its line — and reconciling never deletes anything:

- a line that cannot be read (torn by a crash, hand-edited, a path outside the folder),
  whose WAV is gone, or that names a file an earlier line already describes moves, as it
  was, to ``manifest.jsonl.rejected``;
- a WAV no line lists gets its line back when its name says what it is (the take a
  caller's script expects, or another take of a sentence the manifest has): the file
  gives duration and rate, the caller's check gives ``qc``;
- any other file in the audio folder (a take of an unknown sentence, the temp file of a
  write a crash cut short) moves to ``set-aside/``.

What was done comes back as a :class:`Reconciliation` (for the CLI and TUI to show) and
is logged (``djtui.training.manifest``, level INFO).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import io
import json
import logging
import math
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from djtui.core import fileio, paths
from djtui.core.audio import SAMPLE_RATE, read_audio
from djtui.core.errors import DjtuiError
from djtui.core.text import normalize_text

log = logging.getLogger(__name__)

MANIFEST = "manifest.jsonl"
REJECTED = MANIFEST + ".rejected"
SET_ASIDE = "set-aside"
FIELDS = ("path", "text", "intent", "slots", "take", "duration", "sample_rate", "speaker", "created_at", "qc")
MAX_MANIFEST_BYTES = 64 * 2**20
"""A manifest line is ~350 bytes: 64 MiB is ~190,000 takes, far past any dataset here."""
MAX_LINE_CHARS = 64 * 2**10
"""A longer line is not a take (its qc would be pages long)."""
_CLIP = re.compile(r"^(?P<slug>[A-Za-z0-9-]+)_(?P<intent>.+)_(?P<digest>[0-9a-f]{10})_t(?P<take>[1-9][0-9]*)\.wav$")


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
        """The take ``row`` describes; ``ValueError`` saying which key is wrong."""
        missing = [k for k in FIELDS if k not in row]
        if missing:
            raise ValueError(f"missing {', '.join(missing)}")
        for key in ("path", "text", "intent", "speaker", "created_at"):
            if not isinstance(row[key], str):
                raise ValueError(f"{key} must be a string")
        if not row["text"].strip():
            raise ValueError("empty text")
        if not isinstance(row["slots"], dict) or not all(
                isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in row["slots"].values()):
            raise ValueError("slots must be an object of slot name to value")
        if not isinstance(row["take"], int) or isinstance(row["take"], bool) or row["take"] < 1:
            raise ValueError("take must be a whole number from 1")
        if (not isinstance(row["duration"], (int, float)) or isinstance(row["duration"], bool)
                or not math.isfinite(row["duration"]) or row["duration"] < 0):
            raise ValueError("duration must be seconds, 0 or more")
        if not isinstance(row["sample_rate"], int) or isinstance(row["sample_rate"], bool) or row["sample_rate"] < 1:
            raise ValueError("sample_rate must be a whole number of Hz")
        if row["qc"] is not None and not isinstance(row["qc"], dict):
            raise ValueError("qc must be an object")
        return cls(path=row["path"], text=row["text"], intent=row["intent"],
                   slots={str(k): str(v) for k, v in row["slots"].items()}, take=row["take"],
                   duration=float(row["duration"]), sample_rate=row["sample_rate"],
                   speaker=row["speaker"], created_at=row["created_at"], qc=dict(row["qc"] or {}))

    def group(self) -> tuple[str, str]:
        """Takes of one sentence by one speaker: never split across train and validation."""
        return normalize_text(self.text), self.speaker


def parse_take(line: str, root: str | Path) -> Take:
    """One manifest line of the dataset in ``root``; ``ValueError`` saying what is wrong
    with it (not JSON, a missing or mistyped key, a path leading out of ``root``)."""
    if len(line) > MAX_LINE_CHARS:
        raise ValueError(f"line too long ({len(line):,} characters; a take's line is under {MAX_LINE_CHARS:,})")
    try:
        row = json.loads(line)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc.msg})") from None
    if not isinstance(row, dict):
        raise ValueError("not a JSON object")
    take = Take.from_dict(row)
    paths.within(root, take.path)
    return take


@dataclass(frozen=True)
class ScriptedTake:
    """A take a caller's script asks for (a prompt of a recording session, a sentence of
    a synthesis run): enough to write its line again if the manifest lost it."""

    speaker: str
    text: str
    intent: str
    slots: dict[str, str]
    take: int

    def file_name(self) -> str:
        return clip_name(self.speaker, self.intent, self.text, self.take)


@dataclass(frozen=True)
class Reconciliation:
    """What reconciling a dataset did. ``redescribed``: WAVs (relative paths) that got
    their line back; ``set_aside``: files moved to ``set-aside/`` (where they are now);
    ``rejected``: lines moved to ``manifest.jsonl.rejected``, each ``file:line: why``;
    ``restored``: earlier takes put back after a crash in the middle of a redo."""

    manifest: Path
    redescribed: tuple[str, ...] = ()
    set_aside: tuple[Path, ...] = ()
    rejected: tuple[str, ...] = ()
    restored: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.redescribed or self.set_aside or self.rejected or self.restored)

    def summary(self) -> str:
        """In words, saying where things went; empty when nothing needed doing."""
        if not self.changed:
            return ""
        root = self.manifest.parent
        said = []
        if self.redescribed:
            said.append(f"{_count(self.redescribed, 'take')} without a manifest line re-described from "
                        "their file names")
        if self.restored:
            said.append(f"{_count(self.restored, 'earlier take')} restored after an interrupted redo")
        if self.set_aside:
            said.append(f"{_count(self.set_aside, 'file')} no line describes moved to {root / SET_ASIDE}")
        if self.rejected:
            said.append(f"{_count(self.rejected, 'manifest line')} moved to {root / REJECTED} "
                        f"({'; '.join(self.rejected[:3])}{'; …' if len(self.rejected) > 3 else ''})")
        return f"{self.manifest}: no file deleted; " + "; ".join(said)


def _count(items: Iterable[Any], noun: str) -> str:
    n = len(list(items))
    return f"{n} {noun}{'' if n == 1 else 's'}"


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def clip_name(speaker: str, intent: str, text: str, take: int) -> str:
    """A stable, filesystem-safe file name: the same prompt and take always map to the
    same file, so a retried take replaces the old one instead of adding a second."""
    digest = _sentence_digest(speaker, text)
    slug = re.sub(r"[^A-Za-z0-9]+", "-", speaker).strip("-")[:40] or "speaker"
    return f"{slug}_{intent}_{digest}_t{take}.wav"


def _sentence_digest(speaker: str, text: str) -> str:
    return hashlib.sha1(f"{speaker}\0{text}".encode()).hexdigest()[:10]


def _manifest_lines(path: Path) -> list[tuple[int, bytes]]:
    """``(line number, bytes)`` of every non-blank line; :class:`DjtuiError` for a
    manifest that is missing, unreadable or too big."""
    try:
        size = path.stat().st_size
        if size > MAX_MANIFEST_BYTES:
            raise DjtuiError(f"manifest {path} is too big ({size / 2**20:.0f} MiB; at most "
                             f"{MAX_MANIFEST_BYTES // 2**20} MiB)", "split the dataset into several folders")
        data = path.read_bytes()
    except FileNotFoundError:
        raise DjtuiError(f"no manifest at {path}", "make one with `djtui synth` or a recording session") from None
    except OSError as exc:
        raise DjtuiError(f"cannot read manifest {path}: {exc.strerror or exc}",
                         "check the file and its permissions") from None
    return [(n, line.rstrip(b"\r")) for n, line in enumerate(data.split(b"\n"), 1) if line.strip()]


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text") from None


def read_manifest(path: str | Path, *, check_files: bool = True) -> list[Take]:
    """All takes of a manifest, each once. Raises :class:`DjtuiError` naming the file and
    line for a missing or unreadable manifest, a broken line, a path outside the dataset's
    folder, (with ``check_files``) a missing WAV, or a file listed twice saying different
    things; a line repeating an earlier take is left out, with a warning naming it."""
    path = Path(path)
    if path.is_dir():
        path = path / MANIFEST
    takes = []
    first: dict[Path, tuple[int, Take]] = {}
    for number, raw in _manifest_lines(path):
        try:
            take = parse_take(_decode(raw), path.parent)
        except ValueError as exc:
            raise DjtuiError(f"{path}:{number}: broken manifest line ({exc})",
                             "fix or delete that line; each line is one JSON object (see the manifest schema)") from None
        if check_files and not (path.parent / take.path).is_file():
            raise DjtuiError(f"{path}:{number}: audio file {path.parent / take.path} is missing",
                             "restore the file or delete its manifest line")
        # One file is one take: a second line for it would count it twice, and could
        # put a held-back take among the training ones.
        file = (path.parent / take.path).resolve()
        if file in first:
            line, earlier = first[file]
            if earlier.group() != take.group() or (earlier.intent, earlier.slots) != (take.intent, take.slots):
                raise DjtuiError(f"{path}:{number}: {take.path} again (first at line {line}) but saying something "
                                 "else", "keep the line that says what the file holds and delete the other")
            log.warning("%s:%d: the same take as line %d (%s): left out", path, number, line, take.path)
            continue
        first[file] = (number, take)
        takes.append(take)
    if not takes:
        raise DjtuiError(f"manifest {path} has no takes", "record or synthesize some first (`djtui synth`)")
    return takes


class ManifestWriter:
    """Appends takes to ``root/manifest.jsonl`` with their WAVs in ``root/audio_dir``.

    Opening it reconciles the folder with the manifest (see :meth:`reconcile`; the
    report is :attr:`reconciled`): ``script`` lists the takes the caller expects, so a
    WAV whose line was lost can be described again, and ``check(audio)`` gives such a
    take its ``qc``. After that :meth:`add` keeps them consistent at every instant: WAV
    first (atomic rename), then the manifest line (appended and fsynced).
    """

    def __init__(self, root: str | Path, audio_dir: str = "recordings", *, script: Iterable[ScriptedTake] = (),
                 check: Callable[[np.ndarray], dict[str, Any]] | None = None) -> None:
        self.root = Path(root)
        self.audio_dir = audio_dir
        self.manifest = self.root / MANIFEST
        self.takes: list[Take] = []
        self._lines: list[str] = []  # each take's line as it is in the file (unknown keys kept)
        try:
            (self.root / audio_dir).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise fileio.write_problem(exc, f"opening the dataset folder {self.root}") from None
        self.reconciled = self.reconcile(script, check)

    def reconcile(self, script: Iterable[ScriptedTake] = (),
                  check: Callable[[np.ndarray], dict[str, Any]] | None = None) -> Reconciliation:
        """Make manifest and folder agree after a crash, a hand edit or a lost manifest,
        deleting nothing (see the module docstring); returns what it did, which is also
        logged. :class:`DjtuiError` if the folder cannot be read or changed."""
        try:
            return self._reconcile(list(script), check)
        except OSError as exc:
            raise fileio.write_problem(exc, f"reconciling {self.manifest} with its audio") from None

    def _reconcile(self, script: list[ScriptedTake], check: Callable[[np.ndarray], dict[str, Any]] | None) -> Reconciliation:
        audio_folder = self.root / self.audio_dir
        kept: list[tuple[str, Take]] = []
        rejected: list[tuple[bytes, str]] = []
        restored: list[str] = []
        lines = _manifest_lines(self.manifest) if self.manifest.exists() else []
        first: dict[Path, int] = {}
        for number, raw in lines:
            where = f"{MANIFEST}:{number}"
            try:
                line = _decode(raw)
                take = parse_take(line, self.root)
            except ValueError as exc:
                rejected.append((raw, f"{where}: {exc}"))
                continue
            file = self.root / take.path
            if (earlier := first.setdefault(file.resolve(), number)) != number:
                rejected.append((raw, f"{where}: the same file as line {earlier} ({take.path})"))
                continue
            backup = _redo_backup(file)
            if not file.is_file() and backup.is_file():  # a crash in the middle of a redo
                os.replace(backup, file)
                restored.append(take.path)
            if file.is_file():
                kept.append((line, take))
            else:
                rejected.append((raw, f"{where}: audio file {take.path} is missing"))

        listed = {(self.root / t.path).resolve() for _, t in kept}
        scripted = {s.file_name(): s for s in script}
        sentences = {_sentence_digest(t.speaker, t.text): t for _, t in kept}
        taken = {(t.speaker, t.text, t.take) for _, t in kept}
        redescribed: list[tuple[str, Take]] = []
        strays: list[Path] = []
        for file in sorted(audio_folder.iterdir()):
            if not file.is_file() or file.resolve() in listed:
                continue
            wanted = _what_it_says(file.name, scripted, sentences)
            take = None
            if wanted is not None and (wanted.speaker, wanted.text, wanted.take) not in taken:
                take = _redescribe(file, f"{self.audio_dir}/{file.name}", wanted, check)
            if take is None:
                strays.append(file)
                continue
            taken.add((take.speaker, take.text, take.take))
            redescribed.append((take.to_json(), take))

        if rejected:  # first keep them, then take them out of the manifest
            with open(self.root / REJECTED, "ab") as f:
                f.write(b"".join(raw + b"\n" for raw, _ in rejected))
                f.flush()
                os.fsync(f.fileno())
        set_aside = [_move_aside(file, self.root / SET_ASIDE) for file in strays]
        self._lines = [line for line, _ in kept + redescribed]
        self.takes = [take for _, take in kept + redescribed]
        if rejected or redescribed:
            fileio.write_text_atomic(self.manifest, "".join(line + "\n" for line in self._lines))
        report = Reconciliation(self.manifest, tuple(t.path for _, t in redescribed), tuple(set_aside),
                                tuple(why for _, why in rejected), tuple(restored))
        if report.changed:
            log.info("%s", report.summary())
        return report

    def done(self) -> set[tuple[str, str, int]]:
        """``(speaker, text, take)`` of every take already in the manifest."""
        return {(t.speaker, t.text, t.take) for t in self.takes}

    def add(self, audio: np.ndarray, *, text: str, intent: str, slots: dict[str, str], take: int,
            speaker: str, qc: dict[str, Any] | None = None, sample_rate: int = SAMPLE_RATE) -> Take:
        """Write one clip and its manifest line; returns the line. A take with the same
        speaker, text and number replaces the earlier one (which stays until the new line
        is in). If anything fails (disk full, read-only folder) the dataset is left as it
        was and :class:`DjtuiError` says why."""
        import soundfile as sf

        audio = np.asarray(audio, dtype=np.float32)
        if not np.isfinite(audio).all():
            raise DjtuiError("the take holds NaN or infinite samples: not saved", "record it again")
        wav = io.BytesIO()
        sf.write(wav, np.clip(audio, -1.0, 1.0), sample_rate, format="WAV", subtype="PCM_16")
        name = clip_name(speaker, intent, text, take)
        rel = f"{self.audio_dir}/{name}"
        entry = Take(path=rel, text=text, intent=intent, slots=dict(slots), take=take,
                     duration=round(len(audio) / sample_rate, 3), sample_rate=sample_rate,
                     speaker=speaker, created_at=now_iso(), qc=dict(qc or {}))
        line = entry.to_json()
        earlier = next((i for i, t in enumerate(self.takes) if t.path == rel), None)
        try:
            self._write(self.root / rel, wav.getvalue(), line, earlier)
        except OSError as exc:
            raise fileio.write_problem(exc, f"saving the take {self.root / rel}") from None
        if earlier is None:
            self.takes.append(entry)
            self._lines.append(line)
        else:
            self.takes[earlier], self._lines[earlier] = entry, line
        return entry

    def _write(self, file: Path, wav: bytes, line: str, earlier: int | None) -> None:
        backup = _redo_backup(file)
        if earlier is not None:
            os.replace(file, backup)
        try:
            fileio.write_atomic(file, lambda f: f.write(wav))
            if earlier is None:
                fileio.append_line(self.manifest, line)
            else:
                lines = [*self._lines[:earlier], line, *self._lines[earlier + 1:]]
                fileio.write_text_atomic(self.manifest, "".join(x + "\n" for x in lines))
        except BaseException:
            if earlier is not None:
                os.replace(backup, file)
            else:  # no line lists it: a take half saved is no take
                file.unlink(missing_ok=True)
            raise
        if earlier is not None:
            backup.unlink()  # the redo is in: the DJ asked for the earlier take to go


def _redo_backup(file: Path) -> Path:
    return file.with_name(f".{file.name}.redo")


def _what_it_says(name: str, script: dict[str, ScriptedTake], sentences: dict[str, Take]) -> ScriptedTake | None:
    """What the take in file ``name`` says, if its name tells: a take of the caller's
    script, or another take number of a sentence (and speaker) the manifest has."""
    if name in script:
        return script[name]
    match = _CLIP.match(name)
    sibling = sentences.get(match["digest"]) if match else None
    if sibling is None:
        return None
    wanted = ScriptedTake(sibling.speaker, sibling.text, sibling.intent, sibling.slots, int(match["take"]))
    return wanted if wanted.file_name() == name else None


def _redescribe(file: Path, rel: str, wanted: ScriptedTake,
                check: Callable[[np.ndarray], dict[str, Any]] | None) -> Take | None:
    """The line of a WAV whose take is known; None if the file is not readable audio."""
    import soundfile as sf

    try:
        info = sf.info(str(file))
        audio = read_audio(file)
    except (DjtuiError, RuntimeError, sf.LibsndfileError):
        return None
    created = _dt.datetime.fromtimestamp(file.stat().st_mtime, _dt.timezone.utc).isoformat(timespec="seconds")
    qc = {**(check(audio) if check else {}), "recovered": True}
    return Take(path=rel, text=wanted.text, intent=wanted.intent, slots=dict(wanted.slots), take=wanted.take,
                duration=round(info.frames / info.samplerate, 3), sample_rate=int(info.samplerate),
                speaker=wanted.speaker, created_at=created, qc=qc)


def _move_aside(file: Path, folder: Path) -> Path:
    """Move ``file`` into ``folder`` (created), never over another file; returns where."""
    folder.mkdir(exist_ok=True)
    target = folder / file.name
    n = 1
    while target.exists():
        n += 1
        target = folder / f"{file.stem}-{n}{file.suffix}"
    os.replace(file, target)
    return target
