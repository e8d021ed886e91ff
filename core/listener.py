"""Frames in, one :class:`~djtui.core.events.Outcome` per command out.

::

    listener = Listener(config, context=load_context("my.yaml"), dry_run=True)
    for frame in frames:                       # 512 float32 samples at 16 kHz
        if (outcome := listener.process(frame)) is not None:
            print(outcome.transcript, outcome.command, outcome.verdict.reason)

Each block goes through one door, :meth:`Listener.step`: the VAD and endpointer hear it,
and the step says what is due now — nothing, a *glimpse* of the speech in progress, a
*draft* of the utterance the silence that just began will end, or an *utterance* that has
ended. Each due item does its own work when run (:class:`GlimpseDue`, :class:`DraftDue`,
:class:`UtteranceDue`). :meth:`Listener.process` runs them at once, on the caller's
thread (``djtui eval``, ``djtui listen --fast``); the live
:class:`~djtui.core.pipeline.Pipeline` runs the same items on its threads, so the audio
never waits for a model. Either way the same code decides when to glimpse, draft,
finalise early and understand (:mod:`djtui.core.early`).

Every step is published as a typed event (:mod:`djtui.core.events`) to the subscribers;
the session log hears each event after them.

``act=False`` judges by what was said alone (:meth:`SafetyGate.accept`) and sends
nothing: the accept decision ``djtui eval`` measures, with the live stages.
"""

from __future__ import annotations

import itertools
import logging
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import CancelledError, Future
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from djtui.core import stages as build_stages
from djtui.core.audio import level
from djtui.core.config import Config
from djtui.core.context import Context
from djtui.core.early import FAST_PHONEMES_PER_S, EarlyFinalizer
from djtui.core.errors import DjtuiError
from djtui.core.events import (STAGES, ArmedChanged, Dropped, Error, Event, Expired, Hearing, ListeningChanged,
                               Outcome, RampEnd, SpeechEnded, SpeechStarted, Status, Usage)
from djtui.core.recognize import Stopped
from djtui.core.records import Candidate, CommandKey, Understanding, Utterance, Verdict

if TYPE_CHECKING:
    from djtui.core.stages import Stages

log = logging.getLogger(__name__)

Subscriber = Callable[[Event], None]

USAGE_LOG_EVERY_S = 30.0
"""How often the session log records what listening costs (the HUD hears it every 2 s)."""

_HALTED_BY: dict[str, RampEnd] = {"held": "held", "cancelled": "cancelled", "disarmed": "disarmed"}
"""How the ramps end when a verdict with that reason halts them."""


class Subscribers:
    """Who hears a listener's events. :meth:`publish` calls each subscriber in turn on
    the caller's thread, then :attr:`record` (the session log), so a display never waits
    for the disk. It never raises: a failing subscriber is logged; a failing record is
    published as an :class:`~djtui.core.events.Error`."""

    def __init__(self) -> None:
        self._callbacks: list[Subscriber] = []
        self.record: Callable[[Event], None] | None = None

    def subscribe(self, callback: Subscriber) -> None:
        self._callbacks.append(callback)

    @property
    def listened(self) -> bool:
        """Whether anyone subscribed (the session log aside)."""
        return bool(self._callbacks)

    def publish(self, event: Event) -> None:
        for callback in list(self._callbacks):
            try:
                callback(event)
            except Exception:  # noqa: BLE001 - a broken display must not stop the music
                log.exception("a subscriber failed on %s", type(event).__name__)
        if self.record is not None:
            try:
                self.record(event)
            except DjtuiError as exc:  # the set goes on without a log; the log says so once
                self.publish(Error(exc.message, exc.hint))


# --- what is due ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Drafted:
    """A draft understood ahead of the endpoint: the ``understanding``, when each of its
    stages ran (``spans``: ``perf_counter`` start and end), and ``early``, the utterance
    to conclude now when the command may fire without waiting out the hang-over."""

    understanding: Understanding
    spans: dict[str, tuple[float, float]]
    early: UtteranceDue | None = None


