"""The manifest format and its crash safety: every line has its file, every file its line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from djtui.core.errors import DjtuiError
from djtui.training.manifest import FIELDS, ManifestWriter, Take, load_audio, read_manifest


def _tone(seconds: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * 16000)) / 16000
    return (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def _add(writer: ManifestWriter, text: str = "play deck one", take: int = 1) -> Take:
    return writer.add(_tone(), text=text, intent="play", slots={"deck": "1"}, take=take, speaker="ana")


def test_a_take_is_a_wav_and_a_line_with_every_field(tmp_path):
    writer = ManifestWriter(tmp_path)
    entry = _add(writer)
    row = json.loads((tmp_path / "manifest.jsonl").read_text().splitlines()[0])
    assert tuple(row) == FIELDS
    assert row["path"] == entry.path and (tmp_path / entry.path).is_file()
    assert row["sample_rate"] == 16000 and row["duration"] == pytest.approx(0.5)
    assert read_manifest(tmp_path / "manifest.jsonl") == [entry]
    assert load_audio(tmp_path / entry.path) == pytest.approx(_tone(), abs=1e-4)


def test_a_redo_replaces_the_take_instead_of_adding_one(tmp_path):
    writer = ManifestWriter(tmp_path)
    _add(writer)
    _add(writer)
    assert len(read_manifest(tmp_path)) == 1
    assert len(list((tmp_path / "recordings").iterdir())) == 1


def test_reopening_removes_a_file_the_manifest_does_not_list(tmp_path):
    writer = ManifestWriter(tmp_path)
    kept = _add(writer)
    # A crash after the WAV was renamed into place but before its line was appended,
    # and one mid-write (the temp file of write_atomic).
    (tmp_path / "recordings" / "ana_play_deadbeef00_t2.wav").write_bytes(b"RIFF")
    (tmp_path / "recordings" / ".x.wav.abc.tmp").write_bytes(b"RIF")
    reopened = ManifestWriter(tmp_path)
    assert [p.name for p in reopened.removed_files] == [".x.wav.abc.tmp", "ana_play_deadbeef00_t2.wav"]
    assert sorted(p.name for p in (tmp_path / "recordings").iterdir()) == [kept.path.split("/")[1]]


def test_reopening_drops_lines_without_files_and_half_written_lines(tmp_path):
    writer = ManifestWriter(tmp_path)
    first = _add(writer, "play deck one")
    second = _add(writer, "play deck two")
    (tmp_path / second.path).unlink()
    with open(tmp_path / "manifest.jsonl", "a") as f:
        f.write('{"path": "recordings/x.wav", "te')  # the crash hit mid-line
    reopened = ManifestWriter(tmp_path)
    assert reopened.dropped_lines == 2
    assert reopened.takes == [first]
    assert read_manifest(tmp_path) == [first]


def test_read_manifest_names_the_missing_file(tmp_path):
    writer = ManifestWriter(tmp_path)
    entry = _add(writer)
    (tmp_path / entry.path).unlink()
    with pytest.raises(DjtuiError, match=r"manifest.jsonl:1: audio file .*_t1.wav is missing"):
        read_manifest(tmp_path / "manifest.jsonl")


def test_read_manifest_names_the_broken_line(tmp_path):
    _add(ManifestWriter(tmp_path))
    with open(tmp_path / "manifest.jsonl", "a") as f:
        f.write('{"path": "a.wav"}\n')
    with pytest.raises(DjtuiError, match=r"manifest.jsonl:2: broken manifest line \(missing text"):
        read_manifest(tmp_path / "manifest.jsonl")


def test_read_manifest_refuses_an_empty_or_absent_manifest(tmp_path):
    with pytest.raises(DjtuiError, match="no manifest at"):
        read_manifest(tmp_path / "manifest.jsonl")
    (tmp_path / "manifest.jsonl").write_text("\n")
    with pytest.raises(DjtuiError, match="has no takes"):
        read_manifest(tmp_path / "manifest.jsonl")


def test_load_audio_names_an_unreadable_file(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio")
    with pytest.raises(DjtuiError, match="cannot read audio file .*bad.wav"):
        load_audio(bad)
