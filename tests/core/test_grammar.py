import pytest

from djtui.core.grammar import Choice, GrammarError, Seq, Slot, Word, count, parse


def test_words_alternatives_optionals_and_slots():
    seq = parse("[play, start] (the) $deck:deck (deck)")
    assert isinstance(seq.items[0], Choice) and not seq.items[0].optional
    assert [o.items for o in seq.items[0].options] == [(Word("play"),), (Word("start"),)]
    assert seq.items[1].optional
    assert seq.items[2] == Slot("deck", "deck")
    assert seq.slots() == [Slot("deck", "deck")]


def test_slot_without_name_takes_its_type():
    assert parse("$effect").items == (Slot("effect", "effect"),)


def test_nested_choice_with_slots():
    seq = parse("[deck $deck:deck, (the) $deck:deck (deck)]")
    assert [s.name for s in seq.slots()] == ["deck", "deck"]


def test_words_are_lower_cased():
    assert parse("Can I GET").items == (Word("can"), Word("i"), Word("get"))


@pytest.mark.parametrize("text, message", [
    ("[a, , b]", "empty alternative"),
    ("[]", "empty alternative"),
    ("[a, b", "never closed"),
    ("a b]", "unbalanced"),
    ("[a, b)", "closed by"),
    ("a, b", "outside"),
    ("", "empty expression"),
])
def test_malformed_expressions_say_what_is_wrong(text, message):
    with pytest.raises(GrammarError, match=message):
        parse(text)


def test_count_multiplies_choices_and_slots():
    seq = parse("[play, start] (the) $deck:deck")
    assert count(seq, {"deck": 4}) == 2 * 2 * 4
    assert count(Seq((Word("x"),)), {}) == 1


def test_nesting_and_length_are_bounded_with_a_clear_message():
    from djtui.core.grammar import MAX_EXPRESSION_CHARS, MAX_NESTING

    assert parse("[" * MAX_NESTING + "a" + "]" * MAX_NESTING)
    with pytest.raises(GrammarError, match=f"nests brackets deeper than {MAX_NESTING}"):
        parse("[" * (MAX_NESTING + 1) + "a" + "]" * (MAX_NESTING + 1))
    with pytest.raises(GrammarError, match=r"expression too long \(6,001 characters; at most 1,000\)"):
        parse("(" * 3000 + "a" + ")" * 3000)
    assert len(parse("a " * (MAX_EXPRESSION_CHARS // 2)).items) == MAX_EXPRESSION_CHARS // 2
