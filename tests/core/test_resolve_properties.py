"""Any transcript — any text, any length — gives at most k candidates with calibrated
scores, or one TranscriptTooLong, in bounded time and memory; the phoneme tools read any
text without crashing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from djtui.core import phonetic
from djtui.core.context_file import default_context
from djtui.core.resolve import MAX_TRANSCRIPT_WORDS, Resolver, TranscriptTooLong
from tests.fixtures.properties import clear_error_or_result

WORDS = st.sampled_from(["play", "deck", "left", "two", "loop", "8", "1/2", "21st", "🎧", "東京", "...", "é", "x²",
                         "internationalization", "9" * 50, "-", "&", "hey", "laughed"])
TRANSCRIPTS = st.one_of(st.text(max_size=120), st.lists(WORDS, max_size=MAX_TRANSCRIPT_WORDS + 5).map(" ".join),
                        st.text(min_size=390, max_size=420))


@pytest.fixture(scope="module")
def dj() -> Resolver:
    return Resolver(default_context(), semantic_weight=0.0)


@given(TRANSCRIPTS)
def test_any_transcript_is_candidates_or_too_long(dj: Resolver, text: str) -> None:
    result = clear_error_or_result(lambda: dj.resolve(text), megabytes=48, errors=(TranscriptTooLong,))
    if isinstance(result, list):
        assert len(result) <= 5
        assert all(0.0 <= c.score <= 1.0 and c.intent in dj.context.intents for c in result)
        assert result or not phonetic.normalize(text)


@given(st.text(max_size=400))
def test_the_phoneme_tools_read_any_text(text: str) -> None:
    words = phonetic.normalize(text)
    assert all(w and w == w.lower() for w in words)
    code = phonetic.code(words)
    assert len(code) % 2 == 0 and phonetic.boundaries(words)[-1] == len(code)
    assert all(piece.strip() for piece in phonetic.unreadable(text))
