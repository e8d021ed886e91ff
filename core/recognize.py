"""One utterance to its five most likely commands: ASR → resolver → acoustic rescoring.

The live pipeline and ``djtui eval`` share this, so what is measured is what runs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np

from djtui.core.asr import AsrEngine, AsrResult
from djtui.core.rescore import Rescorer, grammar_alternatives
from djtui.core.resolve import Candidate

if TYPE_CHECKING:
    from djtui.core.context import Context


class TextResolver(Protocol):
    context: Context

    def resolve(self, text: str, k: int = 5) -> list[Candidate]: ...


@dataclass(frozen=True)
class Understanding:
    """What djtui made of one utterance: the ASR ``transcript``, the top ``candidates``
    (best first, after rescoring), the full ``asr`` result and per-stage ``timings`` in
    milliseconds (``asr``, ``resolve``, ``rescore``)."""

    transcript: str
    candidates: list[Candidate]
    asr: AsrResult
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def best(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None


class Recognizer:
    """``understand(audio)``: transcribe with ``engine``, resolve the transcript with
    ``resolver``, then (with a ``rescorer``) rescore the resolver's candidates and up to
    ``alternatives`` grammar neighbours of them against the audio. Without a rescorer
    the resolver's candidates are the answer."""

    def __init__(self, engine: AsrEngine, resolver: TextResolver, rescorer: Rescorer | None = None,
                 k: int = 5, alternatives: int | None = None) -> None:
        self.engine = engine
        self.resolver = resolver
        self.rescorer = rescorer
        self.k = k
        # CTC scores a sentence in microseconds; Whisper runs its decoder per sentence.
        self.alternatives = alternatives if alternatives is not None else (24 if engine.name == "wav2vec2" else 8)

    def understand(self, audio: np.ndarray) -> Understanding:
        start = time.perf_counter()
        result = self.engine.transcribe(audio)
        return self.understand_result(result, asr_ms=(time.perf_counter() - start) * 1000)

    def understand_result(self, result: AsrResult, asr_ms: float | None = None) -> Understanding:
        """The stages after ASR, for a result transcribed elsewhere (e.g. speculatively,
        while the VAD was still waiting out its hang-over)."""
        timings = {"asr": result.seconds * 1000 if asr_ms is None else asr_ms}
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
        return Understanding(result.text, candidates, result, timings)
