"""Decide from the audio against the whole grammar: Whisper's decoder, constrained.

A free transcript is one lossy guess; when it is garbled ("Heartbeke B" for "pause deck
four"), looking for the command in its text comes too late. Here the decoder itself is
only allowed to write sentences of the context, token by token, so the audio chooses
among every sentence the grammar can make — millions for coffee_maker — without any of
them being listed.

- :class:`WordGraph`: the context compiled into a word automaton (intents ×
  expressions × slot phrases). A slot phrase's last word carries its ``(slot, value)``;
  an expression's end carries its intent. Its size is that of the context file, not of
  the sentences it makes.
- Its determinised states (sets of automaton states, built lazily as the search reaches
  them) say which words may come next.
- :class:`GrammarSearch`: a beam search over Whisper's tokens. Each word may be written
  the ways Whisper writes it — with a leading space, lower case, Capitalised, UPPER
  for short words, and numbers as digits ("eight" or "8", "thirty two" or "32") —
  commas may fall between words and ``.``, ``?`` or ``!`` end a sentence. Each step
  asks the decoder (:mod:`djtui.core.whisper_decoder`) for the next-token
  log-probabilities of every live prefix at once.

A path's score is its log-probability plus ``token_bonus`` per token. Without the bonus,
noise favours stopping early: Whisper would rather end "… single shot mocha" than hear
"with whole milk" in a kitchen at 6 dB, and every word costs probability. One nat per
token (chosen on coffee-dev at 6 dB: top-1 88 % → 96 %) lets longer sentences compete.
The paths' plain log-probabilities are kept for the confidence (:mod:`djtui.core.recognize`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from djtui.core.grammar import Seq, Slot, Word

if TYPE_CHECKING:
    from djtui.core.context import Context
    from djtui.core.whisper_decoder import WhisperDecoder

Label = tuple[str, str]
"""``(slot name, canonical value)`` read off a slot phrase's last word."""


# --------------------------------------------------------------------------- the automaton


@dataclass
class WordGraph:
    """States are numbers. ``arcs[s]``: ``(word, label or None, target)``; ``skips[s]``:
    targets reached without a word (a choice, an optional part); ``finals``: state →
    intent for the states where a sentence of an expression ends."""

    arcs: list[list[tuple[str, Label | None, int]]] = field(default_factory=list)
    skips: list[list[int]] = field(default_factory=list)
    finals: dict[int, str] = field(default_factory=dict)
    start: int = 0

    def add_state(self) -> int:
        self.arcs.append([])
        self.skips.append([])
        return len(self.arcs) - 1

    @property
    def size(self) -> int:
        return len(self.arcs)

    @classmethod
    def compile(cls, context: Context) -> WordGraph:
        graph = cls()
        graph.start = graph.add_state()
        for name, intent in context.intents.items():
            for expression in intent.expressions:
                first = graph.add_state()
                graph.skips[graph.start].append(first)
                last = graph._sequence(expression, first, context)
                end = graph.add_state()
                graph.skips[last].append(end)
                graph.finals[end] = name
        return graph

    def meanings(self, words: Iterable[str]) -> set[tuple[str, tuple[Label, ...]]]:
        """What the sentence ``words`` means in the grammar: ``(intent, labels)`` for every
        way it can be read (empty when it is not a sentence of the grammar)."""
        def closure(front: set[tuple[int, tuple[Label, ...]]]) -> set[tuple[int, tuple[Label, ...]]]:
            stack, seen = list(front), set(front)
            while stack:
                state, labels = stack.pop()
                for target in self.skips[state]:
                    if (target, labels) not in seen:
                        seen.add((target, labels))
                        stack.append((target, labels))
            return seen

        front = closure({(self.start, ())})
        for word in words:
            front = closure({(target, labels + ((label,) if label else ()))
                             for state, labels in front for arc, label, target in self.arcs[state] if arc == word})
        return {(self.finals[state], tuple(sorted(labels))) for state, labels in front if state in self.finals}

    def _sequence(self, seq: Seq, state: int, context: Context) -> int:
        for item in seq.items:
            if isinstance(item, Word):
                after = self.add_state()
                self.arcs[state].append((item.text, None, after))
                state = after
            elif isinstance(item, Slot):
                after = self.add_state()
                for phrase, value in context.slot_types[item.type].phrases():
                    words = phrase.split()
                    here = state
                    for n, word in enumerate(words):
                        last = n == len(words) - 1
                        there = after if last else self.add_state()
                        self.arcs[here].append((word, (item.name, value) if last else None, there))
                        here = there
                state = after
            else:
                after = self.add_state()
                for option in item.options:
                    begin = self.add_state()
                    self.skips[state].append(begin)
                    self.skips[self._sequence(option, begin, context)].append(after)
                if item.optional:
                    self.skips[state].append(after)
                state = after
        return state


