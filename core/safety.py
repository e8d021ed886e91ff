"""The safety layer: every utterance gets a verdict before anything reaches Rekordbox.

A DJ mid-set would rather repeat a command than have the wrong one fire, so
:class:`SafetyGate` rejects whatever it cannot stand behind and says why. Rules, in the
order they are checked:

- ``out_of_grammar``: no candidate, or the best is below ``grammar_floor`` (chatter,
  lyrics), or an intent the context does not know or cannot send.
- Controls (the context's ``control:`` intents) work while disarmed: ``cancel`` (panic)
  and ``disarm`` act at once when they are as sure as any command (``min_confidence``),
  whatever the runner-up; ``arm`` and ``confirm`` need the confidence and margin below.
- ``disarmed``: nothing is sent until the DJ arms djtui.
- ``low_confidence``: the best score is below the threshold of what is at stake: its
  intent's safety class (``min_confidence_safe``, ``_guarded``, ``_destructive``), or
  ``min_confidence`` for djtui's own controls. An approved verdict's message says which
  threshold it passed.
- ``ambiguous``: the runner-up is within ``min_margin`` and would do something else.
- ``no_change``: a toggle (PlayPause for play/pause) whose deck is already in the wanted
  state: pressing it would do the opposite of what was said.
- ``cooldown``: the same command was sent less than ``cooldown_ms`` ago (an echo, a
  double trigger).
- ``rate_limit``: ``max_commands_per_minute`` sent in the last minute.
- ``needs_confirm``: a guarded or destructive intent on a deck that is playing, or whose
  state djtui does not know, or a toggle whose state is unknown. It waits
  ``confirm_timeout_s`` for ``confirm`` (``confirmed``); ``cancel`` drops it, silence
  lets it expire (``expired``, reported by :meth:`SafetyGate.tick`).
- ``ok``: approved; its commands go out.

Deck state comes from :class:`~djtui.core.decks.DeckState`: Rekordbox's feedback when it
arrives, else what this gate approved (an approved verdict counts as sent).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

from djtui.core.config import SafetyConfig
from djtui.core.context import Context, command_for
from djtui.core.decks import DECKS, DeckState
from djtui.core.errors import DjtuiError
from djtui.core.records import Candidate, MidiCommand, Pending, Verdict

REASONS = {
    "ok": "approved and sent",
    "accepted": "clear enough to act on (evaluation: nothing is sent)",
    "armed": "djtui is armed: commands will be sent",
    "disarmed": "djtui is disarmed: nothing is sent until you say 'arm'",
    "cancelled": "panic: pending command dropped and djtui disarmed",
    "confirmed": "the command waiting for confirmation was sent",
    "needs_confirm": "guarded command on a playing deck: say 'confirm' or 'cancel'",
    "expired": "no 'confirm' in time: the pending command was dropped",
    "nothing_pending": "'confirm' heard, but no command is waiting",
    "low_confidence": "not sure enough of what was said",
    "ambiguous": "two different commands are about as likely",
    "out_of_grammar": "not a command",
    "no_change": "the deck is already in that state: nothing sent",
    "cooldown": "the same command was just sent",
    "rate_limit": "too many commands in the last minute",
}
"""Every verdict reason and what it tells the DJ."""

STOPS_DECK = frozenset({"Cue", "Load"})
"""Rekordbox functions that leave a deck paused (Cue returns to the cue point and stops;
a freshly loaded track waits): without feedback, djtui's play state must follow."""


@dataclass(frozen=True)
class _Plan:
    """What a command candidate would do: its MIDI, the toggle it sets, its deck."""

    candidate: Candidate
    command: MidiCommand
    toggle: str | None
    sets: bool | None
    deck: int | None  # 1-4 for deck commands, None for global ones
    safety: str

    @property
    def identity(self) -> Hashable:
        return self.command, self.sets


