"""How a training run is judged: the takes it holds back, and how the model's
transcripts of them score.

One take of every command (a context intent: play, sync, loop…) said at least twice is
held back (a seeded choice), and more where that is too few to judge by (a context of
few commands: coffee_maker has one; see :data:`MIN_HELD_BACK`): the model never trains
on them, and every epoch it is asked "which command is this?" — the question the DJ
cares about. The held-back takes are also what the new model's confidence is calibrated
on (:mod:`djtui.training.calibrate`). Scores are word and character error rates (jiwer) and command
accuracy: the resolver's top candidate for the transcript must be the take's intent
with its slots.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from djtui.core.context_file import default_context, load_context
from djtui.core.errors import DjtuiError
from djtui.core.text import normalize_text
from djtui.training.manifest import Take


@dataclass(frozen=True)
class Metrics:
    """Validation scores: word and character error rates (0-1), command accuracy (0-1,
    None without a resolver) and how many takes they cover."""

    wer: float
    cer: float
    accuracy: float | None
    n: int


MIN_HELD_BACK = 40
"""Held-back takes a run wants at least, up to a tenth of its takes. One take of each
command is plenty for a DJ's recording session (41 commands, 123 takes) and for the DJ
context model (55 of 1,100), but a context of one command would be validated, stopped
early and calibrated on a single take; there the other held-back takes are drawn from
the commands in turn, each keeping at least one take to train on."""


def hold_back(takes: Sequence[Take], seed: int = 0) -> tuple[list[Take], list[Take]]:
    """``(train, validation)``: one take of every intent that has at least two goes to
    validation, chosen with ``seed``, then more in turn over the intents until
    validation holds ``min(MIN_HELD_BACK, len(takes) // 10)``; an intent said once stays
    in training, and every intent keeps a take in training. No file is on both sides.
    The order of the manifest is kept on both sides."""
    by_command: dict[str, list[int]] = {}
    for index, take in enumerate(takes):
        by_command.setdefault(take.intent, []).append(index)
    rng = random.Random(seed)
    held = {rng.choice(indices) for _, indices in sorted(by_command.items()) if len(indices) >= 2}
    if not held:
        raise DjtuiError("every command has only one take: nothing to hold back for validation",
                         "record (or synthesize) at least two takes of a command")
    _hold_more(held, by_command, min(MIN_HELD_BACK, len(takes) // 10), rng)
    # By file, not by line: a take listed twice must not be trained on as its other copy.
    held_files = {takes[i].path for i in held}
    return [t for t in takes if t.path not in held_files], [t for i, t in enumerate(takes) if i in held]


def _hold_more(held: set[int], by_command: dict[str, list[int]], want: int, rng: random.Random) -> None:
    """Add takes to ``held`` in turn over the commands until it has ``want``, leaving
    every command at least one take to train on."""
    pools = {name: rng.sample(rest, len(rest))
             for name, indices in sorted(by_command.items()) if len(rest := [i for i in indices if i not in held]) > 1}
    while len(held) < want and pools:
        for name in list(pools):
            if len(held) >= want:
                break
            held.add(pools[name].pop())
            if len(pools[name]) <= 1:
                del pools[name]


class CommandChecker:
    """Is a transcript the right command? The resolver's top candidate must match the
    take's intent and slots. Verdicts are cached per transcript: validation transcripts
    repeat across epochs and resolving garbled text is the slow case."""

    def __init__(self, resolver: Any) -> None:
        self.resolver = resolver
        self._top: dict[str, tuple[str, dict[str, str]] | None] = {}

    def top(self, transcript: str) -> tuple[str, dict[str, str]] | None:
        if transcript not in self._top:
            from djtui.core.resolve import TranscriptTooLong

            try:
                candidates = self.resolver.resolve(transcript) if transcript else []
            except TranscriptTooLong:  # an untrained model babbling: no command, so a wrong one
                candidates = []
            self._top[transcript] = (candidates[0].intent, dict(candidates[0].slots)) if candidates else None
        return self._top[transcript]

    def correct(self, transcript: str, take: Take) -> bool:
        return self.top(transcript) == (take.intent, take.slots)


def command_checker(context_path: Path | None) -> CommandChecker | None:
    """A command checker over the context's resolver (default: the bundled DJ context),
    or None if this install has no resolver."""
    try:
        from djtui.core.resolve import Resolver
    except ImportError:
        return None

    context = load_context(context_path) if context_path else default_context()
    return CommandChecker(Resolver(context))


def score(transcripts: Sequence[str], takes: Sequence[Take], checker: CommandChecker | None = None) -> Metrics:
    """WER and CER (over the whole set, on normalized text) and command accuracy of
    ``transcripts`` of ``takes``."""
    import jiwer

    refs = [normalize_text(t.text) for t in takes]
    hyps = [normalize_text(h) or "<empty>" for h in transcripts]  # jiwer refuses empty hypotheses
    accuracy = None
    if checker is not None:
        accuracy = sum(checker.correct(h, t) for h, t in zip(transcripts, takes)) / max(1, len(takes))
    return Metrics(float(jiwer.wer(refs, hyps)), float(jiwer.cer(refs, hyps)), accuracy, len(takes))
