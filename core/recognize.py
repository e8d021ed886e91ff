"""One utterance to its five most likely commands, each with a calibrated confidence.

With Whisper (the default engine): encode the audio once; decode it freely (the
transcript shown and logged); search the whole grammar on the same encoding
(:mod:`djtui.core.grammar_search`); read the transcript with the text resolver for
paraphrases; score by the decoder any command only the text proposed; fuse
(:mod:`djtui.core.confidence`). With a CTC engine (wav2vec2): transcribe, resolve the
transcript, rescore the resolver's candidates and their grammar neighbours against the
frames (:mod:`djtui.core.rescore`).

The live pipeline and ``djtui eval`` share this, so what is measured is what runs.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np

from djtui.core.asr import AsrEngine
from djtui.core.audio import SAMPLE_RATE
from djtui.core.confidence import FEATURES, Calibration, Evidence, Reference
from djtui.core.records import AsrResult, Candidate, CommandKey, Glimpse, Understanding
from djtui.core.rescore import Rescorer, grammar_alternatives
from djtui.core.text import whisper_text

if TYPE_CHECKING:
    from djtui.core.calibration_file import ModelCalibration
    from djtui.core.context import Context
    from djtui.core.grammar_search import GrammarSearch


class TextResolver(Protocol):
    context: Context

    def resolve(self, text: str, k: int = 5) -> list[Candidate]: ...


MAX_TOKENS_PER_S = 6
"""Fast speech is ~4 tokens a second: a sentence longer than 6 a second plus 4 cannot be
what was said, which bounds the search on music and chatter."""


ENCODING_MARGIN_FRAMES = 50
"""Encoder frames (1 s) kept past the audio for the decoder to attend to: cross-attention
over the padding of a long window costs time and changes nothing."""


GLIMPSE_MARGIN_S = 2.0
"""A glimpse is encoded on a window this much longer than the speech so far (whole
seconds), not on the engine's 10 s: the encoder's cost grows with its window, and a
glimpse only has to agree with the draft about the command, not be it. On bench
latency's 30 commands the glimpses read as on the full window (README, "Speed")."""


class Stopped(Exception):
    """Understanding was stopped between stages: its ``stop()`` said the audio is no
    longer wanted."""