class SafetyGate:
    """Judges candidates (best first) against the rules above; thread-safe.

    ``clock`` returns seconds (monotonic); tests inject a fake one. The TUI's arm key
    calls :meth:`arm`/:meth:`disarm`; the pipeline calls :meth:`judge` per utterance and
    :meth:`tick` now and then to expire a pending confirmation.
    """

    def __init__(self, context: Context, config: SafetyConfig | None = None,
                 deck_state: DeckState | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.context = context
        self.config = config or SafetyConfig()
        self.deck_state = deck_state if deck_state is not None else DeckState.for_context(context)
        self.clock = clock
        self._armed = self.config.armed_at_start
        self._pending: Pending | None = None
        self._last_sent: dict[Hashable, float] = {}
        self._sent_times: deque[float] = deque()
        self._lock = threading.RLock()

    # --- state ---------------------------------------------------------------------

    @property
    def armed(self) -> bool:
        return self._armed

    @property
    def pending(self) -> Pending | None:
        return self._pending

    def arm(self) -> None:
        with self._lock:
            self._armed = True

    def disarm(self) -> None:
        """Disarm and drop any pending command (the panic key)."""
        with self._lock:
            self._armed = False
            self._pending = None

    def tick(self) -> Verdict | None:
        """Drop a pending command whose time ran out; its ``expired`` verdict, once."""
        with self._lock:
            pending = self._pending
            if pending is None or self.clock() < pending.deadline:
                return None
            self._pending = None
            return Verdict(False, "expired", f"{pending.candidate.label()}: not confirmed in "
                           f"{self.config.confirm_timeout_s:g} s, dropped", pending.candidate)

    # --- judging -------------------------------------------------------------------

    def screen(self, candidates: Sequence[Candidate]) -> Verdict | None:
        """The rules about what was said, and only those: ``out_of_grammar``,
        ``low_confidence``, ``ambiguous`` (``cancel`` and ``disarm`` need the confidence,
        not the margin). ``None`` when the best reading passes. Arming, deck state,
        cooldowns and rate limits depend on the session's history, not on what was said:
        ``djtui eval`` counts a command as accepted when it passes here."""
        ranked = sorted(candidates, key=lambda c: c.score, reverse=True)
        if rejection := self._grammar(ranked):
            return rejection
        intent = self.context.intents[ranked[0].intent]
        if intent.control in ("cancel", "disarm"):
            return self._unsure(ranked[0])
        return self._doubt(ranked[0], ranked)

    def accept(self, candidates: Sequence[Candidate]) -> Verdict:
        """The verdict on what was said alone (:meth:`screen`), as ``djtui eval`` counts
        it: a rejection, or ``accepted`` for the best reading; nothing is sent."""
        if (rejection := self.screen(candidates)) is not None:
            return rejection
        top = max(candidates, key=lambda c: c.score)
        return Verdict(True, "accepted", f"{top.label()} · {self.passed(top)} (evaluation: nothing sent)", top)

    def _grammar(self, ranked: list[Candidate]) -> Verdict | None:
        """``out_of_grammar`` when nothing, or nothing the context knows, was heard."""
        if not ranked or ranked[0].score < self.config.grammar_floor:
            return Verdict(False, "out_of_grammar", "not a command", ranked[0] if ranked else None)
        top = ranked[0]
        if top.intent not in self.context.intents:
            return Verdict(False, "out_of_grammar", f"'{top.intent}' is not in context '{self.context.name}'", top)
        return None

    def judge(self, candidates: Sequence[Candidate]) -> Verdict:
        """The verdict on one utterance's candidates (best first)."""
        with self._lock:
            expired = self.tick()
            ranked = sorted(candidates, key=lambda c: c.score, reverse=True)
            if rejection := self._grammar(ranked):
                return rejection
            top = ranked[0]
            intent = self.context.intents[top.intent]
            if intent.control is not None:
                return self._control(intent.control, top, ranked, expired)
            if not self._armed:
                return Verdict(False, "disarmed", f"{top.label()}: disarmed, say 'arm' first", top)
            if rejection := self._doubt(top, ranked):
                return rejection
            plan = self._plan(top)
            if plan is None:
                return Verdict(False, "out_of_grammar", f"'{top.intent}' sends no MIDI", top)
            superseded = self._pending
            self._pending = None
            verdict = self._decide(plan, confirmed=False)
            if superseded is not None:
                verdict = Verdict(verdict.approved, verdict.reason,
                                  f"{verdict.message} (dropped unconfirmed {superseded.candidate.label()})",
                                  verdict.candidate, verdict.commands)
            return verdict

    def _control(self, control: str, top: Candidate, ranked: list[Candidate], expired: Verdict | None) -> Verdict:
        # Backing off (cancel, disarm) must never be harder than going ahead: as sure as
        # any command, but a runner-up close behind does not stop it. Not easier either: a
        # misheard command or a lyric read as "cancel" would disarm djtui for the rest of
        # the set. Arming and confirming need the confidence and the margin.
        if control in ("cancel", "disarm") and (rejection := self._unsure(top)):
            return rejection
        if control == "cancel":
            dropped = self._pending
            self.disarm()
            what = f"dropped {dropped.candidate.label()}, " if dropped else ""
            return Verdict(True, "cancelled", f"cancel: {what}disarmed", top)
        if control == "disarm":
            self.disarm()
            return Verdict(True, "disarmed", "disarmed: nothing will be sent", top)
        if rejection := self._doubt(top, ranked):
            return rejection
        if control == "arm":
            was = self._armed
            self._armed = True
            return Verdict(True, "armed", "already armed" if was else "armed: commands will be sent", top)
        # confirm
        if not self._armed:
            return Verdict(False, "disarmed", "confirm: disarmed, nothing is waiting", top)
        if self._pending is None:
            if expired is not None:
                return Verdict(False, "expired", f"confirm came too late: {expired.message}", expired.candidate)
            return Verdict(False, "nothing_pending", "confirm: no command is waiting", top)
        pending = self._pending
        self._pending = None
        plan = self._plan(pending.candidate)
        assert plan is not None  # it was planned when it was held
        return self._decide(plan, confirmed=True)

    def threshold(self, candidate: Candidate) -> tuple[float, str]:
        """The ``min_confidence`` ``candidate`` must reach, and for what: its intent's
        safety class, or ``control`` for djtui's own commands."""
        intent = self.context.intents.get(candidate.intent)
        if intent is None or intent.control is not None:
            return self.config.min_confidence, "control"
        return getattr(self.config, f"min_confidence_{intent.safety}", self.config.min_confidence), intent.safety

    def passed(self, candidate: Candidate) -> str:
        """Which confidence rule let ``candidate`` through, for its verdict's message."""
        threshold, what = self.threshold(candidate)
        return f"{candidate.score:.2f} ≥ {threshold:.2f} ({what})"

    def _unsure(self, top: Candidate) -> Verdict | None:
        """``low_confidence`` when the best reading is below its threshold."""
        threshold, what = self.threshold(top)
        if top.score < threshold:
            return Verdict(False, "low_confidence", f"{top.label()}: {top.score:.2f} < {threshold:.2f} ({what})", top)
        return None

    def _doubt(self, top: Candidate, ranked: list[Candidate]) -> Verdict | None:
        """``low_confidence`` or ``ambiguous`` when the reading is not clear enough."""
        if rejection := self._unsure(top):
            return rejection
        for other in ranked[1:]:
            if top.score - other.score >= self.config.min_margin:
                break
            if self._identity(other) != self._identity(top):
                return Verdict(False, "ambiguous",
                               f"{top.label()} ({top.score:.2f}) or {other.label()} ({other.score:.2f})?", top)
        return None

    def _identity(self, candidate: Candidate) -> Hashable:
        """What a candidate does, so two readings that do the same thing are not
        ambiguous (``drop the left deck`` and ``play deck one``)."""
        intent = self.context.intents.get(candidate.intent)
        if intent is not None and intent.control is not None:
            return "control", intent.control
        plan = self._plan(candidate)
        return plan.identity if plan is not None else candidate.key()

    def _plan(self, candidate: Candidate) -> _Plan | None:
        intent = self.context.intents.get(candidate.intent)
        if intent is None or intent.action is None:
            return None
        try:
            command = command_for(intent, candidate.slots)
        except DjtuiError:
            return None
        action = intent.action
        deck = command.channel + 1 if action.channel is None and command.channel < DECKS else None
        return _Plan(candidate, command, action.toggle, action.sets, deck, intent.safety)

    def _decide(self, plan: _Plan, confirmed: bool) -> Verdict:
        """The state-dependent rules, for a fresh command or one being confirmed."""
        top, command = plan.candidate, plan.command
        now = self.clock()
        if plan.toggle is not None and plan.sets is not None:
            current = self.deck_state.get(plan.toggle, command.channel)
            if current is plan.sets:
                where = f"deck {plan.deck}" if plan.deck else "it"
                state = f"{plan.toggle} is {'on' if plan.sets else 'off'}"
                return Verdict(False, "no_change", f"{top.label()}: {where} already there ({state}), nothing sent", top)
        last = self._last_sent.get(plan.identity)
        if not confirmed and last is not None and (now - last) * 1000 < self.config.cooldown_ms:
            return Verdict(False, "cooldown", f"{top.label()}: sent {(now - last) * 1000:.0f} ms ago", top)
        while self._sent_times and now - self._sent_times[0] >= 60.0:
            self._sent_times.popleft()
        if len(self._sent_times) >= self.config.max_commands_per_minute:
            return Verdict(False, "rate_limit",
                           f"{top.label()}: {len(self._sent_times)} commands in the last minute", top)
        if not confirmed and (why := self._confirm_needed(plan)):
            self._pending = Pending(top, (command,), now + self.config.confirm_timeout_s)
            return Verdict(False, "needs_confirm",
                           f"{top.label()}: {why}; say 'confirm' within {self.config.confirm_timeout_s:g} s", top)
        self._record(plan, now)
        reason = "confirmed" if confirmed else "ok"
        return Verdict(True, reason, f"{top.label()} → {command.label()} · {self.passed(top)}", top, (command,))

    def _confirm_needed(self, plan: _Plan) -> str | None:
        if plan.toggle is not None and plan.sets is not None \
                and self.deck_state.get(plan.toggle, plan.command.channel) is None:
            return f"{plan.toggle} state of {self._where(plan)} unknown (no feedback yet)"
        if plan.safety == "safe":
            return None
        if plan.deck is not None:
            playing = self.deck_state.playing(plan.deck)
            if playing is None:
                return f"{plan.safety} and deck {plan.deck}'s state is unknown"
            return f"{plan.safety} on playing deck {plan.deck}" if playing else None
        states = [self.deck_state.playing(d) for d in range(1, DECKS + 1)]
        if any(states):
            return f"{plan.safety} while deck {states.index(True) + 1} plays"
        if all(s is None for s in states):
            return f"{plan.safety} and no deck's state is known"
        return None

    @staticmethod
    def _where(plan: _Plan) -> str:
        return f"deck {plan.deck}" if plan.deck else f"channel {plan.command.channel + 1}"

    def _record(self, plan: _Plan, now: float) -> None:
        self._last_sent[plan.identity] = now
        self._sent_times.append(now)
        if plan.toggle is not None and plan.sets is not None:
            self.deck_state.set(plan.toggle, plan.command.channel, plan.sets, source="sent")
        if plan.command.function in STOPS_DECK and plan.deck is not None:
            self.deck_state.set("playing", plan.command.channel, False, source="sent")