class Determinised:
    """The word graph seen one set of states at a time: :meth:`next_words` from a set,
    each word leading to new sets (one per label, so a slot value is never lost), and
    the intents a set can end as. Sets are numbered as they are first reached."""

    def __init__(self, graph: WordGraph) -> None:
        self.graph = graph
        self._ids: dict[frozenset[int], int] = {}
        self._sets: list[frozenset[int]] = []
        self._moves: dict[int, dict[str, list[tuple[Label | None, int]]]] = {}
        self._intents: dict[int, tuple[str, ...]] = {}
        self._more: dict[tuple[int, str], bool] = {}
        self.start = self._intern(self._closure([graph.start]))

    def _closure(self, states: Iterable[int]) -> frozenset[int]:
        seen = set(states)
        stack = list(seen)
        while stack:
            for target in self.graph.skips[stack.pop()]:
                if target not in seen:
                    seen.add(target)
                    stack.append(target)
        return frozenset(seen)

    def _intern(self, states: frozenset[int]) -> int:
        number = self._ids.get(states)
        if number is None:
            number = self._ids[states] = len(self._sets)
            self._sets.append(states)
        return number

    def next_words(self, state: int) -> dict[str, list[tuple[Label | None, int]]]:
        moves = self._moves.get(state)
        if moves is None:
            targets: dict[tuple[str, Label | None], list[int]] = {}
            for s in self._sets[state]:
                for word, label, target in self.graph.arcs[s]:
                    targets.setdefault((word, label), []).append(target)
            moves = {}
            for (word, label), reached in targets.items():
                moves.setdefault(word, []).append((label, self._intern(self._closure(reached))))
            self._moves[state] = moves
        return moves

    def intents(self, state: int) -> tuple[str, ...]:
        """The intents a sentence ending in ``state`` means (usually none or one)."""
        found = self._intents.get(state)
        if found is None:
            found = self._intents[state] = tuple(sorted({self.graph.finals[s] for s in self._sets[state]
                                                         if s in self.graph.finals}))
        return found

    def could_mean_more(self, state: int, intent: str, depth: int = 12) -> bool:
        """Whether a longer sentence through ``state`` could mean something else than
        ``intent`` with the slots read so far: more words that fill a slot or end as another
        intent ("loop" said, "loop eight" meant). Optional words that change nothing ("play
        deck one" + "deck") don't count. Looks ``depth`` words ahead."""
        key = (state, intent)
        found = self._more.get(key)
        if found is None:
            found = False
            frontier, seen = [state], {state}
            for _ in range(depth):
                following = []
                for here in frontier:
                    for moves in self.next_words(here).values():
                        for label, there in moves:
                            if label is not None or any(i != intent for i in self.intents(there)):
                                found = True
                                break
                            if there not in seen:
                                seen.add(there)
                                following.append(there)
                        if found:
                            break
                    if found:
                        break
                if found or not following:
                    break
                frontier = following
            self._more[key] = found
        return found

    @property
    def states_seen(self) -> int:
        return len(self._sets)


# --------------------------------------------------------------------------- Whisper's spelling

_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
         "sixteen seventeen eighteen nineteen").split()
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
_FRACTIONS = {("a", "quarter"): "1/4", ("one", "quarter"): "1/4", ("a", "half"): "1/2", ("one", "half"): "1/2"}


def number_spelling(words: tuple[str, ...]) -> str | None:
    """Digits for a number said in words (``("thirty", "two")`` -> ``"32"``,
    ``("a", "quarter")`` -> ``"1/4"``); ``None`` if the words are not one number."""
    if words in _FRACTIONS:
        return _FRACTIONS[words]
    if len(words) == 1 and words[0] in _ONES:
        return str(_ONES.index(words[0]))
    if len(words) == 1 and words[0] in _TENS:
        return str(_TENS[words[0]])
    if len(words) == 2 and words[0] in _TENS and words[1] in _ONES[1:10]:
        return str(_TENS[words[0]] + _ONES.index(words[1]))
    return None


