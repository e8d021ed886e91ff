"""Transcript -> the five commands it most likely means.

Two views of the transcript are fused:

- **Grammar and sound** (always): the transcript is aligned against every expression
  of the context at the level of phonemes (:mod:`djtui.core.phonetic`), so "hey laughed"
  lands on "play left" and "pose right" on "pause right". The alignment walks the
  expression tree instead of expanding it: each word run, slot or choice gets a cost
  for covering each span of the transcript's words, and spans are chained with a min-plus
  dynamic programme. Memory and time are bounded by the transcript's length and the
  grammar's size, not by the number of sentences it can make (coffee_maker: 120 million).
- **Meaning** (sentence embeddings): the transcript is embedded
  (:mod:`djtui.core.embedding`: the bundled all-MiniLM-L6-v2, in numpy) and compared,
  through a FAISS index cached on disk, with sample sentences of every intent; this
  carries paraphrases the grammar lacks.

The fused score goes through a fixed logistic curve so that one threshold means the same
in every context: 0.5 is "as likely right as wrong" (see ``_calibrate``).
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from djtui.core import phonetic
from djtui.core.context import Context
from djtui.core.embedding import Embedder, bundled_model, load_embedder
from djtui.core.errors import DjtuiError
from djtui.core.grammar import Seq, Slot, Word
from djtui.core.records import Candidate

INF = 1e9
MAX_TRANSCRIPT_CHARS = 400
MAX_TRANSCRIPT_WORDS = 40
MAX_TRANSCRIPT_STARTS = 64
"""Limits on what one transcript may be (see :func:`check_transcript`). Memory and time
grow with the square and cube of the number of word and syllable starts; 64 keeps one
resolve of the DJ context under ~20 MB and ~0.1 s, and a spoken command (Whisper on a
4 s utterance, ``[vad] max_speech_ms``) stays far below 40 words."""
MAX_GRAMMAR_ALTERNATIVES = 10_000
"""Phrasings the alignment compares each stretch of a transcript against, counted as
:func:`check_grammar_size` does: the DJ context has about 700, coffee_maker 2,300."""
SEMANTIC_SAMPLES_PER_INTENT = 32
SOUNDS_RIGHT = 0.85
"""Phonetic similarity above which sentence embeddings are not consulted: meaning can
only lift a reading above its sound (see ``resolve``), and a garbled transcript this
close to a grammar sentence is never closer to it in meaning. Skipping them keeps the
common case free of a ~10 ms embedding."""


# --- the grammar, compiled for alignment -------------------------------------------------


@dataclass
class _Leaf:
    """Alternatives that each cover a span in one piece: a run of words, a slot's
    phrasings, or a choice between plain phrases."""

    words: list[tuple[str, ...]]
    slots: list[tuple[tuple[str, str], ...]]
    columns: np.ndarray  # index of each alternative's code in the resolver's code table
    optional: bool = False
    index: int = 0  # position among the compiled leaves


@dataclass
class _Chain:
    """Items one after another; ``options`` of a choice are chains too."""

    items: list[Any]  # _Leaf | _Options


@dataclass
class _Options:
    options: list[_Chain]
    optional: bool


@dataclass
class _Parse:
    intent: str
    cost: float
    words: list[str]
    slots: dict[str, str]
    # for slot variants: (slot name, where its words are in ``words``,
    #                     other value -> (extra cost, its words) on the same span)
    alternatives: list[tuple[str, tuple[int, int], dict[str, tuple[float, tuple[str, ...]]]]]


class _Compiler:
    def __init__(self, context: Context) -> None:
        self.context = context
        self.codes: dict[str, int] = {}
        self.cache: dict[Any, Any] = {}
        self.leaves: list[_Leaf] = []

    def column(self, words: tuple[str, ...]) -> int:
        code = phonetic.code(words)
        return self.codes.setdefault(code, len(self.codes))

    def leaf(self, alternatives: list[tuple[tuple[str, ...], tuple[tuple[str, str], ...]]], optional: bool) -> _Leaf:
        key = ("leaf", tuple(alternatives), optional)
        if key not in self.cache:
            self.cache[key] = _Leaf(
                words=[w for w, _ in alternatives],
                slots=[s for _, s in alternatives],
                columns=np.array([self.column(w) for w, _ in alternatives], dtype=np.int64),
                optional=optional,
                index=len(self.leaves),
            )
            self.leaves.append(self.cache[key])
        return self.cache[key]

    def seq(self, seq: Seq) -> _Chain:
        if seq in self.cache:
            return self.cache[seq]
        items: list[Any] = []
        run: list[str] = []
        for item in seq.items:
            if isinstance(item, Word):
                run.extend(phonetic.normalize(item.text))
                continue
            if run:
                items.append(self.leaf([(tuple(run), ())], optional=False))
                run = []
            if isinstance(item, Slot):
                slot_type = self.context.slot_types[item.type]
                items.append(self.leaf(
                    [(tuple(phonetic.normalize(p)), ((item.name, v),)) for p, v in slot_type.phrases()], optional=False))
            elif all(all(isinstance(i, Word) for i in o.items) for o in item.options):
                items.append(self.leaf(
                    [(tuple(w for i in o.items for w in phonetic.normalize(i.text)), ()) for o in item.options],
                    optional=item.optional))
            else:
                items.append(_Options([self.seq(o) for o in item.options], item.optional))
        if run:
            items.append(self.leaf([(tuple(run), ())], optional=False))
        chain = self.cache[seq] = _Chain(items)
        return chain


@dataclass
class _Grammar:
    """The compiled context: expressions as chains, and every leaf alternative's
    phonetic code in one ``table`` (``order``/``offsets`` group its columns by leaf)."""

    patterns: list[tuple[str, _Chain]]
    table: list[str]
    order: np.ndarray
    offsets: np.ndarray
    optional: np.ndarray
    composites: list[_Options]
    steps: np.ndarray
    """patterns x longest chain: the unit id of each item (leaves first, then
    composites, last the identity that pads shorter chains)."""


def _compile(context: Context) -> _Grammar:
    compiler = _Compiler(context)
    patterns = [(name, compiler.seq(expression))
                for name, intent in context.intents.items() for expression in intent.expressions]
    table = [""] * len(compiler.codes)
    for code, i in compiler.codes.items():
        table[i] = code
    order = np.concatenate([leaf.columns for leaf in compiler.leaves])
    offsets = np.cumsum([0, *[len(leaf.columns) for leaf in compiler.leaves[:-1]]])
    optional = np.array([leaf.index for leaf in compiler.leaves if leaf.optional], dtype=np.int64)
    composites: dict[int, tuple[int, _Options]] = {}
    for _, chain in patterns:
        for item in chain.items:
            if isinstance(item, _Options) and id(item) not in composites:
                composites[id(item)] = (len(compiler.leaves) + len(composites), item)
    identity = len(compiler.leaves) + len(composites)
    steps = np.full((len(patterns), max(len(c.items) for _, c in patterns)), identity, dtype=np.int64)
    for row, (_, chain) in enumerate(patterns):
        for col, item in enumerate(chain.items):
            steps[row, col] = item.index if isinstance(item, _Leaf) else composites[id(item)][0]
    return _Grammar(patterns, table, order, offsets, optional, [c for _, c in composites.values()], steps)


class _Alignment:
    """Costs of grammar pieces over the spans of one transcript (between its word and
    syllable boundaries): all leaves at once, composites lazily and memoised."""

    def __init__(self, words: list[str], grammar: _Grammar) -> None:
        from rapidfuzz.distance import Levenshtein
        from rapidfuzz.process import cdist

        self.words = words
        self.code = phonetic.code(words)
        # Spans start and end at word boundaries, and at syllable boundaries inside
        # longer words: ASR merges words ("playback two" for "play deck two").
        starts = phonetic.boundaries(words)
        n = self.n = len(starts)
        self.span_j, self.span_k = np.triu_indices(n)
        queries = [self.code[starts[j]:starts[k]] for j, k in zip(self.span_j, self.span_k)]
        self.distance = cdist(queries, grammar.table, scorer=Levenshtein.distance, dtype=np.int32, workers=1)
        # cost of every leaf over every span: the best of its alternatives
        per_leaf = np.minimum.reduceat(self.distance[:, grammar.order], grammar.offsets, axis=1)
        self.leaves = np.full((len(grammar.offsets), n, n), INF)
        self.leaves[:, self.span_j, self.span_k] = per_leaf.T
        diagonal = np.arange(n)
        self.leaves[grammar.optional[:, None], diagonal[None, :], diagonal[None, :]] = 0.0
        self.memo: dict[int, Any] = {}

    def best_alternative(self, leaf: _Leaf, j: int, k: int) -> int:
        """Which alternative of ``leaf`` covers j..k best; -1 when the leaf is skipped."""
        if leaf.optional and j == k:
            return -1
        return int(self.distance[self._span_index(j, k), leaf.columns].argmin())

    def matrix(self, item: Any) -> np.ndarray:
        if isinstance(item, _Leaf):
            return self.leaves[item.index]
        key = id(item)
        if key not in self.memo:
            if isinstance(item, _Chain):
                m = np.full((self.n, self.n), INF)
                np.fill_diagonal(m, 0.0)
                for sub in item.items:
                    m = _min_plus(m, self.matrix(sub))
            else:
                m = np.minimum.reduce([self.matrix(o) for o in item.options])
                if item.optional:
                    np.fill_diagonal(m, np.minimum(np.diag(m), 0.0))
            self.memo[key] = m
        return self.memo[key]

    def best_per_pattern(self, grammar: _Grammar) -> np.ndarray:
        """Cost of the best path through each expression over the whole transcript:
        one batched min-plus step per position in the expressions."""
        units = np.concatenate([
            self.leaves,
            np.stack([self.matrix(c) for c in grammar.composites]) if grammar.composites else
            np.empty((0, self.n, self.n)),
            np.where(np.eye(self.n, dtype=bool), 0.0, INF)[None],
        ])
        v = np.full((len(grammar.patterns), self.n), INF)
        v[:, 0] = 0.0
        for column in grammar.steps.T:
            v = (v[:, :, None] + units[column]).min(axis=1)
        return v[:, -1]

    def trace(self, chain: _Chain, j: int, k: int, out: _Parse) -> None:
        """Fill ``out`` with the words and slots of the best path of ``chain`` over j..k."""
        vectors = []
        v = np.full(self.n, INF)
        v[j] = 0.0
        for item in chain.items:
            vectors.append(v)
            v = (v[:, None] + self.matrix(item)).min(axis=0)
        cuts = [k]
        for idx in range(len(chain.items) - 1, -1, -1):
            end = cuts[-1]
            total = vectors[idx] + self.matrix(chain.items[idx])[:, end]
            cuts.append(int(total.argmin()))
        cuts.reverse()
        for item, a, b in zip(chain.items, cuts, cuts[1:]):
            self._trace_item(item, a, b, out)

    def _span_index(self, j: int, k: int) -> int:
        # spans are listed row by row (np.triu_indices): row j starts after the rows above it
        return j * self.n - j * (j - 1) // 2 + (k - j)

    def _trace_item(self, item: Any, j: int, k: int, out: _Parse) -> None:
        if isinstance(item, _Leaf):
            alt = self.best_alternative(item, j, k)
            if alt < 0:
                return
            start = len(out.words)
            out.words.extend(item.words[alt])
            for name, value in item.slots[alt]:
                out.slots[name] = value
                span = self.distance[self._span_index(j, k), item.columns]
                others: dict[str, tuple[float, tuple[str, ...]]] = {}
                for i, slot_pairs in enumerate(item.slots):
                    for _, other in slot_pairs:
                        extra = float(span[i] - span[alt])
                        if other != value and extra < others.get(other, (INF,))[0]:
                            others[other] = (extra, item.words[i])
                out.alternatives.append((name, (start, len(out.words)), others))
        elif isinstance(item, _Chain):
            self.trace(item, j, k, out)
        else:
            costs = [self.matrix(o)[j, k] for o in item.options]
            best = int(np.argmin(costs))
            if item.optional and j == k and costs[best] > 0:
                return
            self.trace(item.options[best], j, k, out)


def _min_plus(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a[:, :, None] + b[None, :, :]).min(axis=1)


def _confidences(fused: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """Calibrated confidence of each reading.

    Two factors: how well the reading explains the transcript on its own (``fused``
    similarity through a logistic curve with 0.5 at 0.72, about one phoneme in four
    wrong: exact grammar sentences land near 0.98, out-of-grammar chatter below 0.2),
    times its share of the belief among all readings (a softmax over ``cost``, the edit
    cost in phonetic code units, so one phoneme of difference separates readings as
    much in a long coffee order as in "play left": a rival one similar phoneme away keeps
    ~5 %). One threshold then means the same in every context. Constants fitted by eye
    on the garbled-transcript table of tests/core/test_resolve.py.
    """
    fit = 1.0 / (1.0 + np.exp(-14.0 * (fused - 0.72)))
    share = np.exp(-1.5 * (cost - cost.min()))
    return fit * share / share.sum()


# --- meaning: sentence embeddings + FAISS --------------------------------------------------


class SemanticIndex:
    """Sample sentences of every intent, embedded and indexed with FAISS; cached on disk
    under a key made of the context's text and the model's id."""

    def __init__(self, context: Context, model: str | None = None, cache_dir: Path | None = None,
                 on_progress: Callable[[str], None] | None = None) -> None:
        from djtui.core import paths

        self.model_id = model or bundled_model()
        self.cache_dir = Path(cache_dir) if cache_dir else paths.embeddings_cache_dir()
        self.context = context
        self._progress = on_progress or (lambda message: None)
        self._model: Embedder | None = None
        self._index: Any = None
        self.intents: list[str] = []
        self._query_cache: dict[str, np.ndarray] = {}

    def _sentences(self) -> list[tuple[str, str]]:
        rng = random.Random(0)
        out: list[tuple[str, str]] = []
        for name in self.context.intents:
            seen: set[str] = set()
            for sentence in self.context.sample(SEMANTIC_SAMPLES_PER_INTENT * 3, rng, intent=name):
                if sentence.text not in seen and len(seen) < SEMANTIC_SAMPLES_PER_INTENT:
                    seen.add(sentence.text)
                    out.append((name, sentence.text))
        return out

    def _key(self) -> str:
        h = hashlib.sha256()
        h.update(self.context.text.encode())
        h.update(self.model_id.encode())
        h.update(str(SEMANTIC_SAMPLES_PER_INTENT).encode())
        return h.hexdigest()[:20]

    def model(self) -> Embedder:
        if self._model is None:
            self._progress("loading the meaning model…")
            self._model = load_embedder(self.model_id)
        return self._model

    def load(self) -> None:
        import faiss

        folder = self.cache_dir / self._key()
        index_file, meta_file = folder / "index.faiss", folder / "intents.json"
        if index_file.exists() and meta_file.exists():
            try:
                self._index = faiss.read_index(str(index_file))
                self.intents = json.loads(meta_file.read_text())
                return
            except (RuntimeError, ValueError, OSError):
                pass  # a damaged cache is rebuilt below
        sentences = self._sentences()
        model = self.model()
        self._progress(f"building the meaning index of {self.context.name} ({len(sentences):,} sample sentences; "
                       "once, then cached)…")
        vectors = model.embed([s for _, s in sentences])
        index = faiss.IndexFlatIP(vectors.shape[1])
        index.add(vectors)
        self._index = index
        self.intents = [name for name, _ in sentences]
        from djtui.core.fileio import write_atomic, write_text_atomic

        folder.mkdir(parents=True, exist_ok=True)
        write_atomic(index_file, lambda f: f.write(faiss.serialize_index(index).tobytes()))
        write_text_atomic(meta_file, json.dumps(self.intents))

    def similarity(self, text: str) -> dict[str, float]:
        """Cosine similarity of ``text`` to the closest sample sentence of each intent."""
        if self._index is None:
            self.load()
        query = self._query_cache.get(text)
        if query is None:
            query = self.model().embed([text])
            if len(self._query_cache) > 4096:
                self._query_cache.clear()
            self._query_cache[text] = query
        scores, ids = self._index.search(query, self._index.ntotal)
        best: dict[str, float] = {}
        for score, i in zip(scores[0], ids[0]):
            name = self.intents[i]
            if name not in best:
                best[name] = float(score)
        return best


# --- the resolver ----------------------------------------------------------------------------


class TranscriptTooLong(DjtuiError):
    """A transcript past :data:`MAX_TRANSCRIPT_WORDS` (or the other limits): not a command."""


def check_transcript(text: str) -> list[str]:
    """The words of ``text`` as the resolver reads them (:func:`phonetic.normalize`), or
    :class:`TranscriptTooLong` when there are too many to be one command: past
    :data:`MAX_TRANSCRIPT_CHARS` characters, :data:`MAX_TRANSCRIPT_WORDS` words or
    :data:`MAX_TRANSCRIPT_STARTS` word and syllable starts (what sets the resolver's
    memory). Cheap: the checks come before any alignment."""
    hint = "a command is one short sentence: say just the command"
    if len(text) > MAX_TRANSCRIPT_CHARS:
        raise TranscriptTooLong(f"transcript too long to be a command: {len(text):,} characters "
                                f"(at most {MAX_TRANSCRIPT_CHARS})", hint)
    words = phonetic.normalize(text)
    if len(words) > MAX_TRANSCRIPT_WORDS:
        raise TranscriptTooLong(f"transcript too long to be a command: {len(words):,} words "
                                f"(at most {MAX_TRANSCRIPT_WORDS})", hint)
    starts = len(phonetic.boundaries(words)) - 1
    if starts > MAX_TRANSCRIPT_STARTS:
        raise TranscriptTooLong(f"transcript too long to be a command: {starts} word and syllable starts "
                                f"(at most {MAX_TRANSCRIPT_STARTS})", hint)
    return words


def check_grammar_size(context: Context) -> int:
    """How many phrasings the alignment will compare each stretch of a transcript
    against, at most (each slot's phrases per slot name, each word of each expression);
    :class:`DjtuiError` past :data:`MAX_GRAMMAR_ALTERNATIVES`. Counted from the context,
    before compiling it: compiling a huge grammar is itself what must not happen."""
    phrases = {name: sum(len(spoken) for spoken in t.values.values()) for name, t in context.slot_types.items()}
    uses = {(s.name, s.type) for i in context.intents.values() for e in i.expressions for s in e.slots()}
    total = sum(phrases.get(t, 0) for _, t in uses) + sum(len(src.split()) for i in context.intents.values()
                                                           for src in i.sources)
    if total > MAX_GRAMMAR_ALTERNATIVES:
        raise DjtuiError(f"context {context.name!r} is too big to resolve: about {total:,} phrasings to compare "
                         f"(at most {MAX_GRAMMAR_ALTERNATIVES:,})",
                         "use fewer slot values, or a slot type under fewer names")
    return total


class Resolver:
    """``Resolver(context).resolve("hey laughed")`` -> top-5 :class:`Candidate`.

    ``semantic_weight`` is the share of the fused score that comes from sentence
    embeddings (0 turns them off: no model is loaded). ``on_progress(message)`` hears
    what is loading (the pronunciation dictionary, the meaning model, its index), before
    each slow step.
    """

    def __init__(self, context: Context, embedding_model: str | None = None, semantic_weight: float = 0.35,
                 cache_dir: Path | None = None, on_progress: Callable[[str], None] | None = None) -> None:
        self.context = context
        self.semantic_weight = semantic_weight
        check_grammar_size(context)
        if on_progress is not None:
            on_progress("reading the pronunciation dictionary…")
        self._grammar = _compile(context)
        self.semantic = SemanticIndex(context, embedding_model, cache_dir, on_progress) if semantic_weight > 0 else None

    def warm_up(self) -> None:
        """Load the embedding model and index now rather than on the first command."""
        if self.semantic is not None:
            self.semantic.similarity("warm up")
        self.resolve("warm up")

    def resolve(self, text: str, k: int = 5) -> list[Candidate]:
        """The ``k`` best readings of ``text``, best first; none for a transcript without
        words. :class:`TranscriptTooLong` past the limits (see :func:`check_transcript`)."""
        words = check_transcript(text)
        if not words:
            return []
        alignment = _Alignment(words, self._grammar)
        per_intent: dict[str, tuple[float, _Chain]] = {}
        costs = alignment.best_per_pattern(self._grammar)
        for (name, chain), cost in zip(self._grammar.patterns, costs.tolist()):
            if name not in per_intent or cost < per_intent[name][0]:
                per_intent[name] = (cost, chain)
        # Trace the closest intents only; the rest cannot reach the top k.
        ranked = sorted(per_intent.items(), key=lambda item: item[1][0])[:k]
        parses: list[_Parse] = []
        for name, (cost, chain) in ranked:
            parse = _Parse(name, cost, [], {}, [])
            alignment.trace(chain, 0, alignment.n - 1, parse)
            parses.append(parse)
            for slot, (a, b), others in parse.alternatives:  # nearby slot values
                for other, (extra, phrase) in sorted(others.items(), key=lambda o: o[1][0])[:2]:
                    words_ = [*parse.words[:a], *phrase, *parse.words[b:]]
                    parses.append(_Parse(name, cost + extra, words_, {**parse.slots, slot: other}, []))

        meaning: dict[str, float] = {}
        if self.semantic is not None:
            best_cost = min(p.cost for p in parses)
            if best_cost > (1.0 - SOUNDS_RIGHT) * len(alignment.code):
                meaning = self.semantic.similarity(" ".join(words))

        unique: dict[Any, tuple[_Parse, float, float, int]] = {}
        for parse in parses:
            key = (parse.intent, tuple(sorted(parse.slots.items())))
            longest = max(len(alignment.code), len(phonetic.code(parse.words)), 1)
            p = max(0.0, 1.0 - parse.cost / longest)
            if key not in unique or p > unique[key][1]:
                unique[key] = (parse, p, meaning.get(parse.intent, p), longest)
        readings = list(unique.values())
        # Meaning can lift a reading whose words differ but whose sense matches (a
        # paraphrase), never sink one: ASR garbling destroys meaning but keeps sound.
        fused = np.array([p + self.semantic_weight * max(0.0, e - p) for _, p, e, _ in readings])
        cost = np.array([(1.0 - f) * longest for f, (*_, longest) in zip(fused, readings)])
        scores = _confidences(fused, cost)
        candidates = [
            Candidate(parse.intent, dict(parse.slots), float(score), " ".join(parse.words),
                      {"phonetic": round(p, 4), "semantic": round(e, 4), "fused": round(float(f), 4)})
            for (parse, p, e, _), f, score in zip(readings, fused, scores)
        ]
        candidates.sort(key=lambda c: c.score, reverse=True)
        return candidates[:k]