class Recognizer:
    """``understand(audio)``. ``search`` (a :class:`GrammarSearch`, Whisper only) decides
    from the audio against the whole grammar; without it, the ``resolver``'s candidates
    are rescored by ``rescorer`` (or taken as they are without one)."""

    def __init__(self, engine: AsrEngine, resolver: TextResolver, rescorer: Rescorer | None = None,
                 search: GrammarSearch | None = None, calibration: Calibration | None = None,
                 k: int = 5, alternatives: int | None = None, calibrated: ModelCalibration | None = None) -> None:
        self.engine = engine
        self.resolver = resolver
        self.rescorer = rescorer
        self.search = search
        self.calibration = calibration or Calibration()
        self.calibrated = calibrated
        """Where :attr:`calibration` came from (the model's file, or the fallback), when known."""
        self.k = k
        # CTC scores a sentence in microseconds; Whisper runs its decoder per sentence.
        self.alternatives = alternatives if alternatives is not None else (24 if engine.name == "wav2vec2" else 8)

    def understand(self, audio: np.ndarray, speech_s: float | None = None,
                   glimpses: Sequence[CommandKey | None] = (), stop: Callable[[], bool] | None = None) -> Understanding:
        """``speech_s``: how long the VAD heard speech in ``audio`` (default: all of it);
        ``glimpses``: the command each glimpse of the speech in progress read, oldest first
        (:meth:`glimpse`; the confidence weighs how they agree). ``stop()`` is asked
        between stages; when it says so, :class:`Stopped` is raised instead of going on (a
        draft the DJ's speech made stale)."""
        start = time.perf_counter()
        result = self.engine.transcribe(audio)
        if speech_s is None:
            speech_s = len(audio) / SAMPLE_RATE
        return self.understand_result(result, asr_ms=(time.perf_counter() - start) * 1000, speech_s=speech_s,
                                      glimpses=glimpses, stop=stop)

    def understand_result(self, result: AsrResult, asr_ms: float | None = None, speech_s: float | None = None,
                          glimpses: Sequence[CommandKey | None] = (),
                          stop: Callable[[], bool] | None = None) -> Understanding:
        """The stages after ASR, for a result transcribed elsewhere (e.g. ahead of the
        endpoint, while the VAD was still waiting out its hang-over)."""
        timings = {"asr": result.seconds * 1000 if asr_ms is None else asr_ms}
        if stop is not None and stop():
            raise Stopped()
        if self.search is not None and result.encoding is not None:
            seconds = speech_s if speech_s is not None else result.encoding.frames / 100
            return self._search(result, timings, seconds, tuple(glimpses), stop)
        start = time.perf_counter()
        candidates = self.resolver.resolve(result.text, k=self.k) if result.text.strip() else []
        timings["resolve"] = (time.perf_counter() - start) * 1000
        if self.rescorer is not None and candidates:
            start = time.perf_counter()
            extra = grammar_alternatives(self.resolver.context, candidates, self.alternatives) if self.alternatives else []
            candidates = self.rescorer.rescore(result, candidates, extra, k=self.k)
            timings["rescore"] = (time.perf_counter() - start) * 1000
        else:
            timings["rescore"] = 0.0
        return Understanding(result.text, candidates, result, timings, readings=tuple(candidates))

    def glimpse(self, audio: np.ndarray) -> Glimpse:
        """What the speech so far reads as in the grammar (Whisper only; other engines
        give an empty glimpse): encoding and the grammar search, nothing else."""
        from djtui.core.grammar_search import commands

        search, engine = self.search, self.engine
        if search is None or not hasattr(engine, "encode"):
            return Glimpse(None, "")
        window = min(engine.window_frames, 100 * math.ceil(len(audio) / SAMPLE_RATE + GLIMPSE_MARGIN_S))  # type: ignore[attr-defined]
        encoding = engine.encode(audio, window)  # type: ignore[attr-defined]
        cross = search.decoder.cross(np.asarray(encoding.output)[:, : encoding.frames // 2 + ENCODING_MARGIN_FRAMES])
        found = search.search(cross, engine.prompt, max_tokens=int(MAX_TOKENS_PER_S * encoding.frames / 100) + 4)  # type: ignore[attr-defined]
        best = commands(found.readings)[:1]
        if not best:
            return Glimpse(None, "")
        intent, slots, reading = best[0]
        return Glimpse(Candidate(intent, slots, 0.0, "").key(), search.text(reading.tokens))

    # --- Whisper: the grammar search ----------------------------------------------------

    def _search(self, result: AsrResult, timings: dict[str, float], speech_s: float,
                glimpses: tuple[CommandKey | None, ...] = (), stop: Callable[[], bool] | None = None) -> Understanding:
        from djtui.core import phonetic
        from djtui.core.grammar_search import commands, log_sum

        search = self.search
        assert search is not None and result.encoding is not None
        start = time.perf_counter()
        encoded = np.asarray(result.encoding.output)
        cross = search.decoder.cross(encoded[:, : result.encoding.frames // 2 + ENCODING_MARGIN_FRAMES])
        seconds = result.encoding.frames / 100
        found = search.search(cross, self.engine.prompt, max_tokens=int(MAX_TOKENS_PER_S * seconds) + 4)  # type: ignore[attr-defined]
        timings["search"] = (time.perf_counter() - start) * 1000
        if stop is not None and stop():
            raise Stopped()

        start = time.perf_counter()
        text_candidates = self.resolver.resolve(result.text, k=self.k) if result.text.strip() else []
        timings["resolve"] = (time.perf_counter() - start) * 1000

        start = time.perf_counter()
        # command -> (intent, slots, its best sentence, log-probabilities of its phrasings, tokens)
        readings: dict[tuple, tuple[str, dict[str, str], str, list[float], int]] = {}
        could_mean_more: dict[tuple, bool] = {}
        for intent, slots, reading in commands(found.readings):
            key = Candidate(intent, slots, 0.0, "").key()
            paths = [r.logprob for r in found.readings if any(m[0] == intent and dict(m[1]) == slots for m in r.meanings)]
            readings[key] = (intent, slots, search.text(reading.tokens), paths, len(reading.tokens) + 1)
            could_mean_more[key] = reading.could_mean_more
        text_scores = {c.key(): c.score for c in text_candidates}
        # Commands only the text proposed: how well does the audio fit their sentence?
        missing = [c for c in text_candidates if c.key() not in readings]
        reference_logprob, scored = self._score(cross, result, [c.sentence for c in missing])
        for candidate, (logprob, tokens) in zip(missing, scored):
            readings[candidate.key()] = (candidate.intent, dict(candidate.slots), candidate.sentence, [logprob], tokens)
        order = list(readings.items())
        evidence = [Evidence(log_sum(paths), tokens, text_scores.get(key, 0.0), len(phonetic.phonemes(sentence)), key)
                    for key, (_, _, sentence, paths, tokens) in order]
        reference = Reference(reference_logprob, len(result.tokens) + 1, speech_s, glimpses)
        features = self.calibration.features(evidence, reference) if evidence else np.zeros((0, len(FEATURES)))
        confidence = self.calibration.confidences_of(features)
        # the utterance's own evidence, on every reading: with it the features can be computed again
        free = {"free": round(reference.logprob, 3), "free_tokens": reference.tokens, "speech_s": round(speech_s, 3)}
        readings = []
        for n in np.argsort(-confidence, kind="stable"):
            key, (intent, slots, sentence, _, _) = order[n]
            readings.append(Candidate(intent, slots, float(confidence[n]), sentence, {
                "audio": round(evidence[n].logprob, 3), "tokens": evidence[n].tokens, "text": round(evidence[n].text, 4),
                "phonemes": evidence[n].phonemes, **free,
                **{name: round(float(v), 3) for name, v in zip(FEATURES, features[n])},
                # a command only the text proposed: its grammar neighbours are unknown, so assume more may come
                "more": float(could_mean_more.get(key, True))}))
        timings["rescore"] = (time.perf_counter() - start) * 1000
        return Understanding(result.text, readings[: self.k], result, timings, readings=tuple(readings))

    def _score(self, cross: object, result: AsrResult, sentences: list[str]) -> tuple[float, list[tuple[float, int]]]:
        """Log-probability of the free decoding (its tokens and the end of text: what the
        audio supports when nothing is constrained), and ``(log-probability, tokens)`` of
        each grammar sentence as Whisper would write it; one batched decoder pass."""
        search = self.search
        assert search is not None
        end = search.end_of_text
        written = [[*search.tokenizer.encode(whisper_text(s)), end] for s in sentences]
        scored = search.decoder.score(self.engine.prompt, [[*result.tokens, end], *written], cross)  # type: ignore[attr-defined]
        return float(scored[0].sum()), [(float(s.sum()), len(s)) for s in scored[1:]]