def spellings(word: str) -> list[str]:
    """How Whisper may write one word of the grammar: as it is, Capitalised (sentence
    start, "I"), in capitals when short ("EQ", "FX", "A"), and as digits when a number."""
    out = [word, word[:1].upper() + word[1:]]
    if len(word) <= 3 and word.isalpha():
        out.append(word.upper())
    if (digits := number_spelling((word,))) is not None:
        out.append(digits)
    return list(dict.fromkeys(out))


# --------------------------------------------------------------------------- the search


@dataclass(frozen=True)
class _Parse:
    """Where one reading of a token path stands in the grammar: the determinised
    ``state``, the ``labels`` read so far, the ``pending`` tokens of a word begun, the
    ``then`` moves once it is done, ``ended`` (after end punctuation) and ``comma``."""

    state: int
    labels: tuple[Label, ...]
    pending: tuple[int, ...] = ()
    then: tuple[tuple[Label | None, int], ...] = ()
    ended: bool = False
    comma: bool = False
    """A comma was just written: a word must come next."""


@dataclass(frozen=True)
class Reading:
    """A complete in-grammar path: its ``tokens``, their summed ``logprob`` (end of text
    included), and what it means, ``intents`` × ``slots`` (several only when the same
    words mean different commands)."""

    tokens: tuple[int, ...]
    logprob: float
    meanings: tuple[tuple[str, tuple[Label, ...]], ...]
    could_mean_more: bool = False
    """A longer sentence of the grammar would mean something else: the DJ may not be done."""

    @property
    def per_token(self) -> float:
        return self.logprob / (len(self.tokens) + 1)


@dataclass(frozen=True)
class SearchResult:
    readings: list[Reading]
    """Complete paths, best (by score with the token bonus) first."""
    steps: int
    """Decoder steps taken."""


