"""How sure djtui is of each reading: evidence from the audio and the text, fused into a
confidence meant as "the probability this command is right".

Per command ``c`` the evidence is:

- ``g_c``: log P(sentence | audio) from Whisper's decoder for the command's best
  sentences (summed over its phrasings found), from the grammar search or, for a
  command only the text resolver proposed, from scoring its sentence;
- ``fit_c = (g_c − g_free) / tokens``: per token, how far below the free decoding the
  command's sentence lies (0: the audio supports it as well as anything Whisper could
  write — Talon's test of a constrained path against the unconstrained one);
- ``t_c``: the text resolver's score of the free transcript for ``c`` (phonetic match
  and sentence embeddings, :mod:`djtui.core.resolve`): how paraphrases outside the
  grammar are heard.

Fused as

- posterior ``p_c = softmax_c((1 − w)·log(t_c + ε) + w·g_c / τ)``: which command, given
  this is a command (text and audio as a product of experts; ``ε`` bounds how far the
  text can veto the audio);
- support ``s_c = max(σ(a·fit_c + b), t_c)``: whether it is a command at all (the audio's
  fit, or a confident reading of the transcript);
- confidence ``= p_c · s_c^γ``.

When the transcript reads as another command than the audio's best, ``t`` lifts that
other command's posterior, so the two disagreeing lowers the confidence of both. The
constants are fitted on half of the development data (``djtui eval`` reports the
calibration on data they were not fitted on; README, "Evaluation").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Evidence:
    """What is known of one command: ``logprob`` (``g_c``), its sentence's ``tokens``
    and the ``text`` score (``t_c``, 0 when the resolver did not propose it)."""

    logprob: float
    tokens: int
    text: float


@dataclass(frozen=True)
class Calibration:
    """The fused confidence's constants (see the module)."""

    weight: float = 0.9
    """``w``: how much the audio counts against the text in the posterior."""
    temperature: float = 1.0
    """``τ``: spread of the audio's log-probabilities."""
    fit_slope: float = 4.0
    """``a``: how fast support falls as the sentence fits the audio worse."""
    fit_offset: float = 1.5
    """``b``: support of a sentence that fits as well as the free decoding."""
    support_exponent: float = 1.0
    """``γ``."""
    text_floor: float = 0.05
    """``ε``."""

    def fit(self, evidence: Sequence[Evidence], reference: float) -> np.ndarray:
        """``fit_c`` against the free decoding's log-probability ``reference``."""
        g = np.array([e.logprob for e in evidence], dtype=float)
        n = np.array([max(1, e.tokens) for e in evidence], dtype=float)
        return np.where(np.isfinite(g), (g - reference) / n, -np.inf)

    def confidences(self, evidence: Sequence[Evidence], reference: float) -> np.ndarray:
        """The confidence of each command (see the module); empty in, empty out."""
        if not evidence:
            return np.zeros(0)
        g = np.array([e.logprob for e in evidence], dtype=float)
        text = np.clip([e.text for e in evidence], 0.0, 1.0)
        logits = (1 - self.weight) * np.log(text + self.text_floor) + self.weight * np.where(np.isfinite(g), g, -1e9) / self.temperature
        posterior = np.exp(logits - logits.max())
        posterior /= posterior.sum()
        fit = self.fit(evidence, reference)
        audio = 1.0 / (1.0 + np.exp(-(self.fit_slope * np.where(np.isfinite(fit), fit, -1e9) + self.fit_offset)))
        support = np.maximum(audio, text)
        return posterior * support ** self.support_exponent
