"""Atomic writes and appended lines: a failed or interrupted write leaves what was there."""

from __future__ import annotations

import errno
import os
import stat

import pytest

from djtui.core.errors import DjtuiError
from djtui.core.fileio import (append_line, check_writable, exclusive, write_atomic, write_error_of, write_problem,
                               write_text_atomic)
from tests.fixtures.faults import in_child


def test_append_line_after_a_torn_line_starts_a_new_one(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_text('{"n": 1}\n{"n": 2, "tor')  # a crash mid-line
    append_line(path, '{"n": 3}')
    assert path.read_text().splitlines() == ['{"n": 1}', '{"n": 2, "tor', '{"n": 3}']


def test_an_append_the_disk_cannot_take_is_cut_back_off(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_text('{"n": 1}\n')
    outcome = in_child(lambda: append_line(path, '{"n": 2, "text": "' + "x" * 100 + '"}'), file_size_limit=30)
    assert outcome.error == "OSError" and "File too large" in outcome.message
    assert path.read_text() == '{"n": 1}\n'


def test_a_failed_atomic_write_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    path = tmp_path / "config.toml"
    write_text_atomic(path, "old")

    def broken(f):
        f.write(b"half")
        raise RuntimeError("crash mid-write")

    with pytest.raises(RuntimeError):
        write_atomic(path, broken)
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["config.toml"]


def test_append_line_creates_with_the_mode_asked(tmp_path):
    old = os.umask(0o022)
    try:
        append_line(tmp_path / "private.jsonl", "{}", mode=0o600)
        append_line(tmp_path / "shared.jsonl", "{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "private.jsonl").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "shared.jsonl").stat().st_mode) == 0o644


@pytest.mark.parametrize(("code", "words"), [(errno.ENOSPC, "the disk is full"), (errno.EROFS, "the folder is read-only"),
                                             (errno.EACCES, "the folder is read-only"), (errno.EIO, "Input/output error")])
def test_write_problems_are_said_in_words(code, words):
    error = write_problem(OSError(code, os.strerror(code), "/data/x.wav"), "saving the take")
    assert error.message.startswith(f"saving the take failed: {words}") and "/data/x.wav" in error.message
    assert error.hint


def test_a_library_s_own_failed_write_is_read_as_the_os_error_it_carries():
    assert write_error_of(OSError(errno.ENOSPC, "No space left on device")).errno == errno.ENOSPC
    assert write_error_of(Exception("No space left on device (os error 28)")).errno == errno.ENOSPC  # tokenizers
    assert write_error_of(RuntimeError("[Errno 30] Read-only file system: 'x'")).errno == errno.EROFS
    assert write_error_of(OSError(errno.ENOENT, "gone")) is None and write_error_of(ValueError("(os error 2)")) is None


def test_a_folder_is_checked_before_the_work(tmp_path):
    assert check_writable(tmp_path / "new" / "models", "training").is_dir()
    assert not list((tmp_path / "new" / "models").iterdir())  # the probe is gone
    with pytest.raises(DjtuiError, match="training failed: the disk is full .* MB free, about .* MB are needed"):
        check_writable(tmp_path, "training", need_bytes=2**62)
    (tmp_path / "file").write_text("")
    with pytest.raises(DjtuiError, match="training failed"):
        check_writable(tmp_path / "file" / "models", "training")


def test_one_process_at_a_time_holds_the_lock(tmp_path):
    with exclusive(tmp_path / ".lock") as first:
        with exclusive(tmp_path / ".lock") as second:
            assert first and not second
    with exclusive(tmp_path / ".lock") as again:
        assert again
