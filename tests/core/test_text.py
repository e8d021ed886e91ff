from djtui.core.text import normalize_text


def test_transcripts_compare_as_words() -> None:
    assert normalize_text("Play deck 1, please!") == "play deck 1 please"
    assert normalize_text("  I'd like   a LATTE.") == "i'd like a latte"
    assert normalize_text("Café au lait — très bien") == "café au lait très bien"  # any script's letters stay
    assert normalize_text("...") == ""
