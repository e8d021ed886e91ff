"""Learning from the set: the refused and hesitant utterances of a session log written by
the live pipeline, labelled into the training data."""

from __future__ import annotations

import shutil

import pytest

from djtui.core.errors import DjtuiError
from djtui.training.manifest import read_manifest
from djtui.training.review import (LOW_CONFIDENCE, NOT_COMMANDS, Reading, label, latest_session, needs_review,
                                   reviewed_keys, to_review)


def test_the_refused_chatter_is_listed_the_understood_command_is_not(heard_set):
    heard = to_review(heard_set)
    assert [h.n for h in heard] == [1, 3]
    assert all(h.reason == "out_of_grammar" and h.audio.is_file() for h in heard)
    assert 1 <= len(heard[0].readings) <= 5 and heard[0].readings[0].sentence
    assert heard[0].key == f"{heard_set.stem}#1"


def test_what_needs_a_second_look():
    top = [{"intent": "play", "slots": {"deck": "1"}, "score": 0.95, "sentence": "play deck one"}]
    assert not needs_review({"verdict": {"approved": True, "reason": "ok"}, "top5": top})
    assert needs_review({"verdict": {"approved": True, "reason": "ok"}, "top5": [{**top[0], "score": LOW_CONFIDENCE - 0.01}]})
    for reason in ("out_of_grammar", "low_confidence", "ambiguous"):
        assert needs_review({"verdict": {"approved": False, "reason": reason}, "top5": top})
    for reason in ("disarmed", "cooldown", "needs_confirm"):
        assert not needs_review({"verdict": {"approved": False, "reason": reason}, "top5": top})


def test_a_labelled_utterance_becomes_a_take_and_is_not_offered_again(heard_set, tmp_path):
    data = tmp_path / "training_data"
    first, third = to_review(heard_set)
    reading = Reading("play", {"deck": "2"}, 0.4, "play the second deck")
    take = label(first, reading, data)
    [stored] = read_manifest(data)
    assert stored == take and (data / take.path).is_file()
    assert (take.text, take.intent, take.slots, take.speaker, take.take) == (
        "play the second deck", "play", {"deck": "2"}, "me", 1)
    assert take.qc["reviewed"] == first.key and take.qc["transcript"] == first.transcript
    negative = label(third, None, data)
    assert negative == data / NOT_COMMANDS / f"{heard_set.stem}_3.wav" and negative.is_file()
    assert reviewed_keys(data) == {first.key, third.key}
    assert to_review(heard_set, reviewed_keys(data)) == []
    again = label(first, reading, data)  # the same sentence again is its second take
    assert again.take == 2 and len(read_manifest(data)) == 2


def test_a_clip_that_cannot_be_written_leaves_the_manifest_as_it_was(heard_set, tmp_path, monkeypatch):
    """The clip is written (atomically) before its line: no line ever lists a missing clip."""
    import soundfile

    data = tmp_path / "training_data"
    first, third = to_review(heard_set)
    label(third, Reading("sync", {"deck": "1"}, 0.2, "sync deck one"), data)
    before = (data / "manifest.jsonl").read_text()

    def full_disk(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(soundfile, "write", full_disk)
    with pytest.raises(OSError):
        label(first, Reading("play", {"deck": "2"}, 0.4, "play the second deck"), data)
    assert (data / "manifest.jsonl").read_text() == before
    assert [p.name for p in (data / "recordings").iterdir() if p.name.startswith(".")] == []  # no temp file left


def test_the_newest_session_is_the_one_reviewed(heard_set, tmp_path):
    assert latest_session(tmp_path) is None
    older = tmp_path / "20250101-000000.jsonl"
    older.write_text("")
    shutil.copy(heard_set, tmp_path / heard_set.name)
    assert latest_session(tmp_path) == tmp_path / heard_set.name
    with pytest.raises(DjtuiError):
        label(to_review(heard_set)[0], Reading("play", {}, 0.1, "   "), tmp_path / "data")
