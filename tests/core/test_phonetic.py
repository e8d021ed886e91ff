from djtui.core import phonetic


def test_normalize_spells_out_what_asr_writes_as_digits():
    assert phonetic.normalize("Loop 8, 1/2 on deck 32!") == "loop eight a half on deck thirty two".split()
    assert phonetic.normalize("the 2nd deck") == ["the", "second", "deck"]
    assert phonetic.normalize("12-ounce latte") == ["twelve", "ounce", "latte"]


def test_sound_alikes_are_closer_than_different_words():
    from rapidfuzz.distance import Levenshtein

    def distance(a, b):
        return Levenshtein.distance(phonetic.code(a.split()), phonetic.code(b.split()))

    assert distance("hey laughed", "play left") < distance("hey laughed", "stop left")
    assert distance("pose right", "pause right") < distance("pose right", "play right")
    assert distance("sink", "sync") == 0


def test_unknown_words_get_a_pronunciation():
    assert phonetic.word_phonemes("djtui")
    assert phonetic.word_phonemes("rekordbox")


def test_boundaries_split_long_words_into_syllables():
    words = ["playback", "two"]
    offsets = phonetic.boundaries(words)
    code = phonetic.code(words)
    assert offsets[0] == 0 and offsets[-1] == len(code)
    assert code[: offsets[1]] == phonetic.code(["play"])  # play | b | ack | two
    assert offsets == [0, 6, 8, 12, 16]  # P L EY | B | AE K | T UW


def test_what_asr_or_a_dj_may_type_is_read_as_said():
    assert phonetic.normalize("the 21st, 3/8 and 1.5") == "the twenty first three eighths and one point five".split()
    assert phonetic.normalize("Beyoncé ＤＪ １２") == ["beyonce", "dj", "twelve"]
    assert phonetic.normalize("12th 33rd") == ["twelfth", "thirty", "third"]


def test_words_without_an_english_reading_are_named_not_turned_into_noise():
    assert phonetic.normalize("play 🎧 東京 deck") == ["play", "deck"]
    assert phonetic.unreadable("play 🎧 東京 deck") == ["🎧", "東京"]
    assert phonetic.unreadable("?! ... -- play, deck 2") == []  # punctuation is meant to go
    assert phonetic.normalize("...?!") == [] and phonetic.code(phonetic.normalize("🎧")) == ""


def test_a_number_of_any_length_is_read_digit_by_digit_without_hanging():
    import time

    started = time.monotonic()
    words = phonetic.normalize("9" * 10_000)
    assert len(words) == 10_000 and set(words) == {"nine"}
    assert time.monotonic() - started < 1.0
    assert phonetic.normalize("2049") == ["two", "zero", "four", "nine"]


def test_cmudict_is_parsed_once_and_then_read_back_from_the_cache(tmp_path, monkeypatch):
    import marshal

    monkeypatch.setenv("DJTUI_CACHE_DIR", str(tmp_path))
    phonetic.pronunciations.cache_clear()
    try:
        table = phonetic.pronunciations()
        assert table["pause"] == "P AO1 Z" and table["read"] == "R EH1 D"  # the first of its readings
        [cached] = tmp_path.glob("cmudict-*.marshal")
        assert marshal.loads(cached.read_bytes()) == table
        cached.write_bytes(b"damaged")
        phonetic.pronunciations.cache_clear()
        assert phonetic.pronunciations() == table  # a damaged cache is parsed again
    finally:
        phonetic.pronunciations.cache_clear()
