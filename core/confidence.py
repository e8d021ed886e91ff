"""How sure djtui is of each reading: a confidence meant as "the probability this
command is right", from the audio, the free transcript and the utterance's length.

Every command ``c`` the grammar search or the text resolver proposed has

- ``g_c``: log P(sentence | audio) from Whisper's decoder (its phrasings found, summed),
  and its ``n_c`` tokens; its *score* ``s_c = g_c + β·n_c`` ranks the readings, with the
  grammar search's own per-token bonus ``β`` (without it a sentence cut short wins);
- ``t_c``: the text resolver's score of the free transcript for ``c`` (phonetic match and
  sentence embeddings): how paraphrases outside the grammar are heard;
- its sentence's phonemes ``p_c``.

The confidence is a logistic model of five features, each with a reason to be there:

1. ``gap``: ``s_c`` minus the best other command's score — how far ahead the audio puts it;
2. ``text``: ``t_c`` — the free transcript reads as this command too;
3. ``pace``: ``|log(p_c / speech seconds) − r|`` — a sentence said at an implausible pace
   (three phonemes over two seconds of speech: a short command found inside music, or a
   long one inside a cough) is suspect; ``r`` is the typical pace of a command;
4. ``clarity``: the free decoding's log-probability per token — how well Whisper hears
   this audio at all (low in loud music);
5. ``fit``: ``s_c`` minus the free decoding's score, per 5 nats — the constrained path
   against the unconstrained one (Talon's test), in the same bonus-adjusted scale.

The weights were fitted (logistic regression on the top reading of each utterance) on
one half of the development data — coffee-dev's real speakers in kitchen noise and a
synthetic DJ set over music; ``djtui eval`` reports the calibration on the other half
(README, "Evaluation").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Evidence:
    """What is known of one command: ``logprob`` (``g_c``), its sentence's ``tokens`` (end
    of text included) and ``phonemes``, and the ``text`` score (``t_c``, 0 when the
    resolver did not propose it)."""

    logprob: float
    tokens: int
    text: float
    phonemes: int


@dataclass(frozen=True)
class Reference:
    """The free decoding of the utterance: its ``logprob`` and ``tokens`` (end of text
    included), and the ``speech_s`` it was heard in."""

    logprob: float
    tokens: int
    speech_s: float


FEATURES = ("gap", "text", "pace", "clarity", "fit")


@dataclass(frozen=True)
class Calibration:
    """The confidence model's constants (see the module)."""

    token_bonus: float = 1.0
    """``β``: the grammar search's per-token bonus, so scores compare as it ranked them."""
    pace: float = 2.6
    """``r``: log phonemes per second of a typical spoken command (13.5 a second)."""
    weights: tuple[float, float, float, float, float] = (0.192, 0.963, -1.299, 0.464, 0.831)
    """One per feature, in the order of :data:`FEATURES`."""
    bias: float = 1.684

    def scores(self, evidence: Sequence[Evidence]) -> np.ndarray:
        """``s_c``: what the readings are ranked by, best highest."""
        g = np.array([e.logprob for e in evidence], dtype=float)
        return np.where(np.isfinite(g), g, -1e3) + self.token_bonus * np.array([e.tokens for e in evidence], dtype=float)

    def features(self, evidence: Sequence[Evidence], reference: Reference) -> np.ndarray:
        """One row of :data:`FEATURES` per command."""
        s = self.scores(evidence)
        if len(s) > 1:
            order = np.argsort(-s)
            runner_up = np.where(np.arange(len(s)) == order[0], s[order[1]], s[order[0]])
            gap = s - runner_up
        else:
            gap = np.full(1, 10.0)
        text = np.clip([e.text for e in evidence], 0.0, 1.0)
        speech_s = max(0.1, reference.speech_s)
        pace = np.abs(np.log(np.maximum(1, [e.phonemes for e in evidence]) / speech_s) - self.pace)
        clarity = np.full(len(s), reference.logprob / max(1, reference.tokens))
        fit = (s - (reference.logprob + self.token_bonus * reference.tokens)) / 5.0
        return np.stack([np.clip(gap, -10, 10), text, pace, np.clip(clarity, -5, 0), np.clip(fit, -5, 3)], axis=1)

    def confidences(self, evidence: Sequence[Evidence], reference: Reference) -> np.ndarray:
        """The confidence of each command; empty in, empty out."""
        if not evidence:
            return np.zeros(0)
        z = self.features(evidence, reference) @ np.array(self.weights) + self.bias
        return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))

