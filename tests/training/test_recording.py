"""Recording sessions: the prompt script, quality checks on real speech, resume after a stop."""

from __future__ import annotations

import numpy as np
import pytest

from djtui.training.manifest import FIELDS, read_manifest
from djtui.training.recording import Prompt, RecordingSession, check_take, prompts_for, trim_silence


def _room(seconds: float, seed: int = 0) -> np.ndarray:
    """Quiet room tone, like a microphone between takes."""
    return (0.001 * np.random.default_rng(seed).standard_normal(int(seconds * 16000))).astype(np.float32)


def _take(speak, text: str) -> np.ndarray:
    speech = speak(text, pad_s=0.0)
    return np.concatenate([_room(0.8), speech + _room(len(speech) / 16000, 1), _room(0.8, 2)])


def test_the_script_says_every_intent_takes_times_and_is_reproducible(small_context):
    script = prompts_for(small_context, takes=3, phrasings=2, seed=7)
    assert {p.intent for p in script} == set(small_context.intents)
    for text in {p.text for p in script}:
        assert sorted(p.take for p in script if p.text == text) == [1, 2, 3]
    assert len(script) == 3 * 2 * len(small_context.intents)
    assert script == prompts_for(small_context, takes=3, phrasings=2, seed=7)
    in_order = prompts_for(small_context, takes=3, phrasings=2, seed=7, shuffle=False)
    assert [p.intent for p in in_order][:6] == ["play"] * 6 and sorted(in_order, key=id) != script


def test_a_good_take_is_trimmed_and_written_with_its_qc(tmp_path, small_context, speak):
    session = RecordingSession(tmp_path, small_context, speaker="ana", takes=1)
    prompt = session.next_prompt()
    audio = _take(speak, prompt.text)
    result = session.save_take(audio, prompt)
    assert result.passed, result.problems
    assert result.duration < len(audio) / 16000 - 1.0  # most of the 1.6 s of room tone is gone
    [take] = read_manifest(session.manifest)
    assert (take.text, take.intent, take.slots, take.take, take.speaker) == (
        prompt.text, prompt.intent, prompt.slots, 1, "ana")
    assert take.qc["passed"] is True and take.qc["speech_s"] > 0.3
    assert take.duration == pytest.approx(result.duration, abs=1e-3)
    assert set(FIELDS) <= set(take.__dict__)


@pytest.mark.parametrize(("make", "problem"), [
    (lambda s: np.clip(s * 30, -1, 1), "clipped"),
    (lambda s: s * 0.005, "too quiet"),
    (lambda s: _room(2.0), "no speech"),
    (lambda s: np.concatenate([s] * 5), "too long"),
])
def test_a_bad_take_asks_for_a_redo_and_writes_nothing(tmp_path, small_context, speak, make, problem):
    session = RecordingSession(tmp_path, small_context, speaker="ana", takes=1, max_s=4.0)
    prompt = session.next_prompt()
    result = session.save_take(make(_take(speak, "play deck one")), prompt)
    assert not result.passed
    assert any(p.startswith(problem) for p in result.problems), result.problems
    assert session.next_prompt() == prompt
    assert list((tmp_path / "recordings").iterdir()) == []


def test_too_short_is_caught_on_the_trimmed_take():
    blip = np.zeros(16000, dtype=np.float32)
    blip[6000:6000 + 4000] = 0.3 * np.sin(np.arange(4000) / 3)  # a 0.25 s tone
    trimmed = trim_silence(blip + _room(1.0))
    result = check_take(trimmed, min_s=0.8)
    assert any(p.startswith("too short") for p in result.problems), result.problems


def test_a_stopped_session_resumes_where_it_left_off(tmp_path, small_context, speak):
    first = RecordingSession(tmp_path, small_context, speaker="ana", takes=2, phrasings=1, seed=3)
    done = []
    for _ in range(2):
        prompt = first.next_prompt()
        assert first.save_take(_take(speak, prompt.text), prompt).passed
        done.append(prompt)
    # A crash after the next WAV was written but before its manifest line.
    (tmp_path / "recordings" / "ana_sync_0123456789_t1.wav").write_bytes(b"RIFF....")

    resumed = RecordingSession(tmp_path, small_context, speaker="ana", takes=2, phrasings=1, seed=3)
    assert resumed.progress() == (2, 6)
    assert resumed.next_prompt() not in done
    assert resumed.remaining() == first.prompts[2:]
    assert len(list((tmp_path / "recordings").iterdir())) == 2
    other = RecordingSession(tmp_path, small_context, speaker="ben", takes=2, phrasings=1, seed=3)
    assert other.progress() == (0, 6)


def test_resampled_input_is_accepted(tmp_path, small_context, speak):
    import soxr

    session = RecordingSession(tmp_path, small_context, speaker="ana", takes=1)
    prompt: Prompt = session.next_prompt()
    audio = soxr.resample(_take(speak, prompt.text), 16000, 48000)
    assert session.save_take(audio, prompt, sample_rate=48000).passed
    assert read_manifest(session.manifest)[0].sample_rate == 16000


def test_a_session_whose_manifest_was_lost_gets_its_takes_back(tmp_path, small_context, speak):
    first = RecordingSession(tmp_path, small_context, speaker="ana", takes=2, phrasings=1, seed=3)
    for _ in range(2):
        prompt = first.next_prompt()
        assert first.save_take(_take(speak, prompt.text), prompt).passed
    kept = read_manifest(first.manifest)
    first.manifest.unlink()

    resumed = RecordingSession(tmp_path, small_context, speaker="ana", takes=2, phrasings=1, seed=3)
    assert resumed.progress() == (2, 6)
    assert sorted(resumed.reconciled.redescribed) == sorted(t.path for t in kept)
    recovered = read_manifest(resumed.manifest)
    assert {(t.text, t.take, t.duration) for t in recovered} == {(t.text, t.take, t.duration) for t in kept}
    assert all(t.qc["passed"] and t.qc["recovered"] for t in recovered)  # checked again on the way back


def test_a_full_disk_or_read_only_folder_loses_no_take_and_no_line(tmp_path, public_tmp, small_context, speak):
    from djtui.training.manifest import MANIFEST
    from tests.fixtures.faults import in_child, read_only_as_nobody, snapshot

    for folder in (tmp_path, public_tmp):
        session = RecordingSession(folder, small_context, speaker="ana", takes=2, phrasings=1, seed=3)
        prompt = session.next_prompt()
        assert session.save_take(_take(speak, prompt.text), prompt).passed
    audio = _take(speak, "sync deck one")
    session = RecordingSession(tmp_path, small_context, speaker="ana", takes=2, phrasings=1, seed=3)
    before = snapshot(tmp_path)
    size = (tmp_path / MANIFEST).stat().st_size
    full = in_child(lambda: session.save_take(audio, session.next_prompt()), file_size_limit=size + 30)
    assert full.error == "DjtuiError" and "the disk is full" in full.message
    assert snapshot(tmp_path) == before

    session = RecordingSession(public_tmp, small_context, speaker="ana", takes=2, phrasings=1, seed=3)
    before = snapshot(public_tmp)
    read_only = read_only_as_nobody(lambda: session.save_take(audio, session.next_prompt()), public_tmp)
    assert read_only.error == "DjtuiError" and "read-only" in read_only.message
    assert snapshot(public_tmp) == before
