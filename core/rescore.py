"""Acoustic rescoring: weigh the resolver's candidates by how well the audio supports them.

The resolver only reads the transcript, and a transcript is one lossy guess ("hey laughed"
for "play left"). Here each candidate's in-grammar sentence is scored against the audio
itself — the CTC log-likelihood of the sentence under wav2vec2's frame log-probabilities,
or Whisper's decoder probability of the sentence given the encoded audio — and fused with
the resolver's text score. :func:`grammar_alternatives` adds the grammar's near neighbours
of the candidates (same command on the other deck, other commands on the same deck), so
the audio can pick a reading the transcript never suggested.

Fusion, per candidate ``i`` (one per command; a command's best-scoring phrasing counts):

- ``a_i``: acoustic log-likelihood per token (characters for CTC, BPE tokens for Whisper).
  Per token, because Whisper's decoder is never asked to end the sentence, so a prefix
  ("play deck") would otherwise beat the full sentence ("play deck one"), and so that
  the scale does not grow with sentence length.
- ``t_i``: the resolver's calibrated score; 0 for a grammar alternative it did not propose.
- posterior ``p_i = softmax_i((1 - w)·log(t_i + ε) + w·a_i / τ)``: a product of experts
  (text and acoustics), ``w`` how much the audio counts, ``τ`` the per-token spread. The
  floor ``ε`` (0.05) bounds how far the text can veto a reading: the resolver's scores are
  a softmax and put ~0 on everything but its favourite, which is exactly the transcript's
  mistake rescoring is there to undo.
- fit ``f_i = exp(min(0, a_i − a_ref))``, with ``a_ref`` the same score of the engine's own
  free transcript: a likelihood ratio against the best unconstrained reading. 1 when the
  audio supports the sentence as well as anything the model could say.
- confidence ``= p_i · max(t_i, f_i)^γ``. The posterior alone sums to one over whatever
  the candidates are, so noise would still get a confident winner; scaling by the
  absolute support (the transcript or the audio) keeps out-of-grammar speech low, so the
  safety layer's ``min_confidence`` and ``min_margin`` keep their meaning. ``γ = 0.5``
  softens it: at ``γ = 1`` right readings of noisy speech fell under 0.6 too often.

Whisper's defaults (``w = 0.9``, ``τ = 0.3``, ``γ = 0.5``, 8 grammar alternatives) were
chosen on the 100 real coffee orders of ``coffee-dev`` (Whisper tiny.en, kitchen noise;
accepted = confidence ≥ 0.6 and margin ≥ 0.08, the safety defaults):

===========  ==========================  ==========================
SNR          text only: right / wrong    rescored: right / wrong
===========  ==========================  ==========================
6 dB         77 / 8                      78 / 2
12 dB        85 / 3                      83 / 1
clean        95 / 2                      98 / 1
===========  ==========================  ==========================

Top-1 at 6 dB: 89 % rescored (the resolver alone: 85 %, on another draw of the noise). wav2vec2's defaults are not tuned yet (no
trained model to tune them on); ``djtui eval`` can.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from djtui.core.asr import AsrEngine, Wav2Vec2Engine, WhisperEngine
from djtui.core.records import AsrResult, Candidate
from djtui.core.text import whisper_text

if TYPE_CHECKING:
    from djtui.core.context import Context, Sentence


# --------------------------------------------------------------------------- CTC


def ctc_labels(sentence: str, vocab: dict[str, int], delimiter: str = "|", upper_case: bool = True) -> list[int]:
    """Token ids of ``sentence`` in a character CTC vocabulary: case folded to the vocab's,
    words joined by ``delimiter``, characters the vocab lacks dropped (digits, punctuation:
    sentences from the grammar are words)."""
    text = sentence.upper() if upper_case else sentence.lower()
    words = [w for w in (re.sub(r"\s+", " ", "".join(ch for ch in word if ch in vocab)) for word in text.split()) if w]
    labels: list[int] = []
    for n, word in enumerate(words):
        if n and delimiter in vocab:
            labels.append(vocab[delimiter])
        labels.extend(vocab[ch] for ch in word)
    return labels


def ctc_log_likelihoods(logprobs: np.ndarray, labels: Sequence[Sequence[int]], blank: int) -> np.ndarray:
    """``log P(labels_i | audio)`` under CTC for each label sequence, in one batched pass.
    ``logprobs``: frames × vocab log-softmax. A sequence the frames cannot fit (too long)
    or an empty one is ``-inf``."""
    import torch
    import torch.nn.functional as F

    frames = logprobs.shape[0]
    n = len(labels)
    out = np.full(n, -np.inf)
    keep = [i for i, seq in enumerate(labels) if seq]
    if not keep or frames == 0:
        return out
    log_probs = torch.from_numpy(np.ascontiguousarray(logprobs, dtype=np.float32))[:, None, :].expand(-1, len(keep), -1)
    targets = torch.tensor([t for i in keep for t in labels[i]], dtype=torch.long)
    target_lengths = torch.tensor([len(labels[i]) for i in keep], dtype=torch.long)
    input_lengths = torch.full((len(keep),), frames, dtype=torch.long)
    with torch.inference_mode():
        loss = F.ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=blank,
                          reduction="none", zero_infinity=False)
    out[keep] = -loss.double().numpy()
    return out


# --------------------------------------------------------------------------- Whisper


def whisper_log_likelihoods(engine: WhisperEngine, result: AsrResult, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """``(log P(text_i | audio), tokens_i)`` from Whisper's decoder, given the encoder
    output kept in ``result`` (the audio is encoded once). All texts go through
    CTranslate2's ``Whisper.align`` in one batch. The encoder output is cut to the frames
    that hold audio plus 1 s: the decoder's cross-attention then costs ~7x less than over
    the whole window, with the same rankings."""
    import ctranslate2

    encoding = result.encoding
    if encoding is None:
        raise ValueError("the ASR result has no Whisper encoding to score against")
    tokens = [engine.tokenizer.encode(text) for text in texts]
    loglik = np.full(len(texts), -np.inf)
    keep = [i for i, t in enumerate(tokens) if t]
    counts = np.array([max(1, len(t)) for t in tokens], dtype=float)
    if not keep:
        return loglik, counts
    encoded = np.asarray(encoding.output)
    used = min(encoded.shape[1], encoding.frames // 2 + 50)
    batch = np.ascontiguousarray(np.repeat(encoded[:, :used], len(keep), axis=0))
    aligned = engine.model.align(ctranslate2.StorageView.from_array(batch), engine.prompt,
                                 [tokens[i] for i in keep], min(encoding.frames, 2 * used))
    for i, alignment in zip(keep, aligned):
        probs = np.maximum(np.asarray(alignment.text_token_probs, dtype=float), 1e-30)
        loglik[i] = float(np.log(probs).sum())
    return loglik, counts


# --------------------------------------------------------------------------- fusion


@dataclass(frozen=True)
class _Reading:
    candidate: Candidate
    text_score: float
    sentences: list[str]


def _softmax(x: np.ndarray) -> np.ndarray:
    x = np.where(np.isfinite(x), x, -1e9)
    e = np.exp(x - x.max())
    return e / e.sum()


def can_rescore(engine: AsrEngine) -> bool:
    """Whether the audio can judge sentences for ``engine`` (CTC frames or Whisper's decoder)."""
    return isinstance(engine, (Wav2Vec2Engine, WhisperEngine))


class Rescorer:
    """Rescores candidates for one engine. ``weight`` (``w``): how much the audio counts
    against the text score, 0..1; ``temperature`` (``τ``): per-token log-likelihood
    spread; ``text_floor`` (``ε``): smoothing of the text score; ``support_exponent``
    (``γ``): how much absolute support scales the confidence. ``None`` takes the engine's
    default."""

    DEFAULTS = {"wav2vec2": (0.8, 0.5), "whisper": (0.9, 0.3)}

    def __init__(self, engine: AsrEngine, weight: float | None = None, temperature: float | None = None,
                 text_floor: float = 0.05, support_exponent: float = 0.5) -> None:
        if not can_rescore(engine):
            raise TypeError(f"no acoustic scorer for engine {engine!r}")
        self.engine = engine
        default_weight, default_temperature = self.DEFAULTS[engine.name]
        self.weight = default_weight if weight is None else weight
        self.temperature = default_temperature if temperature is None else temperature
        self.text_floor = text_floor
        self.support_exponent = support_exponent

    def acoustic_scores(self, result: AsrResult, sentences: Sequence[str]) -> np.ndarray:
        """Per-token acoustic log-likelihood of each sentence given the utterance."""
        engine = self.engine
        if isinstance(engine, Wav2Vec2Engine):
            if result.logprobs is None:
                raise ValueError("the ASR result has no frame log-probabilities")
            labels = [ctc_labels(s, engine.vocab, engine.word_delimiter, engine.upper_case) for s in sentences]
            loglik = ctc_log_likelihoods(result.logprobs, labels, engine.blank_id)
            counts = np.array([max(1, len(seq)) for seq in labels], dtype=float)
        else:
            loglik, counts = whisper_log_likelihoods(engine, result, [whisper_text(s) for s in sentences])
        return loglik / counts

    def fuse(self, text: np.ndarray, acoustic: np.ndarray, reference: float) -> tuple[np.ndarray, np.ndarray]:
        """``(confidence, fit)`` per reading from text scores, per-token acoustic
        log-likelihoods and the free transcript's (see the module docstring)."""
        posterior = _softmax((1 - self.weight) * np.log(text + self.text_floor) + self.weight * acoustic / self.temperature)
        fit = np.exp(np.minimum(0.0, np.where(np.isfinite(acoustic), acoustic, -1e9) - reference))
        return posterior * np.maximum(text, fit) ** self.support_exponent, fit

    def rescore(self, result: AsrResult, candidates: Sequence[Candidate],
                extra_sentences: Iterable[Sentence] = (), k: int = 5) -> list[Candidate]:
        """The ``k`` best of ``candidates`` and ``extra_sentences`` (grammar sentences the
        resolver did not propose), by the fused confidence in the module docstring. Each
        returned candidate is new, with ``score`` the confidence, ``sentence`` its
        best-supported phrasing and ``evidence`` extended by ``text``, ``acoustic``
        (per-token log-likelihood) and ``acoustic_fit``."""
        readings: dict[tuple, _Reading] = {}
        for c in candidates:
            reading = readings.get(c.key())
            if reading is None:
                readings[c.key()] = _Reading(c, c.score, [c.sentence])
            elif c.sentence not in reading.sentences:
                reading.sentences.append(c.sentence)
        for s in extra_sentences:
            key = Candidate(s.intent, dict(s.slots), 0.0, s.text).key()
            reading = readings.get(key)
            if reading is None:
                readings[key] = _Reading(Candidate(s.intent, dict(s.slots), 0.0, s.text, {"grammar": 1.0}), 0.0, [s.text])
            elif s.text not in reading.sentences:
                reading.sentences.append(s.text)
        if not readings:
            return []
        order = list(readings.values())
        flat = [(n, s) for n, r in enumerate(order) for s in r.sentences]
        transcript = result.text.strip()
        scores = self.acoustic_scores(result, [s for _, s in flat] + ([transcript] if transcript else []))
        reference = float(scores[-1]) if transcript else 0.0
        best = np.full(len(order), -np.inf)
        best_sentence = [r.candidate.sentence for r in order]
        for (n, sentence), score in zip(flat, scores):
            if score > best[n]:
                best[n], best_sentence[n] = score, sentence
        if np.isfinite(reference):
            reference = max(reference, float(best.max()))  # greedy decoding is not the maximum
        text = np.clip([r.text_score for r in order], 0.0, 1.0)
        confidence, fit = self.fuse(text, best, reference)
        out = []
        for n in np.argsort(-confidence, kind="stable")[:k]:
            c = order[n].candidate
            evidence = {**c.evidence, "text": float(order[n].text_score),
                        "acoustic": float(best[n]) if np.isfinite(best[n]) else -math.inf,
                        "acoustic_fit": float(fit[n])}
            out.append(dataclasses.replace(c, score=float(confidence[n]), sentence=best_sentence[n], evidence=evidence))
        return out


# --------------------------------------------------------------------------- alternatives


def grammar_alternatives(context: Context, candidates: Sequence[Candidate], limit: int = 24) -> list[Sentence]:
    """In-grammar neighbours of ``candidates`` for the audio to judge, nearest first:
    each candidate's command with one slot changed (``play deck 1`` → ``play deck 2``),
    then the other commands that take the same slots with the same values (``pause deck
    1``, ``sync deck 1``). Readings already among ``candidates`` are left out."""
    from djtui.core.context import Sentence

    seen = {c.key() for c in candidates}
    out: list[Sentence] = []

    def offer(intent: str, slots: dict[str, str]) -> None:
        key = Candidate(intent, slots, 0.0, "").key()
        if key in seen or len(out) >= limit:
            return
        seen.add(key)
        out.append(Sentence(context.render(intent, slots), intent, dict(slots)))

    for c in candidates:
        if c.intent not in context.intents:
            continue
        for name in sorted(c.slots):
            for value in context.slot_type_of(c.intent, name).values:
                offer(c.intent, {**c.slots, name: value})
    for c in candidates:
        names = set(c.slots)
        for intent, spec in context.intents.items():
            if spec.slot_names() == names and all(
                    c.slots[n] in context.slot_type_of(intent, n).values for n in names):
                offer(intent, dict(c.slots))
    return out
