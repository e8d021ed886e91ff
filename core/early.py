"""Finalise a command at the first silence, when the grammar says it is complete.

A DJ feels the time from the last syllable to Rekordbox acting. Waiting out the VAD's
hang-over (300 ms of silence) before deciding costs most of it. Like Rhino's
``is_finalized``, the grammar can decide sooner: while the DJ speaks, the speech so far
is glimpsed at a fixed cadence (:meth:`~djtui.core.recognize.Recognizer.glimpse`); at the
first silent block the utterance is understood in full (the draft). The command fires
then, without the hang-over, when

1. the safety gate's rules about what was said pass (confidence and margin);
2. no longer sentence of the grammar could mean something else ("loop" must not fire
   while "loop eight" is being said; an optional "deck" at the end changes nothing);
3. the reading has been stable: the last ``stable_updates - 1`` glimpses read the same
   command as the draft.

Otherwise the utterance ends after the hang-over as before. Arming, deck state,
confirmation and every other safety rule apply unchanged.

Glimpses cost CPU, a model run each, so none comes before the speech could hold the
grammar's shortest command said fast, and the pipeline skips one while it is behind
(:class:`~djtui.core.pipeline.Pipeline`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from djtui.core.records import Understanding

if TYPE_CHECKING:
    from djtui.core.safety import SafetyGate

FAST_PHONEMES_PER_S = 20
"""Phonemes a second of fast speech (conversation runs at 10-15): the speech so far holds
no complete command before the shortest sentence of the grammar could be said at this
pace."""


@dataclass
class EarlyFinalizer:
    """Decides, per utterance, whether its draft may fire at once. ``glimpse_blocks``:
    blocks of speech between glimpses; ``first_blocks``: blocks of speech
    before the first (the shortest command said fast); ``stable_updates``: how many
    consecutive readings (glimpses and the draft) must agree; ``enabled`` False never
    finalises early."""

    enabled: bool = True
    glimpse_blocks: int = 10
    stable_updates: int = 2
    first_blocks: int = 0
    glimpses: list[tuple | None] = field(default_factory=list)
    """The command each glimpse of the speech in progress read, oldest first."""
    _next_at: int = 0

    def start(self) -> None:
        """A new utterance began: forget the last one's glimpses."""
        self.glimpses = []
        self._next_at = max(self.glimpse_blocks, self.first_blocks)

    def glimpse_due(self, voiced_blocks: int) -> bool:
        """Whether the speech so far (``voiced_blocks`` long) should be glimpsed now.
        Only the glimpses the draft is compared with are worth their CPU time."""
        if not self.enabled or self.stable_updates < 2 or voiced_blocks < self._next_at:
            return False
        self._next_at = voiced_blocks + self.glimpse_blocks
        return True

    def note(self, key: tuple | None) -> None:
        self.glimpses.append(key)

    def decide(self, draft: Understanding, gate: SafetyGate) -> bool:
        """Whether ``draft`` (the utterance understood at the first silent block) fires now."""
        if not self.enabled or draft.best is None:
            return False
        best = draft.best
        if gate.screen(draft.candidates) is not None:
            return False
        if best.evidence.get("more", 1.0):
            return False
        needed = self.stable_updates - 1
        recent = self.glimpses[-needed:] if needed else []
        return len(recent) == needed and all(key == best.key() for key in recent)
