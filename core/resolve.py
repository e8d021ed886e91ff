"""Transcript -> the five commands it most likely means.

(Being written: the Candidate shape below is fixed; ``Resolver.resolve`` follows.)
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Candidate:
    """One reading of an utterance: ``intent`` with ``slots`` (canonical values), a
    calibrated ``score`` in [0, 1], the in-grammar ``sentence`` it matched (what acoustic
    rescoring scores against the audio) and per-source ``evidence`` scores."""

    intent: str
    slots: dict[str, str]
    score: float
    sentence: str
    evidence: dict[str, float] = field(default_factory=dict)

    def key(self) -> tuple[str, tuple[tuple[str, str], ...]]:
        return self.intent, tuple(sorted(self.slots.items()))

    def label(self) -> str:
        slots = " ".join(f"{k}={v}" for k, v in sorted(self.slots.items()))
        return f"{self.intent}({slots})" if slots else self.intent
