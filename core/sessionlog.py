"""The session log: every utterance djtui heard, what it understood and what it did.

One JSON object per line in ``<sessions dir>/<session>.jsonl`` (appended and fsynced
line by line, so a crash loses at most the utterance being written), with the audio of
each utterance optionally beside it in ``<session>/<n>.wav``. Misrecognitions found here
can be corrected and fed back into training.

Transcripts and clips are private: the folders are made owner-only (0700) and every file
is created 0600. A log that cannot be written (read-only folder, disk full) raises one
:class:`DjtuiError` on the first utterance it fails and writes nothing after that, so the
live pipeline keeps going without a log instead of failing on every utterance.
"""

from __future__ import annotations

import io
import json
import threading
import time
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from djtui.core import paths
from djtui.core.audio import SAMPLE_RATE
from djtui.core.errors import DjtuiError
from djtui.core.events import Outcome
from djtui.core.fileio import append_line, write_atomic, write_problem

PRIVATE_FOLDER = 0o700
PRIVATE_FILE = 0o600


class SessionLog:
    """Appends one record per utterance to a new session file.

    ``directory`` defaults to the user's sessions dir; ``save_audio`` keeps each
    utterance's clip as 16-bit wav (written atomically). Safe to call from one worker
    thread at a time; records are numbered from 1. Nothing touches the disk until the
    first record. ``failure`` is the error that stopped the log, if one did.
    """

    def __init__(self, directory: str | Path | None = None, save_audio: bool = False) -> None:
        self.directory = Path(directory) if directory else paths.sessions_dir()
        self.name = datetime.now().strftime("%Y%m%d-%H%M%S")
        self.path = self._unique(self.directory / f"{self.name}.jsonl")
        self.name = self.path.stem
        self.save_audio = save_audio
        self.failure: DjtuiError | None = None
        self._count = 0
        self._lock = threading.Lock()

    @staticmethod
    def _unique(path: Path) -> Path:
        n = 1
        candidate = path
        while _exists(candidate):
            n += 1
            candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
        return candidate

    @property
    def clips_dir(self) -> Path:
        return self.directory / self.name

    def record(self, entry: dict[str, Any], audio: np.ndarray | None = None, *, numbered: bool = True) -> dict[str, Any]:
        """Append ``entry`` (plain JSON values) with its number, time and, when audio is
        kept, the clip's path relative to the log; returns the record. ``numbered=False``
        (what listening costs) takes no number, so the utterances' numbers, which Review
        keys takes by, do not depend on how often that is written. The first write that
        fails raises :class:`DjtuiError` and stops the log; later records are returned
        unwritten."""
        with self._lock:
            self._count += numbered
            number = self._count
        line: dict[str, Any] = {
            **({"n": number} if numbered else {}),
            "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            "unix_time": round(time.time(), 3),
            **entry,
        }
        if self.failure is not None:
            return line
        clip = self.clips_dir / f"{number:05d}.wav"
        try:
            _private_folder(self.directory)
            if self.save_audio and audio is not None and len(audio):
                _private_folder(self.clips_dir)
                write_atomic(clip, lambda f: f.write(_wav_bytes(audio)))  # a temp file: created 0600
                line["audio"] = str(clip.relative_to(self.directory))
            append_line(self.path, json.dumps(line, ensure_ascii=False, default=_plain), mode=PRIVATE_FILE)
        except OSError as exc:
            if "audio" in line:  # its record is not written: the clip would be an orphan
                clip.unlink(missing_ok=True)
            problem = write_problem(exc, "writing the session log")
            self.failure = DjtuiError(f"session log stopped: {problem.message}",
                                      f"djtui keeps listening, without a log; {problem.hint}")
            raise self.failure from None
        return line

    def record_outcome(self, outcome: Outcome) -> dict[str, Any]:
        """:meth:`record` one utterance's :func:`entry`, with its clip when audio is kept."""
        return self.record(entry(outcome), outcome.audio if isinstance(outcome.audio, np.ndarray) else None)


def entry(outcome: Outcome) -> dict[str, Any]:
    """The session log's record of one :class:`~djtui.core.events.Outcome` (plain JSON
    values): what was heard, the top five, the verdict, the MIDI and where the time went."""
    verdict = outcome.verdict
    return {
        "transcript": outcome.transcript,
        "top5": [{"intent": c.intent, "slots": c.slots, "score": round(float(c.score), 4), "sentence": c.sentence}
                 for c in outcome.candidates],
        "verdict": {"approved": verdict.approved, "reason": verdict.reason, "message": verdict.message},
        "midi": [asdict(command) for command in outcome.sent],
        "moves": [asdict(move) for move in verdict.moves] if verdict.approved else [],
        "stages_ms": outcome.stages_ms,
        "total_ms": outcome.total_ms,
        "said_to_done_ms": round(outcome.said_to_done_ms, 2),
        "ahead": outcome.ahead,
        "early": outcome.early,
        "engine": outcome.engine,
        "model": outcome.model,
        "speech_s": list(outcome.speech_s),
        "cut": outcome.cut,
    }


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:  # a folder we may not even look into: the first record will say so
        return False


def _private_folder(folder: Path) -> None:
    """Make ``folder`` (and its parents) if needed, and make it owner-only."""
    folder.mkdir(mode=PRIVATE_FOLDER, parents=True, exist_ok=True)
    if folder.stat().st_mode & 0o777 != PRIVATE_FOLDER:
        try:
            folder.chmod(PRIVATE_FOLDER)
        except PermissionError:  # someone else's folder we may write to: the files are still 0600
            pass


def _wav_bytes(audio: np.ndarray) -> bytes:
    import soundfile as sf

    buffer = io.BytesIO()
    sf.write(buffer, np.clip(np.nan_to_num(audio), -1.0, 1.0), SAMPLE_RATE, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def _plain(value: Any) -> Any:
    """JSON for what dataclass-to-dict leaves behind: numpy scalars, paths, tuples."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    return str(value)


def read_session(path: str | Path) -> list[dict[str, Any]]:
    """The records of one session file (a torn last line from a crash is skipped)."""
    records = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records
