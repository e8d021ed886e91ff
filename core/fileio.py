"""Atomic writes: a crash mid-write never leaves a half file where a good one was, and a
failed write (disk full, read-only folder) leaves what was there before."""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

from djtui.core.errors import DjtuiError


def write_atomic(path: str | os.PathLike[str], writer: Callable[[IO[bytes]], None]) -> Path:
    """Write ``path`` by calling ``writer(f)`` on a temp file beside it, then renaming.

    The rename is atomic on POSIX and Windows, so readers see either the old file or the
    whole new one. The temp file is created owner-only (0600) and the new file keeps that.
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


def append_line(path: str | os.PathLike[str], line: str, mode: int = 0o666) -> None:
    """Append one line and fsync it: JSON-lines logs and manifests lose at most the line
    being written, never an earlier one.

    A write that fails part-way (disk full) is cut back off, so no half line is left to
    swallow the next one; a file whose last line was torn by a crash gets a line break
    first, for the same reason. ``mode`` applies when the file is created (less the umask).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = (line.rstrip("\n") + "\n").encode("utf-8")
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, mode)
    try:
        start = os.fstat(fd).st_size
        if start and os.pread(fd, 1, start - 1) != b"\n":
            data = b"\n" + data
        try:
            written = 0
            while written < len(data):
                written += os.write(fd, data[written:])
            os.fsync(fd)
        except BaseException:
            os.ftruncate(fd, start)
            raise
    finally:
        os.close(fd)


def write_problem(exc: OSError, doing: str) -> DjtuiError:
    """``exc`` from writing as the error a DJ can act on: what failed, and why in words
    (disk full, read-only folder) rather than an errno."""
    where = f" ({exc.filename})" if exc.filename else ""
    if exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        return DjtuiError(f"{doing} failed: the disk is full{where}", "free some space, then try again")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return DjtuiError(f"{doing} failed: the folder is read-only{where}",
                          "make it writable (or point djtui at another folder), then try again")
    return DjtuiError(f"{doing} failed: {exc.strerror or exc}{where}", "check the folder, then try again")
