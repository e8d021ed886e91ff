"""A model folder is built when its seal says so: whole as written, damaged if any file
it lists changed, cheap to check again."""

from __future__ import annotations

import os

from djtui.core.seal import SEAL, damage, is_sealed, write_seal


def _model(folder):
    folder.mkdir()
    (folder / "model.bin").write_bytes(b"\0\1" * 50_000)
    (folder / "config.json").write_text("{}")
    (folder / ".candidate").mkdir()  # hidden things are no part of a model
    return folder


def test_a_folder_is_whole_only_once_sealed(tmp_path):
    folder = _model(tmp_path / "m")
    assert damage(folder) == "its build never finished (no seal)" and not is_sealed(folder)
    write_seal(folder)
    assert is_sealed(folder)
    (folder / "training_report.md").write_text("added after the seal")  # not listed: no harm
    assert is_sealed(folder)


def test_a_truncated_or_replaced_model_is_damaged(tmp_path):
    folder = _model(tmp_path / "m")
    write_seal(folder)
    with open(folder / "model.bin", "r+b") as f:
        f.truncate(4096)
    assert damage(folder) == "model.bin is 4,096 bytes, its build wrote 100,000"
    (folder / "model.bin").write_bytes(b"\1\0" * 50_000)  # the same size, other bytes
    assert damage(folder) == "model.bin is not the file its build wrote"
    (folder / "config.json").unlink()
    assert damage(folder) == "config.json is missing"


def test_a_copied_folder_is_checked_by_its_bytes(tmp_path):
    folder = _model(tmp_path / "m")
    write_seal(folder)
    stat = (folder / "model.bin").stat()
    os.utime(folder / "model.bin", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # as cp leaves it
    assert is_sealed(folder)
    (folder / SEAL).write_text("{not json")
    assert damage(folder) == f"its seal ({SEAL}) cannot be read"
