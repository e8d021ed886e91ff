"""Atomic writes: a crash mid-write never leaves a half file where a good one was, and a
failed write (disk full, read-only folder) leaves what was there before. Also what a
failed write means in words (:func:`write_problem`), checking a folder before the work
that will write there, and a lock only one process holds."""

from __future__ import annotations

import errno
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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


PROBE = ".djtui-probe-"
"""The prefix of the file :func:`check_writable` writes and removes at once."""
WRITE_ERRNOS = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS)
"""What a write fails with on a full disk (``EFBIG`` past a file-size limit) or a
read-only folder."""
_ERRNO_IN_TEXT = re.compile(r"\(os error (\d+)\)|\[Errno (\d+)\]")


def write_error_of(exc: BaseException) -> OSError | None:
    """``exc`` as the :class:`OSError` of a failed write, when that is what it is: an
    ``OSError`` itself, or a library's own exception carrying one in its text (the
    tokenizers library's ``No space left on device (os error 28)``, a C++ writer's
    ``[Errno 28]``). None for anything else."""
    if isinstance(exc, OSError) and exc.errno in WRITE_ERRNOS:
        return exc
    if isinstance(exc, OSError):
        return None
    match = _ERRNO_IN_TEXT.search(str(exc))
    number = int(next(g for g in match.groups() if g)) if match else None
    if number in WRITE_ERRNOS:
        return OSError(number, os.strerror(number))
    return None


@contextmanager
def write_problems_said(doing: str) -> Iterator[None]:
    """Inside, a write that fails on a full disk or a read-only folder (an ``OSError``,
    or a library's exception carrying one in its text: :func:`write_error_of`) is raised
    as the one-line :func:`write_problem` of ``doing``; anything else passes through."""
    try:
        yield
    except DjtuiError:
        raise
    except Exception as exc:  # noqa: BLE001 - a library's writer may wrap the OSError
        if (failed := write_error_of(exc)) is None:
            raise
        raise write_problem(failed, doing) from None


def check_writable(folder: str | os.PathLike[str], doing: str, need_bytes: int = 0) -> Path:
    """Make sure ``folder`` exists and takes a file, and (where the file system says)
    has ``need_bytes`` free, before minutes of work that end in writing there; the
    :func:`write_problem` of what stands in the way. Returns the folder."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=PROBE, dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise write_problem(exc, doing) from None
    if need_bytes:
        import shutil

        try:
            free = shutil.disk_usage(folder).free
        except OSError:
            return folder  # the file system does not say: the writes will
        if free < need_bytes:
            raise DjtuiError(f"{doing} failed: the disk is full ({folder} has {free / 2**20:,.0f} MB free, "
                             f"about {need_bytes / 2**20:,.0f} MB are needed)", "free some space, then try again")
    return folder


@contextmanager
def exclusive(lock_file: str | os.PathLike[str]) -> Iterator[bool]:
    """Hold an exclusive lock on ``lock_file`` (created) for the block; yields False at
    once, without waiting, when another process holds it. The lock goes with the
    process: a killed holder leaves nothing locked."""
    path = Path(lock_file)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            if os.name == "nt":
                import msvcrt

                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            else:
                import fcntl

                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        yield True
    finally:
        os.close(fd)  # closing releases the lock
