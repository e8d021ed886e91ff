"""The safety layer: every utterance gets a verdict before anything reaches Rekordbox.

A DJ mid-set would rather repeat a command than have the wrong one fire, so
:class:`SafetyGate` rejects whatever it cannot stand behind and says why. Rules, in the
order they are checked:

- ``out_of_grammar``: no candidate, or the best is below ``grammar_floor`` (chatter,
  lyrics), or an intent the context does not know or cannot send.
- Controls (the context's ``control:`` intents) work while disarmed: ``cancel`` (panic),
  ``disarm`` and ``hold`` act at once when they are as sure as any command
  (``min_confidence``), whatever the runner-up; ``arm`` and ``confirm`` need the
  confidence and margin below. ``cancel`` and ``disarm`` also halt every ramp; ``hold``
  (``held``) halts them and drops a command waiting for 'confirm', and stays armed.
- ``disarmed``: nothing is sent until the DJ arms djtui.
- ``low_confidence``: the best score is below the threshold of what is at stake: its
  intent's safety class (``min_confidence_safe``, ``_guarded``, ``_destructive``; an
  empty one is ``min_confidence``), or ``min_confidence`` for djtui's own controls. An approved verdict's message says which
  threshold it passed.
- ``ambiguous``: the runner-up is within ``min_margin`` and would do something else.
- ``no_change``: a toggle (PlayPause for play/pause) whose deck is already in the wanted
  state: pressing it would do the opposite of what was said.
- Moves of knobs and faders (an intent's ``move:``), where the control is where djtui
  last put it (:class:`~djtui.core.positions.ControlPositions`; Rekordbox reports no
  positions): ``no_tempo``, a duration in beats or bars without a tempo; ``no_value``, a
  relative move of a control djtui has not set; ``which_way``, "more" on a control resting
  at its centre; ``no_change``, already at the target.
- ``cooldown``: the same command was sent less than ``cooldown_ms`` ago (an echo, a
  double trigger).
- ``rate_limit``: ``max_commands_per_minute`` sent in the last minute.
- ``too_fast``: a move with a duration that would take a control of a playing deck
  faster than its per-beat limit (``[controls] <kind>_per_beat``; the crossfader and
  the FX depth while any deck plays); a cut ("kill", "cut") has no limit.
- ``needs_confirm``: a guarded or destructive intent on a deck that is playing, or whose
  state djtui does not know, or a toggle whose state is unknown, or a move of a control
  djtui has not set on a playing deck (its first step may jump). It waits
  ``confirm_timeout_s`` for ``confirm`` (``confirmed``); ``cancel`` drops it, silence
  lets it expire (``expired``, reported by :meth:`SafetyGate.tick`).
- ``ramped``: a move without a duration on a playing deck: approved as a ramp at the
  per-beat limit, never a jump.
- ``ok``: approved; its commands go out, its move starts.

Deck state comes from :class:`~djtui.core.decks.DeckState`: Rekordbox's feedback when it
arrives, else what this gate approved (an approved verdict counts as sent).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

from djtui.core.config import ControlsConfig, SafetyConfig
from djtui.core.context import Context, command_for
from djtui.core.controls import MoveError, MoveRequest
from djtui.core.decks import DECKS, DeckState
from djtui.core.errors import DjtuiError
from djtui.core.positions import ControlPositions
from djtui.core.records import Candidate, MidiCommand, Move, Pending, Verdict
from djtui.core.tempo import Tempo

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
    "midi_lost": "the MIDI port is gone (its program or the JACK server stopped): nothing was sent",
    "held": "'hold': every knob and fader ramp stopped where it was",
    "ramped": "a jump on a playing deck goes as a ramp within the per-beat limit",
    "no_value": "djtui has not set that control yet and Rekordbox does not report it: say where to put it, "
                "or reset it first",
    "which_way": "the control rests at its centre, where 'more' could go either way: say up or down",
    "no_tempo": "a duration in beats or bars needs a tempo: say it in seconds, or set the tempo",
    "too_fast": "faster than the per-beat limit on a playing deck: say a longer duration",
}
"""Every verdict reason and what it tells the DJ."""

_BACKING_OFF = ("cancel", "disarm", "hold")
"""Controls that stop things: as sure as any command, but a close runner-up never stops them."""

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


@dataclass(frozen=True)
class _MovePlan:
    """What a move candidate asks of its control (:class:`MoveRequest`)."""

    candidate: Candidate
    request: MoveRequest
    safety: str

    @property
    def identity(self) -> Hashable:
        return self.request.identity()

    @property
    def deck(self) -> int | None:
        return self.request.deck


@dataclass(frozen=True)
class _Pace:
    """How an approved move goes: from ``start`` (``None``: a jump) over ``seconds``,
    never faster than ``max_per_s`` (travel a second); ``why``, in words."""

    start: float | None
    seconds: float
    max_per_s: float | None
    why: str
    ramped: bool = False


class SafetyGate:
    """Judges candidates (best first) against the rules above; thread-safe.

    ``clock`` returns seconds (monotonic); tests inject a fake one. The TUI's arm key
    calls :meth:`arm`/:meth:`disarm`; the pipeline calls :meth:`judge` per utterance and
    :meth:`tick` now and then to expire a pending confirmation. Moves read where each
    control is from ``positions``, count beats in ``tempo`` and keep to ``limits``.
    """

    def __init__(self, context: Context, config: SafetyConfig | None = None,
                 deck_state: DeckState | None = None, clock: Callable[[], float] = time.monotonic, *,
                 positions: ControlPositions | None = None, tempo: Tempo | None = None,
                 limits: ControlsConfig | None = None) -> None:
        self.context = context
        self.config = config or SafetyConfig()
        self.deck_state = deck_state if deck_state is not None else DeckState.for_context(context)
        self.clock = clock
        self.positions = positions if positions is not None else ControlPositions()
        self.limits = limits or ControlsConfig()
        self.tempo = tempo if tempo is not None else Tempo(self.limits.bpm)
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
        if intent.control in _BACKING_OFF:
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
        # the set. Arming and confirming need the confidence and the margin. Holding a
        # ramp is backing off too: it stops a fader where it is, and never starts one.
        if control in _BACKING_OFF and (rejection := self._unsure(top)):
            return rejection
        if control == "cancel":
            dropped = self._pending
            self.disarm()
            what = f"dropped {dropped.candidate.label()}, " if dropped else ""
            return Verdict(True, "cancelled", f"cancel: {what}disarmed", top, halts=True)
        if control == "disarm":
            self.disarm()
            return Verdict(True, "disarmed", "disarmed: nothing will be sent", top, halts=True)
        if control == "hold":
            dropped, self._pending = self._pending, None
            what = f"; dropped unconfirmed {dropped.candidate.label()}" if dropped else ""
            return Verdict(True, "held", f"hold: every ramp stopped where it is{what}", top, halts=True)
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
        return self.config.min_confidence_for(intent.safety), intent.safety

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

    def _plan(self, candidate: Candidate) -> _Plan | _MovePlan | None:
        intent = self.context.intents.get(candidate.intent)
        if intent is not None and intent.move is not None:
            try:
                request = intent.move.request(candidate.slots, self.context.controls)
            except (MoveError, KeyError, ValueError):
                return None
            return _MovePlan(candidate, request, intent.safety)
        if intent is None or intent.action is None:
            return None
        try:
            command = command_for(intent, candidate.slots)
        except DjtuiError:
            return None
        action = intent.action
        deck = command.channel + 1 if action.channel is None and command.channel < DECKS else None
        return _Plan(candidate, command, action.toggle, action.sets, deck, intent.safety)

    def _decide(self, plan: _Plan | _MovePlan, confirmed: bool) -> Verdict:
        """The state-dependent rules, for a fresh command or one being confirmed."""
        if isinstance(plan, _MovePlan):
            return self._decide_move(plan, confirmed)
        top, command = plan.candidate, plan.command
        now = self.clock()
        if plan.toggle is not None and plan.sets is not None:
            current = self.deck_state.get(plan.toggle, command.channel)
            if current is plan.sets:
                where = f"deck {plan.deck}" if plan.deck else "it"
                state = f"{plan.toggle} is {'on' if plan.sets else 'off'}"
                return Verdict(False, "no_change", f"{top.label()}: {where} already there ({state}), nothing sent", top)
        if rejection := self._repeated(plan, now, confirmed):
            return rejection
        if not confirmed and (why := self._confirm_needed(plan)):
            self._pending = Pending(top, (command,), now + self.config.confirm_timeout_s)
            return Verdict(False, "needs_confirm",
                           f"{top.label()}: {why}; say 'confirm' within {self.config.confirm_timeout_s:g} s", top)
        self._record(plan, now)
        reason = "confirmed" if confirmed else "ok"
        return Verdict(True, reason, f"{top.label()} → {command.label()} · {self.passed(top)}", top, (command,))

    def _repeated(self, plan: _Plan | _MovePlan, now: float, confirmed: bool) -> Verdict | None:
        """``cooldown`` and ``rate_limit``."""
        top = plan.candidate
        last = self._last_sent.get(plan.identity)
        if not confirmed and last is not None and (now - last) * 1000 < self.config.cooldown_ms:
            return Verdict(False, "cooldown", f"{top.label()}: sent {(now - last) * 1000:.0f} ms ago", top)
        while self._sent_times and now - self._sent_times[0] >= 60.0:
            self._sent_times.popleft()
        if len(self._sent_times) >= self.config.max_commands_per_minute:
            return Verdict(False, "rate_limit",
                           f"{top.label()}: {len(self._sent_times)} commands in the last minute", top)
        return None

    def _confirm_needed(self, plan: _Plan) -> str | None:
        if plan.toggle is not None and plan.sets is not None \
                and self.deck_state.get(plan.toggle, plan.command.channel) is None:
            return f"{plan.toggle} state of {self._where(plan)} unknown (no feedback yet)"
        return self._playing_risk(plan.safety, plan.deck)

    def _playing_risk(self, safety: str, deck: int | None) -> str | None:
        """Why a guarded or destructive command on ``deck`` (``None``: a global one)
        must wait for 'confirm': a deck plays, or its state is unknown."""
        if safety == "safe":
            return None
        if deck is not None:
            playing = self.deck_state.playing(deck)
            if playing is None:
                return f"{safety} and deck {deck}'s state is unknown"
            return f"{safety} on playing deck {deck}" if playing else None
        states = [self.deck_state.playing(d) for d in range(1, DECKS + 1)]
        if any(states):
            return f"{safety} while deck {states.index(True) + 1} plays"
        if all(s is None for s in states):
            return f"{safety} and no deck's state is known"
        return None

    # --- moves of knobs and faders -------------------------------------------------

    def _decide_move(self, plan: _MovePlan, confirmed: bool) -> Verdict:
        """The move rules (module docstring, in order) for a fresh move or one confirmed."""
        top, request, now = plan.candidate, plan.request, self.clock()
        found = self._target(plan)
        if isinstance(found, Verdict):
            return found
        asked, position, target = found
        if rejection := self._repeated(plan, now, confirmed):
            return rejection
        limited = not request.cut and self._audible(request)
        pace = self._pace(plan, position, target, asked, limited)
        if isinstance(pace, Verdict):
            return pace
        if not confirmed and (risk := self._move_risk(plan, position, limited)):
            self._pending = Pending(top, (), now + self.config.confirm_timeout_s)
            return Verdict(False, "needs_confirm",
                           f"{top.label()}: {risk}; say 'confirm' within {self.config.confirm_timeout_s:g} s", top)
        self._last_sent[plan.identity] = now
        self._sent_times.append(now)
        control = request.control
        move = Move(control.name, request.function, request.channel, control.cc, control.hires, request.deck,
                    pace.start, target, pace.seconds, pace.max_per_s, control.reverse, pace.why)
        reason = "confirmed" if confirmed else "ramped" if pace.ramped else "ok"
        return Verdict(True, reason, f"{top.label()} → {move.label()} ({pace.why})", top, moves=(move,))

    def _target(self, plan: _MovePlan) -> tuple[float | None, float | None, float] | Verdict:
        """``(seconds asked, where the control is, where it goes)``, or ``no_tempo``,
        ``no_value``, ``which_way``, ``no_change``."""
        top, request = plan.candidate, plan.request
        asked = None
        if request.duration is not None and (asked := self.tempo.seconds(request.duration)) is None:
            return Verdict(False, "no_tempo", f"{top.label()}: {request.duration.label()} needs a tempo and none is "
                           "set: say it in seconds, or set one (Live screen: b taps it; [controls] bpm)", top)
        position = self.positions.get(request.control.name, request.channel)
        target = request.target_from(position)
        if target is None and position is None:
            return Verdict(False, "no_value", f"{top.label()}: djtui has not set {self._what(request)} yet and "
                           "Rekordbox does not report it: say where to put it (\"… to half\") or reset it first", top)
        if target is None:
            return Verdict(False, "which_way", f"{top.label()}: {self._what(request)} rests at its centre, where "
                           "'more' could go either way: say up or down", top)
        if position is not None and abs(target - position) < 0.5 / request.control.steps:
            return Verdict(False, "no_change", f"{top.label()}: {self._what(request)} is already at {target:.2f}, "
                           "nothing sent", top)
        return asked, position, target

    def _pace(self, plan: _MovePlan, position: float | None, target: float, asked: float | None,
              limited: bool) -> _Pace | Verdict:
        """How the move goes: at once, over the time asked, or, where it would be heard,
        within the per-beat limit (a ramp at the limit when no time was asked,
        ``too_fast`` when the time asked is shorter)."""
        request = plan.request
        start = position if position is not None else request.start
        if start is None:  # djtui does not know where it is (not heard, or confirmed): one jump
            return _Pace(None, 0.0, None, "djtui did not know where it was: set at once")
        why = request.duration.label() if request.duration else "at once"
        if request.cut:
            return _Pace(start, asked or 0.0, None, f"a cut: {why}")
        if not limited:
            return _Pace(start, asked or 0.0, None, why if position is not None else f"from {start:g}, {why}")
        beat_s = self.tempo.beat_s or self.limits.beat_s_without_tempo
        per_beat = self.limits.per_beat(request.control.limit)
        rate = per_beat / beat_s  # travel per second
        needed = abs(target - start) / rate
        limit = f"at most {per_beat:g} of its travel a beat on a playing deck, at {self._tempo_words()}"
        if asked is None:
            return _Pace(start, needed, rate, f"ramped: {limit}", ramped=True)
        if asked < needed * (1 - 1e-9):
            return Verdict(False, "too_fast", f"{plan.candidate.label()}: {abs(target - start):.2f} of the travel in "
                           f"{asked:.2f} s is faster than {limit}: give it {needed / beat_s:.1f} beats or more",
                           plan.candidate)
        return _Pace(start, asked, rate, why)

    def _audible(self, request: MoveRequest) -> bool:
        """Whether a move can be heard: its deck plays (or may: state unknown); for a
        global control (crossfader, FX depth), any deck plays or none is known."""
        if request.deck is not None and request.control.per_deck:
            return self.deck_state.playing(request.deck) is not False
        states = [self.deck_state.playing(d) for d in range(1, DECKS + 1)]
        return any(states) or all(s is None for s in states)

    def _move_risk(self, plan: _MovePlan, position: float | None, limited: bool) -> str | None:
        """Why a move must wait for 'confirm': a guarded one where it would be heard, or a
        control djtui has not set on a playing deck (its first step may jump)."""
        request = plan.request
        if position is None and limited:
            first = f"to {request.start:g}" if request.start is not None else "to the target"
            return (f"djtui has not set {self._what(request)} and Rekordbox does not report it: the first step "
                    f"jumps it {first}")
        return self._playing_risk(plan.safety, request.deck if request.control.per_deck else None)

    @staticmethod
    def _what(request: MoveRequest) -> str:
        where = f" on deck {request.deck}" if request.deck is not None and request.control.per_deck else ""
        return f"{request.control.name}{where}"

    def _tempo_words(self) -> str:
        if self.tempo.bpm is not None:
            return f"{self.tempo.bpm:g} BPM"
        return f"no tempo set (a beat counted as {self.limits.beat_s_without_tempo:g} s)"

    @staticmethod
    def _where(plan: _Plan) -> str:
        return f"deck {plan.deck}" if plan.deck else f"channel {plan.command.channel + 1}"

    def _record(self, plan: _Plan, now: float) -> None:
        """A command approved: its cooldown and rate count start, its toggle is set."""
        self._last_sent[plan.identity] = now
        self._sent_times.append(now)
        if plan.toggle is not None and plan.sets is not None:
            self.deck_state.set(plan.toggle, plan.command.channel, plan.sets, source="sent")
        if plan.command.function in STOPS_DECK and plan.deck is not None:
            self.deck_state.set("playing", plan.command.channel, False, source="sent")
