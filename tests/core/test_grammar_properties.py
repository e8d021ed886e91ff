"""Any expression text parses to a tree or fails with a GrammarError: never a
RecursionError, never a hang."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from djtui.core.grammar import GrammarError, Seq, count, parse
from tests.fixtures.properties import clear_error_or_result

PIECES = st.sampled_from(["[", "]", "(", ")", ",", " ", "$deck", "$deck:deck", "$", ":", "play", "deck", "🎧"])
EXPRESSIONS = st.one_of(st.text(max_size=300), st.lists(PIECES, max_size=400).map("".join),
                        st.integers(0, 3000).map(lambda n: "[" * n + "a" + "]" * n))


@given(EXPRESSIONS)
def test_an_expression_parses_or_says_what_is_wrong(text: str) -> None:
    seq = clear_error_or_result(lambda: parse(text), megabytes=8, errors=(GrammarError,))
    if isinstance(seq, Seq):
        assert seq.items
        assert count(seq, {"deck": 4}) >= 1  # every walk over the tree is safe
        seq.slots()
