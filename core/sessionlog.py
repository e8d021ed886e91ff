"""The session log: every utterance djtui heard, what it understood and what it did.

One JSON object per line in ``<sessions dir>/<session>.jsonl`` (appended and fsynced
line by line, so a crash loses at most the utterance being written), with the audio of
each utterance optionally beside it in ``<session>/<n>.wav``. Misrecognitions found here
can be corrected and fed back into training.
"""

from __future__ import annotations

import io
import json
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from djtui.core import paths
from djtui.core.audio import SAMPLE_RATE
from djtui.core.fileio import append_line, write_atomic


class SessionLog:
    """Appends one record per utterance to a new session file.

    ``directory`` defaults to the user's sessions dir; ``save_audio`` keeps each
    utterance's clip as 16-bit wav (written atomically). Safe to call from one worker
    thread at a time; records are numbered from 1.
    """

    def __init__(self, directory: str | Path | None = None, save_audio: bool = False) -> None:
        self.directory = Path(directory) if directory else paths.sessions_dir()
        self.name = datetime.now().strftime("%Y%m%d-%H%M%S")
        self.path = self._unique(self.directory / f"{self.name}.jsonl")
        self.name = self.path.stem
        self.save_audio = save_audio
        self._count = 0
        self._lock = threading.Lock()

    @staticmethod
    def _unique(path: Path) -> Path:
        n = 1
        candidate = path
        while candidate.exists():
            n += 1
            candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
        return candidate

    @property
    def clips_dir(self) -> Path:
        return self.directory / self.name

    def record(self, entry: dict[str, Any], audio: np.ndarray | None = None) -> dict[str, Any]:
        """Append ``entry`` (plain JSON values) with its number, time and, when audio is
        kept, the clip's path relative to the log; returns what was written."""
        with self._lock:
            self._count += 1
            number = self._count
        line: dict[str, Any] = {
            "n": number,
            "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            "unix_time": round(time.time(), 3),
            **entry,
        }
        if self.save_audio and audio is not None and len(audio):
            clip = self.clips_dir / f"{number:05d}.wav"
            write_atomic(clip, lambda f: f.write(_wav_bytes(audio)))
            line["audio"] = str(clip.relative_to(self.directory))
        append_line(self.path, json.dumps(line, ensure_ascii=False, default=_plain))
        return line


def _wav_bytes(audio: np.ndarray) -> bytes:
    import soundfile as sf

    buffer = io.BytesIO()
    sf.write(buffer, np.clip(audio, -1.0, 1.0), SAMPLE_RATE, format="WAV", subtype="PCM_16")
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
