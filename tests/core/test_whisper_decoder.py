"""Whisper's decoder in torch agrees with CTranslate2's on the same model and audio, and
its cache gives the same numbers as decoding from scratch. (The int8 decoder quantises
each batch's activations as a whole, so its numbers move by ~0.1 nats with what else is
in the batch; exact agreement is checked in float32.)"""

from __future__ import annotations

import numpy as np
import pytest

from djtui.core.whisper_decoder import WhisperDecoder


@pytest.fixture(scope="module")
def decoder(whisper_engine) -> WhisperDecoder:
    return WhisperDecoder.from_folder(whisper_engine.model_dir)


@pytest.fixture(scope="module")
def exact(whisper_engine) -> WhisperDecoder:
    from djtui.core.ct2 import MODEL_BIN, float_weights, read_model_bin

    return WhisperDecoder(float_weights(read_model_bin(whisper_engine.model_dir / MODEL_BIN)), quantize=False)


@pytest.fixture(scope="module")
def heard(whisper_engine, speak):
    result = whisper_engine.transcribe(speak("loop eight on the left deck"))
    return result, np.asarray(result.encoding.output)[:, : result.encoding.frames // 2 + 50]


def test_it_scores_what_ctranslate2_scores(whisper_engine, decoder, heard):
    result, encoded = heard
    prompt = whisper_engine.prompt
    tokens = list(result.tokens)
    assert tokens, "Whisper heard nothing"
    ours = decoder.score(prompt, [tokens], decoder.cross(encoded))[0]
    generated = whisper_engine.model.generate(result.encoding.output, [prompt + tokens], beam_size=1,
                                              max_length=len(prompt) + len(tokens) + 1, return_logits_vocab=True)[0]
    rows = np.stack([np.asarray(row, dtype=np.float32) for row in generated.logits[0]])[: len(tokens) - 1]
    theirs = rows - rows.max(1, keepdims=True)
    theirs -= np.log(np.exp(theirs).sum(1, keepdims=True))
    # row j: CTranslate2's distribution of the j-th token after the prompt (int8 weights)
    n = len(rows)
    theirs_picked = theirs[np.arange(n), tokens[:n]]
    assert n >= 3 and np.max(np.abs(ours[:n] - theirs_picked)) < 0.3


def test_the_cache_gives_what_decoding_from_scratch_gives(whisper_engine, exact, heard):
    decoder = exact
    result, encoded = heard
    cross = decoder.cross(encoded)
    prompt, tokens = whisper_engine.prompt, list(result.tokens)[:4]
    logprobs, state = decoder.start(prompt, cross)
    stepwise = [logprobs[tokens[0]]]
    for previous, token in zip(tokens, tokens[1:]):
        rows, state = decoder.step([previous, previous], state.select([0, 0]), cross)  # a prefix that branches
        assert np.allclose(rows[0], rows[1])
        state = state.select([0])
        stepwise.append(rows[0][token])
    assert np.allclose(stepwise, decoder.score(prompt, [tokens], cross)[0], atol=1e-3)


def test_sentences_of_different_lengths_score_in_one_batch(whisper_engine, exact, decoder, heard):
    _, encoded = heard
    short = whisper_engine.tokenizer.encode(" Loop 8.")
    long = whisper_engine.tokenizer.encode(" Loop 8 on the left deck.")
    cross = exact.cross(encoded)
    together = exact.score(whisper_engine.prompt, [short, long], cross)
    alone = [exact.score(whisper_engine.prompt, [s], cross)[0] for s in (short, long)]
    for a, b in zip(together, alone):
        assert np.allclose(a, b, atol=1e-4)
    int8 = decoder.score(whisper_engine.prompt, [short, long], decoder.cross(encoded))
    differences = np.concatenate([np.abs(a - b) for a, b in zip(int8, together)])
    assert differences.max() < 1.0 and differences.mean() < 0.2