@dataclass(frozen=True, eq=False)
class GlimpseDue:
    """The speech in progress is due a reading (:mod:`djtui.core.early`): cheap to skip
    on a busy machine, which then finalises early less often."""

    audio: np.ndarray = field(repr=False)
    listener: Listener = field(repr=False)

    def run(self) -> None:
        self.listener._glimpse(self.audio)


@dataclass(frozen=True, eq=False)
class DraftDue:
    """Silence began after speech: understand the utterance it becomes if the silence
    lasts, while the hang-over runs. :meth:`cancel` drops it when speech went on."""

    utterance: Utterance
    listener: Listener = field(repr=False)
    result: Future[Drafted] = field(default_factory=Future, repr=False)
    stale: threading.Event = field(default_factory=threading.Event, repr=False)

    def run(self) -> Drafted | None:
        """The draft understood (``None`` when it was cancelled before it began or,
        running, at its next stage)."""
        if not self.result.set_running_or_notify_cancel():
            return None
        try:
            drafted = self.listener._draft(self.utterance, self.stale.is_set)
        except Stopped:
            self.result.set_exception(CancelledError())
            return None
        except BaseException as exc:
            self.result.set_exception(exc)
            raise
        self.result.set_result(drafted)
        return drafted

    def cancel(self) -> bool:
        """Speech went on: this draft is not the utterance. Dropped if not begun (``True``);
        if running, it stops at its next stage, so the next draft soon gets the thread."""
        self.stale.set()
        return self.result.cancel()


@dataclass(frozen=True, eq=False)
class UtteranceDue:
    """An utterance ended: understand it (or take its draft, ``ahead``), judge it, send
    its MIDI, publish and log its :class:`~djtui.core.events.Outcome`."""

    utterance: Utterance
    listener: Listener = field(repr=False)
    ahead: Future[Drafted] | None = field(default=None, repr=False)
    glimpses: tuple[CommandKey | None, ...] = ()
    """What the glimpses of its speech read (for its confidence, when there is no draft)."""

    def run(self, *, live: bool = True) -> Outcome:
        """``live``: stages that ran ahead count only their time after the endpoint (what
        the DJ waits for); otherwise (a recording read as fast as it goes) each stage's
        own time, wherever it ran."""
        return self.listener._conclude(self.utterance, self.ahead, live, self.glimpses)


Due = GlimpseDue | DraftDue | UtteranceDue
"""What :meth:`Listener.step` can say is due."""


# --- the listener ----------------------------------------------------------------------------


