"""A model folder is whole when its seal says so.

A build that makes a model folder for djtui to pick on its own (the context model)
writes ``sealed.json`` last, just before the folder is renamed into place: the size of
every file in it and the SHA-256 of ``model.bin``. :func:`is_sealed` is what "built"
means. A folder without a seal was never finished; one whose files no longer match (a
``model.bin`` cut short by a full disk, truncated, replaced) is damaged: engine ``auto``
then listens with the bundled model, and the build runs again.

The check is cheap enough for every status line: sizes always, the hash only when
``model.bin``'s modification time is not the one sealed (a copied folder), and then once
per process for that file as it is.
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
from pathlib import Path

from djtui.core.fileio import write_text_atomic

SEAL = "sealed.json"
MODEL_BIN = "model.bin"
VERSION = 1


def write_seal(folder: str | os.PathLike[str]) -> Path:
    """Seal ``folder`` as it is now: every visible file's size, ``model.bin``'s hash.
    Write it last: whatever is added after the seal makes no difference to it, whatever
    changes of what it lists breaks it."""
    folder = Path(folder)
    files = {p.name: p.stat().st_size for p in sorted(folder.iterdir())
             if p.is_file() and not p.name.startswith(".") and p.name != SEAL}
    model = (folder / MODEL_BIN).stat()
    record = {"version": VERSION, "files": files,
              MODEL_BIN: {"mtime_ns": model.st_mtime_ns, "sha256": _sha256(str(folder / MODEL_BIN), model.st_size,
                                                                           model.st_mtime_ns)}}
    return write_text_atomic(folder / SEAL, json.dumps(record, indent=2) + "\n")


def is_sealed(folder: str | os.PathLike[str]) -> bool:
    """True when ``folder`` holds what its build sealed: every file listed, at its size,
    and ``model.bin`` the bytes that were written."""
    return damage(folder) is None


def damage(folder: str | os.PathLike[str]) -> str | None:
    """What is wrong with the sealed folder, in words (``None``: nothing)."""
    folder = Path(folder)
    try:
        record = json.loads((folder / SEAL).read_text(encoding="utf-8"))
        files, model = dict(record["files"]), dict(record[MODEL_BIN])
    except FileNotFoundError:
        return "its build never finished (no seal)"
    except (OSError, ValueError, KeyError, TypeError):
        return f"its seal ({SEAL}) cannot be read"
    for name, size in files.items():
        try:
            actual = (folder / name).stat().st_size
        except OSError:
            return f"{name} is missing"
        if actual != size:
            return f"{name} is {actual:,} bytes, its build wrote {size:,}"
    if MODEL_BIN not in files:
        return f"its seal lists no {MODEL_BIN}"
    try:
        stat = (folder / MODEL_BIN).stat()
        same = stat.st_mtime_ns == model.get("mtime_ns") or \
            _sha256(str(folder / MODEL_BIN), stat.st_size, stat.st_mtime_ns) == model.get("sha256")
    except OSError as exc:
        return f"{MODEL_BIN} cannot be read ({exc.strerror or exc})"
    return None if same else f"{MODEL_BIN} is not the file its build wrote"


@lru_cache(maxsize=16)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    """The file's hash; cached per (path, size, mtime), so a status line never reads
    75 MB twice."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
