"""The session log: numbered records appended line by line, private to the DJ, and one
clear message — not one per utterance — when it cannot be written."""

from __future__ import annotations

import json
import os
import stat

import numpy as np
import pytest
import soundfile as sf

from djtui.core.errors import DjtuiError
from djtui.core.sessionlog import SessionLog, read_session
from tests.fixtures.faults import in_child, read_only_as_nobody


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_records_are_numbered_and_read_back_and_a_torn_line_is_skipped(tmp_path):
    log = SessionLog(tmp_path / "sessions")
    first = log.record({"transcript": "play left", "score": np.float32(0.5), "where": tmp_path})
    log.record({"transcript": "sync right"})
    with open(log.path, "a") as f:
        f.write('{"n": 3, "transcr')  # a crash mid-line
    records = read_session(log.path)
    assert [r["n"] for r in records] == [1, 2] and records[0]["transcript"] == "play left"
    assert records[0]["score"] == 0.5 and records[0]["where"] == str(tmp_path)
    assert first["time"].endswith("+00:00")
    log.record({"transcript": "after the crash"})  # not glued to the torn line
    assert [r["n"] for r in read_session(log.path)] == [1, 2, 3]


def test_a_second_log_in_the_same_second_gets_its_own_file(tmp_path):
    first = SessionLog(tmp_path)
    first.record({})
    second = SessionLog(tmp_path)
    assert second.path != first.path and second.path.stem.startswith(first.path.stem)


def test_transcripts_and_clips_are_the_owners_alone(tmp_path):
    old = os.umask(0o022)  # the usual umask, which would leave them world-readable
    try:
        log = SessionLog(tmp_path / "sessions", save_audio=True)
        record = log.record({"transcript": "play left"}, np.full(1600, 0.1, np.float32))
    finally:
        os.umask(old)
    assert _mode(log.directory) == 0o700 and _mode(log.clips_dir) == 0o700
    assert _mode(log.path) == 0o600 and _mode(log.directory / record["audio"]) == 0o600
    clip, rate = sf.read(log.directory / record["audio"])
    assert rate == 16000 and len(clip) == 1600


def test_an_existing_sessions_folder_is_made_private_too(tmp_path):
    folder = tmp_path / "sessions"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    SessionLog(folder).record({})
    assert _mode(folder) == 0o700


def _three_records(log: SessionLog) -> list[str]:
    """What the live pipeline would see over three utterances: the errors raised."""
    raised = []
    for n in range(3):
        try:
            log.record({"transcript": f"utterance {n}"}, np.zeros(160, np.float32))
        except DjtuiError as exc:
            raised.append(str(exc))
    return raised


def test_a_read_only_folder_is_one_message_and_the_rest_is_not_written(public_tmp):
    folder = public_tmp / "sessions"
    folder.mkdir()
    log = SessionLog(folder, save_audio=True)
    outcome = read_only_as_nobody(lambda: _three_records(log), public_tmp)
    [message] = outcome.value
    assert "session log stopped" in message and "read-only" in message
    assert "djtui keeps listening, without a log" in message
    assert list(folder.iterdir()) == []


def test_a_full_disk_stops_the_log_once_without_a_half_line_or_an_orphan_clip(tmp_path):
    log = SessionLog(tmp_path, save_audio=True)
    log.record({"transcript": "kept " + "x" * 2000})  # a log longer than a clip: the clip fits, the line not
    size = log.path.stat().st_size
    outcome = in_child(lambda: _three_records(log), file_size_limit=size + 10)
    [message] = outcome.value
    assert "the disk is full" in message
    assert log.path.stat().st_size == size and [r["n"] for r in read_session(log.path)] == [1]
    assert [p.name for p in log.clips_dir.iterdir()] == []


def test_a_folder_that_cannot_be_made_is_one_message(tmp_path):
    (tmp_path / "sessions").write_text("a file where the folder should be")
    log = SessionLog(tmp_path / "sessions")
    with pytest.raises(DjtuiError, match="session log stopped"):
        log.record({})
    assert log.record({"transcript": "later"})["n"] == 2  # no second error
    assert log.failure is not None


def test_the_live_pipeline_goes_on_without_a_log_and_says_so_once(tmp_path, speak):
    from djtui.core import events
    from djtui.core.asr import WhisperEngine
    from djtui.core.audio import FileSource
    from djtui.core.config import Config
    from djtui.core.pipeline import Pipeline

    (tmp_path / "sessions").write_text("a file where the folder should be")
    config = Config().updated({"resolver": {"semantic_weight": 0.0}})
    pipeline = Pipeline(config, engine=WhisperEngine(), dry_run=True, session_log=SessionLog(tmp_path / "sessions"))
    silence = np.zeros(16000, np.float32)
    audio = np.concatenate([speak("play the second deck"), silence, speak("pause the first deck"), silence])
    sf.write(tmp_path / "two.wav", audio, 16000)
    seen = []
    pipeline.subscribe(seen.append)
    pipeline.start(FileSource(tmp_path / "two.wav", realtime=False))
    assert pipeline.wait(timeout=120)
    pipeline.stop()
    errors = [e for e in seen if isinstance(e, events.Error)]
    assert len([e for e in seen if isinstance(e, events.Outcome)]) == 2  # both commands handled
    assert len(errors) == 1 and "session log stopped" in errors[0].message
    assert "keeps listening" in errors[0].hint
    assert json.dumps([e.message for e in errors])  # plain text, no traceback object