class Listener:
    """Builds every stage from ``config`` (see :func:`djtui.core.stages.build`) unless
    ``stages`` are given. ``context`` is a :class:`~djtui.core.context.Context` or a
    context file (default: the config's, else the bundled DJ context); ``dry_run``
    opens no MIDI port; ``session_log=False`` keeps no log. ``events``: the subscribers
    to publish to (the pipeline shares its own); a new set by default. ``on_progress``
    hears each slow step of loading before it starts (a status line)."""

    def __init__(self, config: Config | None = None, *, context: Context | str | Path | None = None,
                 engine: Any = None, midi_out: Any = None, dry_run: bool = False, session_log: Any = None,
                 act: bool = True, stages: Stages | None = None, events: Subscribers | None = None,
                 on_progress: Callable[[str], None] | None = None) -> None:
        self._config = config if config is not None else Config()
        self._events = events if events is not None else Subscribers()
        if isinstance(context, (str, Path)):
            context = build_stages.context_for(self._config, context)
        self.stages = stages if stages is not None else build_stages.build(
            self._config, context=context, engine=engine, midi_out=midi_out, dry_run=dry_run,
            session_log=session_log, on_status=lambda message: self._events.publish(Status(message)),
            on_progress=on_progress)
        """Every stage this listener runs (:class:`~djtui.core.stages.Stages`)."""
        self._events.record = self._record
        if self.stages.ramps is not None:  # a fade outlives its utterance: its events come from the ramp thread
            self.stages.ramps.subscribe(self._events.publish)
        self._endpointer = build_stages.endpointer_for(self._config)
        vad = self._config.vad
        block_ms = 1000 * self._endpointer.block / self._endpointer.sample_rate
        shortest_ms = 1000 * self.stages.context.shortest_phonemes() / FAST_PHONEMES_PER_S
        self._early = EarlyFinalizer(vad.early_finalize, max(1, round(vad.glimpse_ms / block_ms)), vad.stable_updates,
                                     first_blocks=math.ceil(shortest_ms / block_ms))
        self._lock = threading.Lock()  # the early finaliser, between the pipeline's threads
        self._last_draft: DraftDue | None = None
        self._usage_logged = -USAGE_LOG_EVERY_S
        self._frames = 0
        # The safety gate keeps time by the audio heard: a file read faster than real time
        # gives 'confirm' the same 3 s as a microphone, and the same verdicts every run.
        self.stages.gate.clock = self._stream_time
        self._act = act
        self._numbers = itertools.count(1)
        if self._config.safety.armed_at_start:
            self.stages.gate.arm()

    # --- the public face ---------------------------------------------------------------

    def step(self, frame: np.ndarray | None) -> list[Due]:
        """Hear one block of :data:`~djtui.core.audio.BLOCK` samples (``None``: the
        stream ended) and say what is due now, in the order to start it. Cheap: safe on
        an audio thread."""
        self._expire()
        if frame is None:
            utterance = self._endpointer.flush()
            if utterance is None:
                return []
            self._events.publish(SpeechEnded(utterance.end_time, utterance.duration_s, True))
            return [self._ended(utterance)]
        if (utterance := self._hear(frame)) is not None:
            return [self._ended(utterance)]
        due: list[Due] = []
        if self._glimpse_due() and (audio := self._endpointer.speech_so_far()) is not None:
            due.append(GlimpseDue(audio, self))
        if (draft := self._endpointer.take_draft()) is not None:
            self._last_draft = DraftDue(draft, self)
            due.append(self._last_draft)
        return due

    def process(self, frame: np.ndarray) -> Outcome | None:
        """Feed one block; the utterance's :class:`Outcome` when a command has just ended,
        else ``None``. Everything due runs on this thread, at once (glimpses, the draft
        and its early finalisation included), so a recording gives the same outcomes
        however fast it is read."""
        return self._run_now(self.step(frame))

    def flush(self) -> Outcome | None:
        """End of the stream: the utterance still open, if any, without waiting for the
        hang-over."""
        return self._run_now(self.step(None))

    def reset(self) -> None:
        """Start a new stream (the next recording): the endpointer forgets what it heard.
        Arming, deck state and the safety gate's history stay."""
        self._endpointer.reset()
        self._last_draft = None

    def subscribe(self, callback: Subscriber) -> None:
        """Call ``callback(event)`` for every event, on the thread that caused it."""
        self._events.subscribe(callback)

    def arm(self) -> None:
        """Let approved commands reach Rekordbox."""
        self.stages.gate.arm()
        self._events.publish(ArmedChanged(True))

    def disarm(self, how: RampEnd = "disarmed") -> None:
        """Nothing is sent until :meth:`arm` (a pending confirmation is dropped, every
        ramp stops where it is); utterances are still heard and logged."""
        if self.stages.ramps is not None:
            self.stages.ramps.halt(how)
        self.stages.gate.disarm()
        self._events.publish(ArmedChanged(False))

    def set_listening(self, listening: bool) -> None:
        """Push-to-talk: open or close the microphone gate (from any thread)."""
        self._endpointer.set_listening(listening)
        self._events.publish(ListeningChanged(listening))

    def close(self) -> None:
        """Close the MIDI ports."""
        self.stages.close()

    @property
    def armed(self) -> bool:
        return self.stages.gate.armed

    @property
    def listening(self) -> bool:
        """Whether the microphone gate is open (always, unless push-to-talk closed it)."""
        return self._endpointer.listening

    # --- hearing (the audio thread) ----------------------------------------------------

    def _run_now(self, due: list[Due]) -> Outcome | None:
        for item in due:
            match item:
                case GlimpseDue():
                    item.run()
                case DraftDue():
                    if (drafted := item.run()) is not None and drafted.early is not None:
                        return drafted.early.run(live=False)
                case UtteranceDue():
                    return item.run(live=False)
        return None

    def _hear(self, frame: np.ndarray) -> Utterance | None:
        """Level, VAD and endpointing; the utterance that has just ended, if any."""
        endpointer = self._endpointer
        self._frames += 1
        if self._events.listened:  # nobody to show it to: skip the arithmetic
            self._events.publish(level(frame))
        was_speaking, was_pausing = endpointer.speaking, endpointer.pausing
        utterance = endpointer.push(frame)
        if was_pausing and endpointer.speaking and not endpointer.pausing and self._last_draft is not None:
            self._last_draft.cancel()  # speech went on: that draft is not the utterance
        if not was_speaking and endpointer.speaking:
            with self._lock:
                self._early.start()
            self._events.publish(SpeechStarted(self._stream_time()))
        if utterance is not None:
            self._events.publish(SpeechEnded(utterance.end_time, utterance.duration_s, True))
        elif was_speaking and not endpointer.speaking:
            self._events.publish(SpeechEnded(self._stream_time(), 0.0, False))
        return utterance

    def _ended(self, utterance: Utterance) -> UtteranceDue:
        """The due conclusion of ``utterance``, with its draft when the silence lasted."""
        draft, self._last_draft = self._last_draft, None
        ahead = draft.result if draft is not None and draft.utterance.same_speech(utterance) else None
        with self._lock:
            glimpses = tuple(self._early.glimpses)
        return UtteranceDue(utterance, self, ahead, glimpses)

    def _stream_time(self) -> float:
        """Seconds of audio heard since this listener was made (never goes back)."""
        return self._frames * self._endpointer.block / self._endpointer.sample_rate

    def _expire(self) -> None:
        """Drop a command that waited for 'confirm' too long, and say so."""
        if (verdict := self.stages.gate.tick()) is not None:
            self._events.publish(Expired(verdict))

    # --- finalising early (:mod:`djtui.core.early`) --------------------------------------

    def _glimpse_due(self) -> bool:
        with self._lock:
            return self._endpointer.speaking and self._early.glimpse_due(self._endpointer.voiced_blocks)

    def _glimpse(self, audio: np.ndarray) -> None:
        """Read the speech so far, remember the reading and show it as one in progress."""
        glimpse = self.stages.recognizer.glimpse(audio)
        with self._lock:
            self._early.note(glimpse.key)
        self._events.publish(Hearing(glimpse.text, None))

    def _draft(self, draft: Utterance, stop: Callable[[], bool] | None = None) -> Drafted:
        started = time.perf_counter()
        with self._lock:
            glimpses = tuple(self._early.glimpses)
        understanding = self.stages.recognizer.understand(draft.audio, draft.duration_s, glimpses, stop=stop)
        drafted = Drafted(understanding, _spans(understanding.timings, started))
        with self._lock:
            fires = self._early.decide(understanding, self.stages.gate)
        if not fires or (early := self._endpointer.close_early(draft)) is None:
            return drafted  # not complete and clear, or the DJ spoke again meanwhile
        self._events.publish(SpeechEnded(early.end_time, early.duration_s, True))
        understood: Future[Drafted] = Future()
        understood.set_result(drafted)
        return replace(drafted, early=UtteranceDue(early, self, understood))

    # --- concluding (the worker) ---------------------------------------------------------

    def _conclude(self, utterance: Utterance, ahead: Future[Drafted] | None, live: bool,
                  glimpses: tuple[CommandKey | None, ...] = ()) -> Outcome:
        """Understand, judge, act, publish: one utterance's whole way to its outcome."""
        number = next(self._numbers)
        understanding, timings, drafted = self._understood(utterance, ahead, live, glimpses)
        waited = self._endpointer.tail_ms if utterance.early else self._endpointer.hangover_ms
        stages = {"vad_endpoint": float(waited), **{k: float(v) for k, v in timings.items()}}
        candidates = tuple(understanding.candidates[:5])

        started = time.perf_counter()
        verdict = self._judge(candidates)
        stages["safety"] = _ms(started)
        sent, verdict, midi_ms = self._carry_out(verdict)
        if midi_ms is not None:
            stages["midi"] = midi_ms
        engine = self.stages.engine
        outcome = Outcome(
            number=number, transcript=understanding.transcript, candidates=candidates, verdict=verdict, sent=sent,
            dry_run=self.stages.midi_out is None,
            stages_ms={s: round(stages[s], 2) for s in STAGES if s in stages},
            total_ms=round(_ms(utterance.endpoint_time), 2),
            engine=engine.name, model=engine.model_id,
            speech_s=(round(utterance.start_time, 3), round(utterance.end_time, 3)), cut=utterance.cut,
            ahead=live and drafted, early=utterance.early,
            audio=utterance.audio, readings=understanding.readings,
        )
        self._events.publish(outcome)
        return outcome

    def _understood(self, utterance: Utterance, ahead: Future[Drafted] | None, live: bool,
                    glimpses: tuple[CommandKey | None, ...]) -> tuple[Understanding, dict[str, float], bool]:
        """The draft's understanding when one ran (its stage times, live, only what was
        left after the DJ stopped), else the utterance understood now; and whether a
        draft gave it."""
        drafted = _result(ahead)
        if drafted is None:
            understanding = self.stages.recognizer.understand(utterance.audio, utterance.duration_s, glimpses)
            return understanding, understanding.timings, False
        understanding = drafted.understanding
        return understanding, (_after(drafted.spans, utterance.endpoint_time) if live else understanding.timings), True

    def _carry_out(self, verdict: Verdict) -> tuple[tuple[Any, ...], Verdict, float | None]:
        """What the verdict does: halts the ramps, sends its commands (a dry run reports
        what it would have sent) and plays its moves. Returns what was sent, the verdict
        (``midi_lost`` if the port refused) and the milliseconds sending took, or ``None``
        when nothing was due to go out."""
        sent = verdict.commands if verdict.approved and self._act else ()
        ramps = self.stages.ramps if self._act else None
        if ramps is not None and verdict.halts:  # hold, cancel, disarm: every fade stops where it is
            ramps.halt(_HALTED_BY.get(verdict.reason, "disarmed"))
        if not (sent or (verdict.approved and verdict.moves)):
            return sent, verdict, None
        started = time.perf_counter()
        if self.stages.midi_out is not None:
            sent, verdict = self._send(sent, verdict)
        if ramps is not None:
            for move in verdict.moves if verdict.approved else ():
                ramps.play(move)
        return sent, verdict, _ms(started)

    def _send(self, commands: tuple[Any, ...], verdict: Verdict) -> tuple[tuple[Any, ...], Verdict]:
        """Send ``commands``; what went out, and the verdict: ``midi_lost`` when the port
        refused (never a send claimed that did not happen)."""
        sent: list[Any] = []
        for command in commands:
            try:
                self.stages.midi_out.send(command)  # type: ignore[union-attr]
            except DjtuiError as exc:
                return tuple(sent), Verdict(False, "midi_lost", exc.message, verdict.candidate)
            sent.append(command)
        return tuple(sent), verdict

    def _judge(self, candidates: tuple[Candidate, ...]) -> Verdict:
        """The gate's verdict (or, with ``act=False``, its verdict on what was said);
        a spoken 'arm', 'disarm' or 'cancel' is published as the change it made. While the
        MIDI port is lost, a command is judged by what was said alone and not sent
        (``midi_lost``): the gate must not count as sent, nor as setting a deck's state,
        what never reached Rekordbox."""
        gate = self.stages.gate
        if not self._act:
            return gate.accept(candidates)
        midi_out = self.stages.midi_out
        if midi_out is not None and not midi_out.connected and gate.armed and \
                (lost := self._lost_verdict(candidates, midi_out)) is not None:
            return lost
        was_armed = gate.armed
        verdict = gate.judge(candidates)
        if gate.armed != was_armed:
            self._events.publish(ArmedChanged(gate.armed))
        return verdict

    def _lost_verdict(self, candidates: tuple[Candidate, ...], midi_out: Any) -> Verdict | None:
        """``midi_lost`` for what would send MIDI ('confirm' included: its command stays
        pending), or the rejection of what was said; ``None`` for nothing heard and for
        arm, disarm and cancel, which the gate judges as ever."""
        if not candidates:
            return None
        top = max(candidates, key=lambda c: c.score)
        intent = self.stages.context.intents.get(top.intent)
        if intent is None or intent.control in ("arm", "disarm", "cancel"):
            return None
        if (rejection := self.stages.gate.screen(candidates)) is not None:
            return rejection
        why = midi_out.problem or "MIDI lost: the JACK server stopped"
        return Verdict(False, "midi_lost", f"{top.label()}: not sent: {why}", top)

    def _record(self, event: Event) -> None:
        """What the session log keeps: every outcome, everything lost, and what listening
        costs every :data:`USAGE_LOG_EVERY_S` seconds."""
        session_log = self.stages.session_log
        if session_log is None:
            return
        match event:
            case Outcome():
                session_log.record_outcome(event)
            case Dropped():
                session_log.record({"dropped": event.what, "count": event.count, "total": event.total,
                                    "message": event.message})
            case Usage() if event.window_s and time.perf_counter() >= self._usage_logged + USAGE_LOG_EVERY_S:
                self._usage_logged = time.perf_counter()
                session_log.record({"usage": {"cpu_share": event.cpu_share, "realtime_factor": event.realtime_factor,
                                              "keeps_up": event.keeps_up, "window_s": event.window_s,
                                              "cores": event.cores}}, numbered=False)


def _result(ahead: Future[Drafted] | None) -> Drafted | None:
    """The draft's result, waiting for it if it is still being understood; ``None``
    when there is none, it was cancelled or it failed (the utterance is understood anew)."""
    if ahead is None:
        return None
    try:
        return ahead.result()
    except CancelledError:
        return None
    except Exception:  # noqa: BLE001 - fall back to understanding it now
        log.exception("understanding during the hang-over failed")
        return None


def _spans(timings: dict[str, float], started: float) -> dict[str, tuple[float, float]]:
    """When each stage ran (``perf_counter`` start and end), from their durations: the
    recognizer runs its stages one after another, in the order of :data:`STAGES`."""
    spans, at = {}, started
    for stage in STAGES:
        if stage in timings:
            spans[stage] = (at, at + timings[stage] / 1000)
            at = spans[stage][1]
    return spans


def _after(spans: dict[str, tuple[float, float]], endpoint: float) -> dict[str, float]:
    """Milliseconds of each stage after ``endpoint``: what was left when the DJ stopped."""
    return {stage: max(0.0, end - max(start, endpoint)) * 1000 for stage, (start, end) in spans.items()}


def _ms(since: float) -> float:
    return (time.perf_counter() - since) * 1000.0
