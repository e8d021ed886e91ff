"""Frames in, one :class:`~djtui.core.events.Outcome` per command out.

::

    listener = Listener(config, context=load_context("my.yaml"), dry_run=True)
    for frame in frames:                       # 512 float32 samples at 16 kHz
        if (outcome := listener.process(frame)) is not None:
            print(outcome.transcript, outcome.command, outcome.verdict.reason)

A :class:`Listener` runs every stage on the caller's thread: the VAD and endpointer cut
utterances out of the frames (:meth:`hear`), and each one is understood, judged by the
safety gate and sent (:meth:`handle`). ``djtui eval`` and ``djtui listen --fast`` use it
as it is; the live :class:`~djtui.core.pipeline.Pipeline` runs the same two halves on
two threads so the audio never waits for a model. Every step is also published as a
typed event (:mod:`djtui.core.events`) to the subscribers.

``act=False`` judges by what was said alone (:meth:`SafetyGate.screen`) and sends
nothing: the accept decision ``djtui eval`` measures, with the live stages.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from djtui.core import stages as build_stages
from djtui.core.audio import level
from djtui.core.config import Config
from djtui.core.context import Context
from djtui.core.early import EarlyFinalizer
from djtui.core.errors import DjtuiError
from djtui.core.events import (STAGES, ArmedChanged, Error, Event, Expired, Hearing, ListeningChanged, Outcome,
                               SpeechEnded, SpeechStarted, Status)
from djtui.core.records import Glimpse, Understanding, Utterance, Verdict

if TYPE_CHECKING:
    from djtui.core.stages import Stages

log = logging.getLogger(__name__)

Subscriber = Callable[[Event], None]


class Listener:
    """Builds every stage from ``config`` (see :func:`djtui.core.stages.build`) unless
    ``stages`` are given. ``context`` is a :class:`~djtui.core.context.Context` or a
    context file (default: the config's, else the bundled DJ context); ``dry_run``
    opens no MIDI port; ``session_log=False`` keeps no log."""

    def __init__(self, config: Config | None = None, *, context: Context | str | Path | None = None,
                 engine: Any = None, midi_out: Any = None, dry_run: bool = False, session_log: Any = None,
                 act: bool = True, stages: Stages | None = None) -> None:
        self.config = config if config is not None else Config()
        if isinstance(context, (str, Path)):
            context = build_stages.context_for(self.config, context)
        self.stages = stages if stages is not None else build_stages.build(
            self.config, context=context, engine=engine, midi_out=midi_out, dry_run=dry_run,
            session_log=session_log, on_status=lambda message: self.publish(Status(message)))
        self.endpointer = build_stages.endpointer_for(self.config)
        vad = self.config.vad
        self.early = EarlyFinalizer(vad.early_finalize, max(1, round(vad.glimpse_ms / 32)), vad.stable_updates)
        self._draft: tuple[Utterance, Understanding] | None = None
        self._frames = 0
        # The safety gate keeps time by the audio heard: a file read faster than real time
        # gives 'confirm' the same 3 s as a microphone, and the same verdicts every run.
        self.stages.gate.clock = self.stream_time
        self._lock = threading.Lock()  # the early finaliser's glimpses, from the pipeline's threads
        self.act = act
        self.dry_run = self.stages.midi_out is None
        self._subscribers: list[Subscriber] = []
        self._numbers = itertools.count(1)
        if self.config.safety.armed_at_start:
            self.stages.gate.arm()

    # --- the small public face ----------------------------------------------------------

    def process(self, frame: np.ndarray) -> Outcome | None:
        """Feed one block of :data:`~djtui.core.audio.BLOCK` samples; the utterance's
        :class:`Outcome` when a command has just ended, else ``None``.

        Everything runs on this thread: the glimpses of speech in progress, the draft
        understood at the first silent block and, when the command is complete and clear,
        its early finalisation (:mod:`djtui.core.early`) happen inline, so a recording
        gives the same outcomes however fast it is read."""
        self.expire()
        utterance = self.hear(frame)
        if utterance is not None:
            draft = self._draft if self._draft is not None and _same(self._draft[0], utterance) else None
            self._draft = None
            return self.handle(utterance, draft[1] if draft else None)
        if self.glimpse_due():
            audio = self.endpointer.speech_so_far()
            if audio is not None:
                self.note_glimpse(self.stages.recognizer.glimpse(audio))
        if (draft := self.endpointer.take_draft()) is not None:
            understanding = self.understand(draft.audio, draft.duration_s)
            self._draft = (draft, understanding)
            if (early := self.finalize_early(draft, understanding)) is not None:
                self._draft = None
                return self.handle(early, understanding)
        return None

    def flush(self) -> Outcome | None:
        """End of the stream: the utterance still open, if any, without waiting for the
        hang-over."""
        utterance = self.endpointer.flush()
        if utterance is None:
            return None
        self.publish(SpeechEnded(utterance.end_time, utterance.duration_s, True))
        return self.handle(utterance)

    def reset(self) -> None:
        """Start a new stream (the next recording): the endpointer forgets what it heard.
        Arming, deck state and the safety gate's history stay."""
        self.endpointer.reset()

    def subscribe(self, callback: Subscriber) -> None:
        """Call ``callback(event)`` for every event, on the thread that caused it."""
        self._subscribers.append(callback)

    def close(self) -> None:
        """Close the MIDI ports."""
        self.stages.close()

    # --- arming and the microphone gate --------------------------------------------------

    @property
    def armed(self) -> bool:
        return bool(self.stages.gate.armed)

    def arm(self) -> None:
        """Let approved commands reach Rekordbox."""
        self.stages.gate.arm()
        self.publish(ArmedChanged(True))

    def disarm(self) -> None:
        """Nothing is sent until :meth:`arm`; utterances are still heard and logged."""
        self.stages.gate.disarm()
        self.publish(ArmedChanged(False))

    @property
    def listening(self) -> bool:
        return self.endpointer.listening

    def set_listening(self, listening: bool) -> None:
        """Push-to-talk: open or close the microphone gate (from any thread)."""
        self.endpointer.set_listening(listening)
        self.publish(ListeningChanged(listening))

    def expire(self) -> None:
        """Drop a command that waited for 'confirm' too long, and say so."""
        verdict = self.stages.gate.tick()
        if verdict is not None:
            self.publish(Expired(verdict))

    # --- the two halves ------------------------------------------------------------------

    def hear(self, frame: np.ndarray) -> Utterance | None:
        """The cheap half, safe on an audio thread: level, VAD, endpointing. The
        :class:`~djtui.core.vad.Utterance` that has just ended, if any."""
        endpointer = self.endpointer
        self._frames += 1
        if self._subscribers:
            self.publish(level(frame))
        was_speaking = endpointer.speaking
        utterance = endpointer.push(frame)
        if not was_speaking and endpointer.speaking:
            with self._lock:
                self.early.start()
            self.publish(SpeechStarted(endpointer.blocks_seen * endpointer.block / endpointer.sample_rate))
        if utterance is not None:
            self.publish(SpeechEnded(utterance.end_time, utterance.duration_s, True))
        elif was_speaking and not endpointer.speaking:
            now = endpointer.blocks_seen * endpointer.block / endpointer.sample_rate
            self.publish(SpeechEnded(now, 0.0, False))
        return utterance

    def stream_time(self) -> float:
        """Seconds of audio heard since this listener was made (never goes back)."""
        return self._frames * self.endpointer.block / self.endpointer.sample_rate

    # --- finalising early (:mod:`djtui.core.early`) ---------------------------------------

    def glimpse_due(self) -> bool:
        """Whether the speech in progress should be glimpsed now (at the cadence)."""
        with self._lock:
            return self.endpointer.speaking and self.early.glimpse_due(self.endpointer.voiced_blocks)

    def note_glimpse(self, glimpse: Glimpse) -> None:
        """Remember what a glimpse read, and show it as a reading in progress."""
        with self._lock:
            self.early.note(glimpse.key)
        self.publish(Hearing(glimpse.text, None))

    def finalize_early(self, draft: Utterance, understanding: Understanding) -> Utterance | None:
        """The utterance, ended now, when ``draft`` understood as ``understanding`` may fire
        without waiting out the hang-over (and the DJ has not spoken since); else ``None``."""
        with self._lock:
            if not self.early.decide(understanding, self.stages.gate):
                return None
        utterance = self.endpointer.close_early(draft)
        if utterance is not None:
            self.publish(SpeechEnded(utterance.end_time, utterance.duration_s, True))
        return utterance

    def understand(self, audio: np.ndarray, speech_s: float | None = None) -> Understanding:
        """What the recognizer makes of ``audio`` (no verdict, nothing sent); ``speech_s``
        is how long the VAD heard speech in it."""
        return self.stages.recognizer.understand(audio, speech_s)

    def handle(self, utterance: Utterance, understanding: Understanding | None = None,
               timings: dict[str, float] | None = None) -> Outcome:
        """The heavy half: understand ``utterance`` (unless ``understanding`` was worked
        out ahead, with ``timings`` its stages' time after the endpoint), judge it,
        send its MIDI, log it and publish its :class:`Outcome`."""
        parts = self.stages
        number = next(self._numbers)
        if understanding is None:
            understanding = self.understand(utterance.audio, utterance.duration_s)
        waited = self.endpointer.tail_ms if utterance.early else self.endpointer.hangover_ms
        stages = {"vad_endpoint": float(waited)}
        stages.update({k: float(v) for k, v in (timings if timings is not None else understanding.timings).items()})
        candidates = tuple(understanding.candidates[:5])

        started = time.perf_counter()
        was_armed = parts.gate.armed
        verdict = parts.gate.judge(candidates) if self.act else self._screen(candidates)
        stages["safety"] = _ms(started)
        if parts.gate.armed != was_armed:  # a spoken 'arm', 'disarm' or 'cancel'
            self.publish(ArmedChanged(parts.gate.armed))

        sent = tuple(verdict.commands) if verdict.approved and self.act else ()
        if sent:
            started = time.perf_counter()
            if parts.midi_out is not None:  # a dry run reports what it would have sent
                for command in sent:
                    parts.midi_out.send(command)
            stages["midi"] = _ms(started)
        engine = parts.engine
        outcome = Outcome(
            number=number, transcript=understanding.transcript, candidates=candidates, verdict=verdict, sent=sent,
            dry_run=parts.midi_out is None,
            stages_ms={s: round(stages[s], 2) for s in STAGES if s in stages},
            total_ms=round(_ms(utterance.endpoint_time), 2),
            engine=engine.name, model=engine.model_id,
            speech_s=(round(utterance.start_time, 3), round(utterance.end_time, 3)), cut=utterance.cut,
            ahead=timings is not None, early=utterance.early, audio=utterance.audio,
        )
        self.publish(outcome)
        if parts.session_log is not None:
            try:
                parts.session_log.record(log_entry(outcome), utterance.audio)
            except DjtuiError as exc:  # the set goes on without a log; the log says so once
                self.publish(Error(exc.message, exc.hint))
        return outcome

    def _screen(self, candidates: tuple[Any, ...]) -> Verdict:
        rejection = self.stages.gate.screen(candidates)
        if rejection is not None:
            return rejection
        top = max(candidates, key=lambda c: c.score)
        return Verdict(True, "accepted", f"{top.label()} (evaluation: nothing sent)", top)

    def publish(self, event: Event) -> None:
        """Send ``event`` to every subscriber; a failing subscriber is logged, never raised."""
        for callback in list(self._subscribers):
            try:
                callback(event)
            except Exception:  # noqa: BLE001 - a broken display must not stop the music
                log.exception("a subscriber failed on %s", type(event).__name__)

    # --- what the engine is, for front ends ----------------------------------------------

    @property
    def context(self) -> Context:
        return self.stages.context

    @property
    def deck_state(self) -> Any:
        return self.stages.deck_state

    @property
    def hangover_ms(self) -> int:
        return self.endpointer.hangover_ms

    @property
    def engine_description(self) -> str:
        """Which ASR engine and model run, and why (for the UI)."""
        engine = self.stages.engine
        return str(getattr(engine, "description", "")) or f"{engine.name} {engine.model_id}"


def _same(draft: Utterance, utterance: Utterance) -> bool:
    """The utterance is the draft's (the silence lasted): same speech, same audio."""
    return (draft.start_time, draft.end_time) == (utterance.start_time, utterance.end_time)


def _ms(since: float) -> float:
    return (time.perf_counter() - since) * 1000.0


def _plain(value: Any) -> Any:
    return asdict(value) if is_dataclass(value) and not isinstance(value, type) else value


def log_entry(outcome: Outcome) -> dict[str, Any]:
    """The session log's record of one :class:`Outcome` (plain JSON values)."""
    verdict = outcome.verdict
    return {
        "transcript": outcome.transcript,
        "top5": [{"intent": c.intent, "slots": c.slots, "score": round(float(c.score), 4), "sentence": c.sentence}
                 for c in outcome.candidates],
        "verdict": {"approved": verdict.approved, "reason": verdict.reason, "message": verdict.message},
        "midi": [_plain(command) for command in outcome.sent],
        "stages_ms": outcome.stages_ms,
        "total_ms": outcome.total_ms,
        "said_to_done_ms": round(outcome.said_to_done_ms, 2),
        "ahead": outcome.ahead,
        "early": outcome.early,
        "engine": outcome.engine,
        "model": outcome.model,
        "speech_s": list(outcome.speech_s),
        "cut": outcome.cut,
    }
