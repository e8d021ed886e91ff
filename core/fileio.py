"""Atomic writes: a crash mid-write never leaves a half file where a good one was."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO


def write_atomic(path: str | os.PathLike[str], writer: Callable[[IO[bytes]], None]) -> Path:
    """Write ``path`` by calling ``writer(f)`` on a temp file beside it, then renaming.

    The rename is atomic on POSIX and Windows, so readers see either the old file or the
    whole new one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            writer(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    return write_atomic(path, lambda f: f.write(text.encode("utf-8")))


def append_line(path: str | os.PathLike[str], line: str) -> None:
    """Append one line and fsync it: JSON-lines logs and manifests lose at most the line
    being written, never an earlier one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(line.rstrip("\n") + "\n")
        f.flush()
        os.fsync(f.fileno())
