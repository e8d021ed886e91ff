"""Acoustic rescoring: CTC likelihoods are exact, the audio overturns a misleading
transcript, and Whisper prefers the sentence that was actually spoken."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from djtui.core.asr import Wav2Vec2Engine
from djtui.core.context import Sentence
from djtui.core.context_file import default_context
from djtui.core.records import AsrResult, Candidate
from djtui.core.rescore import Rescorer, ctc_labels, ctc_log_likelihoods, grammar_alternatives

VOCAB = {"<pad>": 0, "|": 1, "A": 2, "B": 3}


def test_ctc_labels_follow_the_vocabulary():
    vocab = {c: i for i, c in enumerate(["<pad>", "|", *"ACDEKLNOPY", "'"])}
    assert ctc_labels("play  deck one", vocab) == [vocab[c] for c in "PLAY|DECK|ONE"]
    # characters the vocabulary lacks are dropped; a word made only of them vanishes
    assert ctc_labels("play 1 deck!", vocab) == [vocab[c] for c in "PLAY|DECK"]
    lower = {c.lower() if len(c) == 1 else c: i for c, i in vocab.items()}
    assert ctc_labels("Play Deck", lower, upper_case=False) == [lower[c] for c in "play|deck"]


def brute_force_ctc(logprobs: np.ndarray, labels: list[int], blank: int = 0) -> float:
    """Sum over every frame path that collapses to ``labels``."""
    total = -np.inf
    for path in itertools.product(range(logprobs.shape[1]), repeat=logprobs.shape[0]):
        collapsed = [t for n, t in enumerate(path) if t != blank and (n == 0 or t != path[n - 1])]
        if collapsed == labels:
            total = np.logaddexp(total, sum(logprobs[n, t] for n, t in enumerate(path)))
    return total


def test_ctc_log_likelihoods_equal_the_sum_over_alignments():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(5, 4))
    logprobs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    labels = [[2], [2, 3], [2, 2], [3, 1, 2], [2, 3, 2, 3, 2, 3], []]
    got = ctc_log_likelihoods(logprobs, labels, blank=0)
    for seq, value in zip(labels[:4], got[:4]):
        assert value == pytest.approx(brute_force_ctc(logprobs, seq), abs=1e-4)
    assert got[4] == -np.inf  # six labels cannot fit in five frames
    assert got[5] == -np.inf


def frames_for(text: str, vocab: dict[str, int], confidence: float = 0.9, blanks: int = 2) -> np.ndarray:
    """Synthetic CTC output that says ``text``: each character for a frame, blanks between."""
    path = []
    for ch in text.upper().replace(" ", "|"):
        path += [vocab[ch]] + [0] * blanks
    probs = np.full((len(path), len(vocab)), (1 - confidence) / (len(vocab) - 1))
    probs[np.arange(len(path)), path] = confidence
    return np.log(probs)


@pytest.fixture(scope="module")
def ctc_engine(tiny_wav2vec2):
    return Wav2Vec2Engine(tiny_wav2vec2, quantize=False)


def ctc_result(engine: Wav2Vec2Engine, spoken: str, transcript: str) -> AsrResult:
    return AsrResult(transcript, frames_for(spoken, engine.vocab), "wav2vec2", "tiny", 0.01)


def test_ctc_rescoring_follows_the_audio_over_a_misleading_transcript(ctc_engine):
    result = ctc_result(ctc_engine, "pause deck two", "play deck two")
    candidates = [
        Candidate("play", {"deck": "2"}, 0.62, "play deck two", {"phonetic": 0.9}),
        Candidate("pause", {"deck": "2"}, 0.41, "pause deck two"),
        Candidate("pause", {"deck": "1"}, 0.20, "pause deck one"),
    ]
    rescored = Rescorer(ctc_engine).rescore(result, candidates)
    assert [c.key() for c in rescored][0] == ("pause", (("deck", "2"),))
    best, runner_up = rescored[0], rescored[1]
    assert best.score > runner_up.score and 0 < best.score <= 1
    assert best.evidence["acoustic"] > runner_up.evidence["acoustic"]
    assert best.evidence["text"] == 0.41
    play = next(c for c in rescored if c.intent == "play")
    assert play.evidence["phonetic"] == 0.9  # the resolver's evidence is kept
    assert candidates[1].score == 0.41 and "acoustic" not in candidates[1].evidence  # inputs untouched


def test_grammar_alternatives_let_the_audio_find_what_the_transcript_missed(ctc_engine):
    # "play left" heard as "hey laughed": the resolver proposes the wrong things.
    result = ctc_result(ctc_engine, "play left", "hey laughed")
    candidates = [Candidate("pause", {"deck": "1"}, 0.3, "pause left"), Candidate("cue", {"deck": "1"}, 0.25, "cue left")]
    extra = [Sentence("play left", "play", {"deck": "1"}), Sentence("play right", "play", {"deck": "2"})]
    rescored = Rescorer(ctc_engine).rescore(result, candidates, extra)
    assert rescored[0].key() == ("play", (("deck", "1"),))
    assert rescored[0].sentence == "play left"
    assert rescored[0].evidence["acoustic_fit"] == pytest.approx(1.0)


def test_a_commands_best_phrasing_counts(ctc_engine):
    result = ctc_result(ctc_engine, "play deck one", "play deck one")
    candidates = [Candidate("play", {"deck": "1"}, 0.5, "play left"), Candidate("play", {"deck": "2"}, 0.5, "play deck two")]
    extra = [Sentence("play deck one", "play", {"deck": "1"})]
    rescored = Rescorer(ctc_engine).rescore(result, candidates, extra)
    assert len(rescored) == 2
    assert rescored[0].key() == ("play", (("deck", "1"),)) and rescored[0].sentence == "play deck one"


def test_speech_outside_the_grammar_keeps_confidence_low(ctc_engine):
    result = ctc_result(ctc_engine, "aaa bbb", "aaa bbb")
    candidates = [Candidate("play", {"deck": "1"}, 0.1, "play deck one"), Candidate("sync", {"deck": "1"}, 0.05, "sync deck one")]
    rescored = Rescorer(ctc_engine).rescore(result, candidates)
    # well under the safety layer's min_confidence (0.6), though one of two must win the posterior
    assert all(c.score < 0.3 and c.evidence["acoustic_fit"] < 0.05 for c in rescored)


def test_rescoring_returns_at_most_k(ctc_engine):
    result = ctc_result(ctc_engine, "play deck one", "play deck one")
    context = default_context()
    candidates = [Candidate("play", {"deck": "1"}, 0.9, "play deck one")]
    extra = grammar_alternatives(context, candidates, limit=12)
    assert len(Rescorer(ctc_engine).rescore(result, candidates, extra, k=5)) == 5
    assert Rescorer(ctc_engine).rescore(result, []) == []


def test_grammar_alternatives_are_near_neighbours():
    context = default_context()
    candidates = [Candidate("play", {"deck": "1"}, 0.8, "play deck one")]
    alternatives = grammar_alternatives(context, candidates, limit=50)
    keys = [(s.intent, s.slots) for s in alternatives]
    assert ("play", {"deck": "1"}) not in keys
    assert keys[:3] == [("play", {"deck": "2"}), ("play", {"deck": "3"}), ("play", {"deck": "4"})]
    assert ("pause", {"deck": "1"}) in keys and ("sync", {"deck": "1"}) in keys
    assert all(s.text == context.render(s.intent, s.slots) for s in alternatives)
    assert len(grammar_alternatives(context, candidates, limit=4)) == 4


CONFUSABLE = ["play deck one", "play deck two", "pause deck one", "pause deck two", "cue deck two",
              "sync deck two", "stop deck three", "play deck three"]


@pytest.mark.parametrize("spoken", ["play deck one", "pause deck two", "sync deck two", "stop deck three"])
def test_whisper_scores_the_spoken_sentence_highest(whisper_engine, speak, spoken):
    result = whisper_engine.transcribe(speak(spoken))
    scores = Rescorer(whisper_engine).acoustic_scores(result, CONFUSABLE)
    assert CONFUSABLE[int(np.argmax(scores))] == spoken, (result.text, dict(zip(CONFUSABLE, scores.round(2))))


def test_whisper_rescoring_turns_a_misheard_deck_into_the_right_command(whisper_engine, speak):
    result = whisper_engine.transcribe(speak("play deck two"))
    # what a text-only resolver makes of "Playback 2.": play, but the deck is unclear
    candidates = [Candidate("play", {"deck": "2"}, 0.4, "play deck two"), Candidate("play", {"deck": "1"}, 0.45, "play deck one"),
                  Candidate("cue", {"deck": "2"}, 0.3, "back to cue deck two")]
    rescored = Rescorer(whisper_engine).rescore(result, candidates)
    assert rescored[0].key() == ("play", (("deck", "2"),)), [(c.label(), round(c.score, 3)) for c in rescored]
