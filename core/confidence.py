"""How sure djtui is of each reading: a confidence meant as "the probability this
command is right", from the audio, the free transcript and the utterance's length.

Every command ``c`` the grammar search or the text resolver proposed has

- ``g_c``: log P(sentence | audio) from Whisper's decoder (its phrasings found, summed),
  and its ``n_c`` tokens; its *score* ``s_c = g_c + β·n_c`` ranks the readings, with the
  grammar search's own per-token bonus ``β`` (without it a sentence cut short wins);
- ``t_c``: the text resolver's score of the free transcript for ``c`` (phonetic match and
  sentence embeddings): how paraphrases outside the grammar are heard;
- its sentence's phonemes ``p_c``.

The confidence is a logistic model of nine features, each with a reason to be there:

1. ``gap``: ``s_c`` minus the best other command's score — how far ahead the audio puts it;
2. ``text``: ``t_c`` — the free transcript reads as this command too;
3. ``pace``: ``|log(p_c / speech seconds) − r|`` — a sentence said at an implausible pace
   (three phonemes over two seconds of speech: a short command found inside music, or a
   long one inside a cough) is suspect; ``r`` is the typical pace of a command;
4. ``clarity``: the free decoding's log-probability per token — how well Whisper hears
   this audio at all (low in loud music);
5. ``fit``: ``s_c`` minus the free decoding's score, per 5 nats — the constrained path
   against the unconstrained one (Talon's test), in the same bonus-adjusted scale;
6. ``agree``: how the glimpses of the speech in progress read it, later ones counting
   more (``+1`` all read this command, ``−1`` none did, ``0`` no glimpse was taken) — a
   command that only appears in the last reading, after others came and went, is what
   music and half-heard words produce;
7. ``mass``: ``softmax(s)_c`` over every command the search and the resolver found — the
   beam's whole distribution, not just the best two: five readings close behind mean
   more doubt than one;
8. ``against``: how much better the free transcript reads as *another* command,
   ``max(0, max_{c' ≠ c} t_c' − t_c)`` — a transcript that says "key sync right" weighs
   against ``sync(deck=2)`` however well the audio fits "sync right";
9. ``slot``: the least sure slot — for each slot, the mass of the chosen value among the
   readings of the same intent, the smallest of them (1 without slots) — a deck word
   drowned in music splits ``play(deck=1)`` and ``play(deck=2)`` and should lower the
   command's confidence rather than be guessed.

The weights are fitted per model (logistic regression on the best reading of each
utterance, :mod:`djtui.training.calibrate`) and stored beside the model's weights
(:mod:`djtui.core.calibration_file`); ``djtui eval`` reports the calibration on data it
was not fitted on (README, "Evaluation"). :class:`Calibration`'s defaults are the first
fit, five features on the stock model, the four later ones weighted 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from djtui.core.records import CommandKey


@dataclass(frozen=True)
class Evidence:
    """What is known of one command: ``logprob`` (``g_c``), its sentence's ``tokens`` (end
    of text included) and ``phonemes``, and the ``text`` score (``t_c``, 0 when the
    resolver did not propose it)."""

    logprob: float
    tokens: int
    text: float
    phonemes: int
    command: CommandKey | None = None
    """Which command (intent and slots); ``None``: one of its own, with no slots."""


@dataclass(frozen=True)
class Reference:
    """The free decoding of the utterance: its ``logprob`` and ``tokens`` (end of text
    included), the ``speech_s`` it was heard in, and the command each ``glimpse`` of the
    speech in progress read (oldest first; ``None`` where a glimpse read none)."""

    logprob: float
    tokens: int
    speech_s: float
    glimpses: tuple[CommandKey | None, ...] = ()


FEATURES = ("gap", "text", "pace", "clarity", "fit", "agree", "mass", "against", "slot")
DIRECTIONS = (1, 1, -1, 1, 1, 1, 1, -1, 1)
"""The sign each feature's reason gives its weight (``pace`` and ``against`` count
against a reading, the rest for it): a fit may weigh a feature 0, never the other way."""


@dataclass(frozen=True)
class Calibration:
    """The confidence model's constants (see the module)."""

    token_bonus: float = 1.0
    """``β``: the grammar search's per-token bonus, so scores compare as it ranked them."""
    pace: float = 2.6
    """``r``: log phonemes per second of a typical spoken command (13.5 a second)."""
    weights: tuple[float, ...] = (0.192, 0.963, -1.299, 0.464, 0.831, 0.0, 0.0, 0.0, 0.0)
    """One per feature, in the order of :data:`FEATURES`."""
    bias: float = 1.684

    def __post_init__(self) -> None:
        if len(self.weights) != len(FEATURES):
            raise ValueError(f"{len(self.weights)} weights for {len(FEATURES)} features")

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
        keys = [e.command if e.command is not None else (f"#{n}", ()) for n, e in enumerate(evidence)]
        mass = np.exp(s - s.max())
        mass /= mass.sum()
        return np.stack([np.clip(gap, -10, 10), text, pace, np.clip(clarity, -5, 0), np.clip(fit, -5, 3),
                         agreement(keys, reference.glimpses), mass, against(keys, text),
                         slot_certainty(keys, mass)], axis=1)

    def confidences(self, evidence: Sequence[Evidence], reference: Reference) -> np.ndarray:
        """The confidence of each command; empty in, empty out."""
        if not evidence:
            return np.zeros(0)
        return self.confidences_of(self.features(evidence, reference))

    def confidences_of(self, features: np.ndarray) -> np.ndarray:
        """The confidence of each row of :data:`FEATURES` (as :meth:`features` gives them)."""
        z = np.asarray(features, dtype=float) @ np.array(self.weights) + self.bias
        return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))


def agreement(keys: Sequence[CommandKey], glimpses: Sequence[CommandKey | None]) -> np.ndarray:
    """``agree`` per command: ``2·a − 1`` with ``a`` the share of glimpses that read it,
    the ``i``-th glimpse weighing ``i + 1`` (the speech so far grows: later glimpses heard
    more of it); 0 without glimpses."""
    if not glimpses:
        return np.zeros(len(keys))
    weight = np.arange(1, len(glimpses) + 1, dtype=float)
    weight /= weight.sum()
    return np.array([2.0 * sum(w for w, g in zip(weight, glimpses) if g == key) - 1.0 for key in keys])


def against(keys: Sequence[CommandKey], text: np.ndarray) -> np.ndarray:
    """``against`` per command: how much better the transcript reads as another command."""
    out = np.zeros(len(keys))
    for n, key in enumerate(keys):
        others = [t for m, (other, t) in enumerate(zip(keys, text)) if m != n and other != key]
        out[n] = max(0.0, max(others, default=0.0) - text[n])
    return out


def slot_certainty(keys: Sequence[CommandKey], mass: np.ndarray) -> np.ndarray:
    """``slot`` per command: the smallest share, among the readings of its intent, of the
    mass that agrees with its value of one slot; 1 for a command without slots."""
    out = np.ones(len(keys))
    for n, (intent, slots) in enumerate(keys):
        same = [(dict(other_slots), m) for (other, other_slots), m in zip(keys, mass) if other == intent]
        total = sum(m for _, m in same)
        for name, value in slots:
            agreeing = sum(m for other_slots, m in same if other_slots.get(name) == value)
            out[n] = min(out[n], agreeing / total if total > 0 else 1.0)
    return out