class GrammarSearch:
    """``GrammarSearch(context, tokenizer, decoder).search(cross, prompt)``. ``beam``
    prefixes are kept per step; ``token_bonus`` is added per token (see the module);
    ``max_tokens`` bounds a sentence; ``max_parses`` bounds the readings one prefix
    carries (ambiguity can only grow so far)."""

    def __init__(self, context: Context, tokenizer: Any, decoder: WhisperDecoder, beam: int = 8,
                 token_bonus: float = 1.0, max_tokens: int = 48, max_parses: int = 64) -> None:
        self.graph = WordGraph.compile(context)
        self.states = Determinised(self.graph)
        self.tokenizer = tokenizer
        self.decoder = decoder
        self.beam = beam
        self.token_bonus = token_bonus
        self.max_tokens = max_tokens
        self.max_parses = max_parses
        self.end_of_text = int(tokenizer.eot)
        self._stops = tuple(self._token(p) for p in (".", "?", "!"))
        self._comma = self._token(",")
        self._punctuation = frozenset((*self._stops, self._comma))
        self._spelled: dict[str, tuple[tuple[int, ...], ...]] = {}

    def _token(self, text: str) -> int:
        tokens = self.tokenizer.encode(text)
        assert len(tokens) == 1, text
        return int(tokens[0])

    def word_tokens(self, word: str) -> tuple[tuple[int, ...], ...]:
        """The token sequences of every spelling of ``word`` (with its leading space)."""
        found = self._spelled.get(word)
        if found is None:
            found = self._spelled[word] = tuple(dict.fromkeys(
                tuple(self.tokenizer.encode(" " + spelled)) for spelled in spellings(word)))
        return found

    def _continuations(self, parse: _Parse) -> dict[int, list[_Parse]]:
        """Next token -> the parses it leads to (the end of text leads to finished ones)."""
        if parse.pending:
            return {parse.pending[0]: [_Parse(parse.state, parse.labels, parse.pending[1:], parse.then)]}
        if parse.then:  # a word just ended: move on in the grammar
            out: dict[int, list[_Parse]] = {}
            for label, state in parse.then:
                moved = _Parse(state, parse.labels + ((label,) if label else ()))
                for token, parses in self._continuations(moved).items():
                    out.setdefault(token, []).extend(parses)
            return out
        if parse.ended:
            return {self.end_of_text: [parse]}
        out = {}
        for word, moves in self.states.next_words(parse.state).items():
            for tokens in self.word_tokens(word):
                out.setdefault(tokens[0], []).append(_Parse(parse.state, parse.labels, tokens[1:], tuple(moves)))
        if parse.comma:  # "…, " then a word, nothing else
            return out
        if self.states.intents(parse.state):
            out.setdefault(self.end_of_text, []).append(parse)
            for stop in self._stops:
                out.setdefault(stop, []).append(_Parse(parse.state, parse.labels, ended=True))
        if parse.state != self.states.start:  # "Can I get a large, dark roast …"
            out.setdefault(self._comma, []).append(_Parse(parse.state, parse.labels, comma=True))
        return out

    def search(self, cross: Any, prompt: list[int], max_tokens: int | None = None) -> SearchResult:
        """The best complete paths through the grammar for the audio behind ``cross``
        (:meth:`WhisperDecoder.cross`), decoded after ``prompt``; at most ``max_tokens``
        (default: the search's own bound) tokens a path."""
        decoder = self.decoder
        logprobs, state = decoder.start(prompt, cross)
        rows = logprobs[None, :]
        # a live prefix: (score with bonus, log-probability, tokens, parses)
        live: list[tuple[float, float, tuple[int, ...], list[_Parse]]] = [(0.0, 0.0, (), [_Parse(self.states.start, ())])]
        finished: list[tuple[float, Reading]] = []
        steps = 0
        limit = min(max_tokens or self.max_tokens, self.max_tokens, decoder.max_length - len(prompt) - 1)
        for _ in range(limit):
            # the best way to each distinct place in the grammar: two spellings of the same
            # words (" Cue", " cue") lead to the same parses and would crowd the beam
            grown: dict[frozenset[_Parse], tuple[float, float, int, int, list[_Parse]]] = {}
            for row, (score, logprob, tokens, parses) in enumerate(live):
                branches: dict[int, list[_Parse]] = {}
                for parse in parses:
                    for token, after in self._continuations(parse).items():
                        branches.setdefault(token, []).extend(after)
                for token, after in branches.items():
                    p = float(rows[row, token])
                    if token == self.end_of_text:
                        meanings = {(intent, tuple(sorted(p_.labels))) for p_ in after for intent in self.states.intents(p_.state)}
                        more = any(self.states.could_mean_more(p_.state, intent)
                                   for p_ in after for intent in self.states.intents(p_.state))
                        finished.append((score + p, Reading(tokens, logprob + p, tuple(sorted(meanings)), more)))
                        continue
                    unique = list(dict.fromkeys(after))[: self.max_parses]
                    bonus = 0.0 if token in self._punctuation else self.token_bonus  # words, not commas, earn it
                    key = frozenset(unique)
                    if key not in grown or grown[key][0] < score + p + bonus:
                        grown[key] = (score + p + bonus, logprob + p, row, token, unique)
            kept = sorted(grown.values(), key=lambda g: -g[0])[: self.beam]
            best_finished = max((f[0] for f in finished), default=-math.inf)
            if not kept or kept[0][0] + self.token_bonus * (limit - steps) < best_finished:
                break
            state = state.select([g[2] for g in kept])
            rows, state = decoder.step([g[3] for g in kept], state, cross)
            steps += 1
            live = [(g[0], g[1], live[g[2]][2] + (g[3],), g[4]) for g in kept]
        finished.sort(key=lambda f: -f[0])
        return SearchResult([reading for _, reading in finished], steps)

    def text(self, tokens: Iterable[int]) -> str:
        return self.tokenizer.decode(list(tokens)).strip()


def commands(readings: list[Reading]) -> list[tuple[str, dict[str, str], Reading]]:
    """Each distinct command the readings mean, with its best reading, best first."""
    seen: dict[tuple[str, tuple[Label, ...]], Reading] = {}
    for reading in readings:
        for intent, labels in reading.meanings:
            key = (intent, tuple(sorted(labels)))
            if key not in seen:
                seen[key] = reading
    return [(intent, dict(labels), reading) for (intent, labels), reading in seen.items()]


def log_sum(values: Iterable[float]) -> float:
    values = list(values)
    if not values:
        return -math.inf
    top = max(values)
    return top + math.log(sum(math.exp(v - top) for v in values))

