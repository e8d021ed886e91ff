"""The manifest format and its safety: every line has its file, every file its line, and
nothing a DJ recorded is ever deleted — not after a crash, a lost or corrupt manifest, a
full disk or a read-only folder."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from djtui.core.audio import read_audio
from djtui.core.errors import DjtuiError
from djtui.training.manifest import (
    FIELDS,
    REJECTED,
    SET_ASIDE,
    ManifestWriter,
    ScriptedTake,
    Take,
    read_manifest,
)
from tests.fixtures.faults import in_child, read_only_as_nobody, snapshot


def _tone(seconds: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * 16000)) / 16000
    return (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def _add(writer: ManifestWriter, text: str = "play deck one", take: int = 1, seconds: float = 0.5) -> Take:
    return writer.add(_tone(seconds), text=text, intent="play", slots={"deck": "1"}, take=take, speaker="ana")


SCRIPT = [ScriptedTake("ana", f"play deck {n}", "play", {"deck": str(i)}, take)
          for i, n in enumerate(("one", "two", "three"), 1) for take in (1, 2)]


def _record(writer: ManifestWriter, script=SCRIPT) -> list[Take]:
    return [writer.add(_tone(), text=s.text, intent=s.intent, slots=s.slots, take=s.take, speaker=s.speaker)
            for s in script]


def _wavs(folder) -> dict[str, bytes]:
    """Every WAV under ``folder`` by content: what must survive, wherever it moved."""
    return {p.name: p.read_bytes() for p in folder.rglob("*.wav")}


def test_a_take_is_a_wav_and_a_line_with_every_field(tmp_path):
    writer = ManifestWriter(tmp_path)
    entry = _add(writer)
    row = json.loads((tmp_path / "manifest.jsonl").read_text().splitlines()[0])
    assert tuple(row) == FIELDS
    assert row["path"] == entry.path and (tmp_path / entry.path).is_file()
    assert row["sample_rate"] == 16000 and row["duration"] == pytest.approx(0.5)
    assert read_manifest(tmp_path / "manifest.jsonl") == [entry]
    assert read_audio(tmp_path / entry.path) == pytest.approx(_tone(), abs=1e-4)
    assert not writer.reconciled.changed and writer.reconciled.summary() == ""


def test_a_redo_replaces_the_take_instead_of_adding_one(tmp_path):
    writer = ManifestWriter(tmp_path)
    _add(writer, seconds=0.5)
    redo = _add(writer, seconds=0.7)
    assert read_manifest(tmp_path) == [redo] and redo.duration == pytest.approx(0.7)
    assert [p.name for p in (tmp_path / "recordings").iterdir()] == [redo.path.split("/")[1]]


def test_reopening_sets_aside_files_no_line_describes_and_deletes_nothing(tmp_path):
    writer = ManifestWriter(tmp_path)
    kept = _add(writer)
    # A crash after the WAV of an unknown sentence was renamed into place but before
    # its line was appended, and one mid-write (the temp file of write_atomic).
    (tmp_path / "recordings" / "ana_play_deadbeef00_t2.wav").write_bytes(b"RIFF")
    (tmp_path / "recordings" / ".x.wav.abc.tmp").write_bytes(b"RIF")
    reopened = ManifestWriter(tmp_path)
    report = reopened.reconciled
    assert [p.name for p in report.set_aside] == [".x.wav.abc.tmp", "ana_play_deadbeef00_t2.wav"]
    assert all(p.parent == tmp_path / SET_ASIDE for p in report.set_aside)
    assert (tmp_path / SET_ASIDE / "ana_play_deadbeef00_t2.wav").read_bytes() == b"RIFF"
    assert sorted(p.name for p in (tmp_path / "recordings").iterdir()) == [kept.path.split("/")[1]]
    assert f"2 files no line describes moved to {tmp_path / SET_ASIDE}" in report.summary()
    assert "no file deleted" in report.summary()


def test_lines_without_files_and_torn_lines_move_to_the_rejected_file_as_they_were(tmp_path):
    writer = ManifestWriter(tmp_path)
    first = _add(writer, "play deck one")
    second = _add(writer, "play deck two")
    (tmp_path / second.path).unlink()
    torn = '{"path": "recordings/x.wav", "te'  # the crash hit mid-line
    with open(tmp_path / "manifest.jsonl", "a") as f:
        f.write(torn)
    before = (tmp_path / "manifest.jsonl").read_text().splitlines()
    reopened = ManifestWriter(tmp_path)
    assert reopened.takes == [first] and read_manifest(tmp_path) == [first]
    assert (tmp_path / REJECTED).read_text().splitlines() == before[1:]
    assert reopened.reconciled.rejected == (
        f"manifest.jsonl:2: audio file {second.path} is missing",
        "manifest.jsonl:3: not JSON (Unterminated string starting at)")
    assert "2 manifest lines moved to" in reopened.reconciled.summary()


def test_a_lost_manifest_is_written_again_from_the_script_keeping_every_take(tmp_path):
    original = _record(ManifestWriter(tmp_path, script=SCRIPT))
    wavs = _wavs(tmp_path)
    (tmp_path / "manifest.jsonl").unlink()
    checked = []

    def check(audio):
        checked.append(len(audio))
        return {"passed": True}

    reopened = ManifestWriter(tmp_path, script=SCRIPT, check=check)
    assert _wavs(tmp_path / "recordings") == wavs
    assert len(reopened.reconciled.redescribed) == len(SCRIPT) == len(checked)
    recovered = read_manifest(tmp_path)
    assert [(t.path, t.text, t.intent, t.slots, t.take, t.speaker, t.duration) for t in recovered] == sorted(
        (t.path, t.text, t.intent, t.slots, t.take, t.speaker, t.duration) for t in original)
    assert all(t.qc == {"passed": True, "recovered": True} for t in recovered)
    assert reopened.done() == {(s.speaker, s.text, s.take) for s in SCRIPT}


def test_a_take_whose_line_is_lost_is_described_by_another_take_of_its_sentence(tmp_path):
    writer = ManifestWriter(tmp_path)
    first = _add(writer, take=1)
    second = _add(writer, take=2, seconds=0.8)
    lines = (tmp_path / "manifest.jsonl").read_text().splitlines()
    (tmp_path / "manifest.jsonl").write_text(lines[0] + "\n")
    reopened = ManifestWriter(tmp_path)
    assert reopened.reconciled.redescribed == (second.path,)
    recovered = read_manifest(tmp_path)[1]
    assert (recovered.text, recovered.slots, recovered.take, recovered.duration) == ("play deck one", {"deck": "1"}, 2, 0.8)
    assert read_manifest(tmp_path)[0] == first


def test_a_corrupt_manifest_loses_no_audio_and_keeps_its_bytes(tmp_path):
    _record(ManifestWriter(tmp_path, script=SCRIPT))
    (tmp_path / "recordings" / "bob_play_0123456789_t1.wav").write_bytes(sf_bytes(_tone()))
    wavs = _wavs(tmp_path)
    garbage = b"\x00\xff{not json\n\x89PNG\r\n"
    (tmp_path / "manifest.jsonl").write_bytes(garbage)
    reopened = ManifestWriter(tmp_path, script=SCRIPT[:4])
    assert _wavs(tmp_path) == wavs  # every WAV still there, by content
    assert len(reopened.reconciled.redescribed) == 4
    assert sorted(p.name for p in reopened.reconciled.set_aside) == sorted(
        ["bob_play_0123456789_t1.wav", SCRIPT[4].file_name(), SCRIPT[5].file_name()])
    assert (tmp_path / REJECTED).read_bytes() == garbage.replace(b"\r\n", b"\n")
    assert "not UTF-8" in reopened.reconciled.rejected[0]


def sf_bytes(audio: np.ndarray) -> bytes:
    import io

    buffer = io.BytesIO()
    sf.write(buffer, audio, 16000, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def test_keys_the_writer_does_not_know_survive_reconciling_and_redos(tmp_path):
    writer = ManifestWriter(tmp_path)
    _add(writer, "play deck one")
    _add(writer, "play deck two")
    path = tmp_path / "manifest.jsonl"
    row = json.loads(path.read_text().splitlines()[0])
    row["verified_by"] = "ana"
    path.write_text(json.dumps(row) + "\n" + path.read_text().splitlines()[1] + "\n")
    (tmp_path / "recordings" / "stray.wav").write_bytes(b"x")
    reopened = ManifestWriter(tmp_path)  # reconciles (sets the stray aside) ...
    _add(reopened, "play deck two")  # ... and a redo rewrites the manifest
    assert json.loads(path.read_text().splitlines()[0])["verified_by"] == "ana"


@pytest.mark.parametrize("bad_path", ["/etc/passwd", "../outside.wav", "recordings/../../outside.wav"])
def test_a_path_out_of_the_dataset_is_refused_with_file_and_line(tmp_path, bad_path):
    (tmp_path / "outside.wav").write_bytes(sf_bytes(_tone()))
    data = tmp_path / "data"
    _add(ManifestWriter(data))
    row = json.loads((data / "manifest.jsonl").read_text())
    row["path"] = bad_path
    with open(data / "manifest.jsonl", "a") as f:
        f.write(json.dumps(row) + "\n")
    with pytest.raises(DjtuiError, match=r"manifest.jsonl:2: broken manifest line \(.*(absolute|climbs out)"):
        read_manifest(data)
    reopened = ManifestWriter(data)
    assert reopened.reconciled.rejected[0].startswith("manifest.jsonl:2:")
    assert (tmp_path / "outside.wav").is_file() and len(reopened.takes) == 1


def test_a_path_through_a_link_out_of_the_dataset_is_refused(tmp_path):
    data = tmp_path / "data"
    _add(ManifestWriter(data))
    (data / "elsewhere").symlink_to(tmp_path)
    row = json.loads((data / "manifest.jsonl").read_text())
    row["path"] = "elsewhere/x.wav"
    (data / "manifest.jsonl").write_text(json.dumps(row) + "\n")
    with pytest.raises(DjtuiError, match="leads out of the data folder"):
        read_manifest(data)


def test_a_redo_cut_short_by_a_crash_gets_the_earlier_take_back(tmp_path):
    writer = ManifestWriter(tmp_path)
    take = _add(writer)
    audio = (tmp_path / take.path).read_bytes()
    # The redo had moved the earlier take aside; the crash came before the new one landed.
    (tmp_path / take.path).rename(tmp_path / "recordings" / f".{take.path.split('/')[1]}.redo")
    reopened = ManifestWriter(tmp_path)
    assert reopened.reconciled.restored == (take.path,)
    assert (tmp_path / take.path).read_bytes() == audio and read_manifest(tmp_path) == [take]


# --- failures while writing: the dataset stays as it was ---------------------------------


def _big_dataset(folder, takes: int = 60) -> ManifestWriter:
    """A manifest bigger than one short take's WAV, so a file-size cap can fail the line
    after the WAV went in."""
    writer = ManifestWriter(folder)
    for n in range(takes):
        writer.add(_tone(0.05), text=f"sync deck {n}", intent="sync", slots={"deck": "1"}, take=1, speaker="ana")
    return writer


def test_disk_full_while_writing_the_wav_leaves_nothing(tmp_path):
    writer = _big_dataset(tmp_path)
    before = snapshot(tmp_path)
    outcome = in_child(lambda: _add(writer, seconds=2.0), file_size_limit=40_000)
    assert outcome.error == "DjtuiError" and "the disk is full" in outcome.message
    assert snapshot(tmp_path) == before


def test_disk_full_while_appending_the_line_leaves_no_take_and_no_half_line(tmp_path):
    writer = _big_dataset(tmp_path)
    before = snapshot(tmp_path)
    size = (tmp_path / "manifest.jsonl").stat().st_size
    outcome = in_child(lambda: _add(writer, seconds=0.05), file_size_limit=size + 40)
    assert outcome.error == "DjtuiError" and "saving the take" in outcome.message
    assert snapshot(tmp_path) == before  # the WAV went in, then came out again
    ManifestWriter(tmp_path)  # and the next session finds nothing to reconcile
    assert snapshot(tmp_path) == before


def test_disk_full_during_a_redo_keeps_the_earlier_take(tmp_path):
    writer = _big_dataset(tmp_path)
    before = snapshot(tmp_path)
    size = (tmp_path / "manifest.jsonl").stat().st_size
    redo = lambda: writer.add(_tone(0.05) * 0.5, text="sync deck 3", intent="sync", slots={"deck": "1"}, take=1,
                              speaker="ana")  # noqa: E731
    outcome = in_child(redo, file_size_limit=size - 10)  # the WAV fits, the rewritten manifest not
    assert outcome.error == "DjtuiError"
    assert snapshot(tmp_path) == before


def test_a_read_only_folder_is_one_clear_error_and_changes_nothing(public_tmp):
    writer = ManifestWriter(public_tmp)
    _add(writer)
    before = snapshot(public_tmp)
    outcome = read_only_as_nobody(lambda: _add(writer, "play deck two"), public_tmp)
    assert outcome.error == "DjtuiError"
    assert "the folder is read-only" in outcome.message and "make it writable" in outcome.message
    reopen = read_only_as_nobody(lambda: len(ManifestWriter(public_tmp).takes), public_tmp)
    assert reopen.value == 1  # nothing to reconcile: a read-only dataset still opens
    assert snapshot(public_tmp) == before


def test_a_file_where_the_folder_should_be_is_one_clear_error(tmp_path):
    (tmp_path / "recordings").write_text("not a folder")
    with pytest.raises(DjtuiError, match="opening the dataset folder"):
        ManifestWriter(tmp_path)


def test_a_take_with_nan_samples_is_not_saved(tmp_path):
    writer = ManifestWriter(tmp_path)
    audio = _tone()
    audio[100] = np.nan
    with pytest.raises(DjtuiError, match="NaN"):
        writer.add(audio, text="play deck one", intent="play", slots={}, take=1, speaker="ana")
    assert snapshot(tmp_path) == {}


# --- reading ------------------------------------------------------------------------------


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


def test_read_audio_names_an_unreadable_file(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio")
    with pytest.raises(DjtuiError, match="bad.wav: not a readable audio file"):
        read_audio(bad)


def test_read_audio_refuses_empty_and_nan_files_and_clips_overs(tmp_path):
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, np.float32), 16000)
    with pytest.raises(DjtuiError, match="empty.wav: holds no audio"):
        read_audio(empty)
    nan = tmp_path / "nan.wav"
    sf.write(nan, np.array([0.1, np.nan, np.inf], np.float32), 16000, subtype="FLOAT")
    with pytest.raises(DjtuiError, match="nan.wav: holds NaN or infinite samples"):
        read_audio(nan)
    hot = tmp_path / "hot.wav"
    sf.write(hot, np.array([0.5, 1.5, -2.0], np.float32), 16000, subtype="FLOAT")
    assert read_audio(hot).tolist() == [0.5, 1.0, -1.0]


def _doubled(tmp_path) -> tuple[ManifestWriter, list[str]]:
    """A dataset whose manifest lists every take twice, as two writers at once leave it."""
    writer = ManifestWriter(tmp_path)
    _record(writer, SCRIPT[:4])
    lines = (tmp_path / "manifest.jsonl").read_text().splitlines()
    (tmp_path / "manifest.jsonl").write_text("".join(f"{line}\n" for line in lines + lines))
    return writer, lines


def test_a_take_listed_twice_is_read_once_and_the_line_named(tmp_path, caplog):
    _, lines = _doubled(tmp_path)
    with caplog.at_level("WARNING", logger="djtui.training.manifest"):
        takes = read_manifest(tmp_path)
    assert len(takes) == 4 and len({t.path for t in takes}) == 4
    assert f"manifest.jsonl:5: the same take as line 1 ({takes[0].path}): left out" in caplog.text
    row = json.loads(lines[0])
    row["text"] = "play deck two"  # the same file, saying something else: which line is right?
    (tmp_path / "manifest.jsonl").write_text(lines[0] + "\n" + json.dumps(row) + "\n")
    with pytest.raises(DjtuiError, match=r"manifest.jsonl:2: .* again \(first at line 1\) but saying something else"):
        read_manifest(tmp_path)


def test_reconciling_moves_a_repeated_line_aside_and_a_writer_never_repeats_one(tmp_path):
    _, lines = _doubled(tmp_path)
    writer = ManifestWriter(tmp_path, script=SCRIPT)
    assert [f"manifest.jsonl:{n}: the same file as line {n - 4}" in why
            for n, why in zip(range(5, 9), writer.reconciled.rejected)] == [True] * 4
    assert (tmp_path / "manifest.jsonl").read_text().splitlines() == lines
    assert (tmp_path / REJECTED).read_text().splitlines() == lines  # kept, byte for byte
    _record(writer, SCRIPT)  # the script again: each take replaces its own line
    paths = [json.loads(line)["path"] for line in (tmp_path / "manifest.jsonl").read_text().splitlines()]
    assert len(paths) == len(set(paths)) == len(SCRIPT)
