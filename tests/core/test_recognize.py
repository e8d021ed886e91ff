"""The Recognizer: spoken audio in, the commands it means out, every stage timed."""

from __future__ import annotations

import numpy as np
import pytest

from djtui.core.asr import Wav2Vec2Engine
from djtui.core.context import default_context
from djtui.core.recognize import Recognizer, Understanding
from djtui.core.rescore import Rescorer
from djtui.core.resolve import Resolver


@pytest.fixture(scope="module")
def resolver() -> Resolver:
    return Resolver(default_context(), semantic_weight=0.0)


@pytest.mark.parametrize("spoken, intent, slots", [
    ("play deck two", "play", {"deck": "2"}),
    ("pause the left deck", "pause", {"deck": "1"}),
    ("sync deck two", "sync", {"deck": "2"}),
])
def test_spoken_command_is_understood(whisper_engine, resolver, speak, spoken, intent, slots):
    recognizer = Recognizer(whisper_engine, resolver, Rescorer(whisper_engine))
    understanding = recognizer.understand(speak(spoken))
    assert isinstance(understanding, Understanding)
    assert understanding.transcript == understanding.asr.text
    best = understanding.best
    assert (best.intent, best.slots) == (intent, slots), [(c.label(), round(c.score, 3)) for c in understanding.candidates]
    assert 1 <= len(understanding.candidates) <= 5
    assert [c.score for c in understanding.candidates] == sorted((c.score for c in understanding.candidates), reverse=True)
    assert "acoustic" in best.evidence
    assert set(understanding.timings) == {"asr", "resolve", "rescore"}
    assert all(ms >= 0 for ms in understanding.timings.values()) and understanding.timings["asr"] > 0


def test_without_a_rescorer_the_resolver_decides(whisper_engine, resolver, speak):
    understanding = Recognizer(whisper_engine, resolver).understand(speak("play left"))
    assert understanding.best.key() == ("play", (("deck", "1"),))
    assert "acoustic" not in understanding.best.evidence
    assert understanding.timings["rescore"] == 0.0


def test_silence_means_no_command(whisper_engine, resolver):
    understanding = Recognizer(whisper_engine, resolver, Rescorer(whisper_engine)).understand(np.zeros(16000, np.float32))
    assert all(c.score < 0.6 for c in understanding.candidates)


def test_wav2vec2_folder_runs_the_whole_path(tiny_wav2vec2, resolver, speak):
    # random weights: the transcript is noise, but every stage must run and be timed
    engine = Wav2Vec2Engine(tiny_wav2vec2)
    understanding = Recognizer(engine, resolver, Rescorer(engine)).understand(speak("play deck one"))
    assert understanding.asr.logprobs is not None
    assert len(understanding.candidates) <= 5
    assert set(understanding.timings) == {"asr", "resolve", "rescore"}
