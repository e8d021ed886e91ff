"""Trials run the live listener over recordings: the same VAD cuts and the same verdicts as
on stage. These use a real Listener (energy VAD, endpointer, resolver, safety gate) with
an ASR stand-in that 'hears' a fixed sentence in loud audio, so they need no model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from djtui.core.config import Config
from djtui.core.context_file import parse_context
from djtui.core.errors import DjtuiError
from djtui.core.listener import Listener
from djtui.core.noise import NoiseBank
from djtui.evaluation.labels import Label
from djtui.evaluation.trials import conditions_for, hear, run_negatives, run_trials, trial_rng
from tests.fixtures.contexts import TWO_DECKS
from tests.fixtures.models import LoudnessEngine

CONTEXT = parse_context(TWO_DECKS)


def _listener(said: str = "play deck one") -> Listener:
    config = Config().updated({"vad": {"engine": "energy"}, "resolver": {"semantic_weight": 0.0}})
    return Listener(config, context=CONTEXT, engine=LoudnessEngine(said), dry_run=True, session_log=False, act=False)


def _burst(seconds: float = 1.0, amplitude: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * 16000)) / 16000
    return (amplitude * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def _silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * 16000), np.float32)


def test_hear_cuts_a_recording_as_the_live_endpointer_does() -> None:
    listener = _listener()
    audio = np.concatenate([_silence(1.0), _burst(), _silence(1.0), _burst(), _silence(0.1)])
    outcomes = hear(listener, audio)
    assert len(outcomes) == 2  # two commands; the second closed at the end of the recording
    assert 0.9 < outcomes[0].speech_s[0] < outcomes[1].speech_s[0]
    assert [o.verdict.reason for o in outcomes] == ["accepted", "accepted"]
    assert not any(o.sent for o in outcomes)  # evaluation judges what was said and sends nothing
    assert [o.number for o in hear(listener, audio)] == [3, 4]  # the listener carries on; its cut starts afresh


def test_run_trials_and_negatives_on_audio_files(tmp_path: Path) -> None:
    sf.write(tmp_path / "cmd.wav", np.concatenate([_silence(0.5), _burst(), _silence(0.5)]), 16000)
    sf.write(tmp_path / "quiet.wav", np.concatenate([_silence(0.5), _burst(amplitude=0.01), _silence(0.5)]), 16000)
    noise = tmp_path / "noise.wav"
    sf.write(noise, np.random.default_rng(0).normal(0, 0.3, 16000 * 4).astype(np.float32), 16000)
    labels = [Label(tmp_path / "cmd.wav", "play", {"deck": "1"}), Label(tmp_path / "quiet.wav", None)]
    seen = []
    trials = run_trials(_listener(), labels, conditions_for([-10]), NoiseBank([noise]), on_trial=seen.append)
    assert [(t.file, t.condition, t.outcome, t.reason) for t in trials] == [
        ("cmd.wav", "clean", "understood", "accepted"), ("cmd.wav", "-10", "understood", "accepted"),
        ("quiet.wav", "clean", "correct reject", "no_speech"),  # the energy VAD heard nothing
        ("quiet.wav", "-10", "correct reject", "out_of_grammar"),  # noise was heard, but no words in it
    ]
    assert seen == trials
    assert trials[0].best == ("play", {"deck": "1"}) and trials[0].latency_ms > 0

    negatives = run_negatives(_listener(), [noise], "windows")
    assert negatives.utterances == 2 and len(negatives.false_accepts) == 2
    assert negatives.per_hour == pytest.approx(2 / (4 / 3600))
    with pytest.raises(DjtuiError, match="need noise"):
        run_trials(_listener(), labels, ["clean", "6"])


def test_a_wrong_command_that_fires_makes_the_trial_misunderstood(tmp_path: Path) -> None:
    sf.write(tmp_path / "cmd.wav", np.concatenate([_silence(0.5), _burst(), _silence(0.5)]), 16000)
    trial, = run_trials(_listener("stop deck two"), [Label(tmp_path / "cmd.wav", "play", {"deck": "1"})], ["clean"])
    assert trial.outcome == "misunderstood" and (trial.intent, trial.slots) == ("stop", {"deck": "2"})


def test_the_same_file_and_condition_get_the_same_noise_in_every_run() -> None:
    a = trial_rng(0, "a.flac", "6").integers(0, 1 << 30)
    assert a == trial_rng(0, "a.flac", "6").integers(0, 1 << 30)
    assert a != trial_rng(0, "a.flac", "9").integers(0, 1 << 30)
    assert a != trial_rng(1, "a.flac", "6").integers(0, 1 << 30)
