"""The live pipeline: audio blocks in, MIDI out, every step published as an event.

::

    pipeline = Pipeline(load_config())
    pipeline.subscribe(print)
    pipeline.arm()
    pipeline.start(MicrophoneSource())
    ...
    pipeline.stop()

Two threads do the work. The *audio thread* reads blocks from the source, meters them
and runs the VAD and endpointer: nothing on it may take longer than a block (32 ms). Each
finished :class:`~djtui.core.vad.Utterance` goes to the *worker thread*, which runs ASR,
resolving and rescoring (:class:`~djtui.core.recognize.Recognizer`), the safety gate and
the MIDI send, then appends the utterance to the session log.

Understanding does not wait for the end of the hang-over: when silence begins after
speech, the endpointer offers a draft (the utterance as it will be if the silence lasts)
and a third thread runs ASR, resolving and rescoring on it at once; if the silence does
last, the worker takes that result instead of starting again, and only the safety gate
and the MIDI send are left after the endpoint. The hang-over then hides that work.

Subscribers are called on those threads with the event dataclasses below, in order per
utterance: :class:`Transcript`, :class:`Candidates`, :class:`VerdictEvent`,
:class:`MidiSent` (only when something was sent) and last :class:`Trace`. They must
return quickly (post to a UI queue, print a line) and may not call back into the
pipeline's :meth:`Pipeline.stop`.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, is_dataclass
from typing import Any

from djtui.core.audio import AudioSource, Level, MicrophoneSource, level
from djtui.core.config import Config
from djtui.core.context import Context
from djtui.core.errors import DjtuiError
from djtui.core.vad import Endpointer, Utterance, load_vad

log = logging.getLogger(__name__)

DRAFT_TAIL_MS = 32
"""Silence kept after speech in an utterance: one block. The draft (and its ASR) starts
once this much silence has passed, so one block gives ASR the most of the hang-over.
A gap between words that long also starts drafts that speech then makes stale (about
0.6 per command in ``djtui bench latency``'s clips); they cost CPU, yet on 2 shared
cores, clips alternating in one run, wav2vec2-base int8's endpoint-to-MIDI median was
~2 ms against ~105 ms with two blocks and ~200 ms with the former 100 ms tail."""

STAGES = ("vad_endpoint", "asr", "resolve", "rescore", "safety", "midi")
"""Stages of :class:`Trace`, in order. ``vad_endpoint`` (speech end to endpoint decision,
i.e. the hang-over) comes before the endpoint and is not part of ``total_ms``."""


# --- events -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SpeechStart:
    time: float
    """Seconds on the audio stream's clock."""


@dataclass(frozen=True)
class SpeechEnd:
    time: float
    duration_s: float
    accepted: bool
    """False when the burst was too short to be a command and was dropped."""


@dataclass(frozen=True)
class Transcript:
    utterance: int
    text: str
    final: bool = True


@dataclass(frozen=True)
class Candidates:
    utterance: int
    candidates: tuple[Any, ...]
    """Up to five :class:`~djtui.core.resolve.Candidate`, best first."""


@dataclass(frozen=True)
class VerdictEvent:
    utterance: int
    """0 for a verdict of no utterance: a pending command that expired unconfirmed."""
    verdict: Any
    """The :class:`~djtui.core.safety.Verdict` for this utterance."""


@dataclass(frozen=True)
class MidiSent:
    utterance: int
    command: Any
    """The :class:`~djtui.core.midi.MidiCommand` that went out."""
    dry_run: bool = False
    """True when no port is open and the command was only reported."""


@dataclass(frozen=True)
class Trace:
    """Where the time went for one utterance, in milliseconds.

    ``total_ms`` runs from the endpoint decision to the MIDI send returning (or to the
    verdict when nothing was sent); ``stages`` holds each of :data:`STAGES` that ran, and
    for stages run during the hang-over only their part after the endpoint.
    """

    utterance: int
    stages: dict[str, float]
    total_ms: float
    engine: str
    model: str
    sent: bool
    asr_ahead: bool = False
    """ASR, resolving and rescoring ran during the hang-over; ``stages`` then holds
    what was left of each after the endpoint (0 when done before it)."""


@dataclass(frozen=True)
class Armed:
    armed: bool


@dataclass(frozen=True)
class Listening:
    listening: bool


@dataclass(frozen=True)
class Status:
    message: str
    hint: str = ""


@dataclass(frozen=True)
class Error:
    message: str
    hint: str = ""


@dataclass(frozen=True)
class Finished:
    """The source ended (end of file) and every utterance from it has been handled."""


Event = (
    Level | SpeechStart | SpeechEnd | Transcript | Candidates | VerdictEvent | MidiSent | Trace | Armed
    | Listening | Status | Error | Finished
)


# --- the pipeline -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Job:
    utterance: Utterance
    asr_ahead: Future[Any] | None


@dataclass(frozen=True)
class _Ahead:
    """A draft understood during the hang-over, and when (``perf_counter`` start, end)
    each of its stages ran."""

    understanding: Any
    spans: dict[str, tuple[float, float]]


@dataclass
class _Parts:
    """What :class:`Pipeline` builds from the config: each stage's one object."""

    context: Context
    recognizer: Any
    gate: Any
    deck_state: Any
    midi_out: Any
    session_log: Any
    engine_name: str
    model_name: str
    engine_description: str
    closers: list[Callable[[], None]] = field(default_factory=list)


class Pipeline:
    """Voice to MIDI. Building one loads the models and opens the MIDI port, so a
    missing model or a busy port fails here, before listening starts.

    ``context`` defaults to ``config.resolver.context`` (else the bundled DJ context),
    ``engine`` to ``load_engine(config.asr)``, ``midi_out`` to a
    :class:`~djtui.core.midi.MidiOut` on ``config.midi`` (none with ``dry_run``: commands
    are published as :class:`MidiSent` with ``dry_run=True``). ``session_log`` defaults
    to a new :class:`~djtui.core.sessionlog.SessionLog`; ``False`` keeps no log.
    """

    def __init__(
        self,
        config: Config,
        context: Context | None = None,
        engine: Any = None,
        midi_out: Any = None,
        dry_run: bool = False,
        session_log: Any = None,
    ) -> None:
        self.config = config
        self.dry_run = dry_run
        self._subscribers: list[Callable[[Any], None]] = []
        self._parts = _build(config, context, engine, midi_out, dry_run, session_log)
        self.context = self._parts.context
        self.engine_name = self._parts.engine_name
        self.model_name = self._parts.model_name
        self.engine_description = self._parts.engine_description
        """Which ASR engine and model run, and why (for the UI)."""
        self.deck_state = self._parts.deck_state
        vad = config.vad
        self._endpointer = Endpointer(
            load_vad(vad.engine, vad.energy_threshold_dbfs),
            threshold=vad.threshold if vad.engine == "silero" else 0.5,
            hangover_ms=vad.hangover_ms,
            min_speech_ms=vad.min_speech_ms,
            max_speech_ms=vad.max_speech_ms,
            tail_ms=DRAFT_TAIL_MS,
            listening=config.audio.trigger == "always",
        )
        self.hangover_ms = vad.hangover_ms
        self._utterances: queue.Queue[_Job | None] = queue.Queue(maxsize=4)
        self._speculation: tuple[float, float, Future[Any]] | None = None
        self._asr_ahead: ThreadPoolExecutor | None = None
        self._numbers = itertools.count(1)
        self._source: AudioSource | None = None
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._finished = threading.Event()
        self._trigger: Any = None
        if config.safety.armed_at_start:
            self.arm()

    # --- the public face ---

    def subscribe(self, callback: Callable[[Any], None]) -> None:
        """Call ``callback(event)`` for every event, on the pipeline's threads."""
        self._subscribers.append(callback)

    def start(self, source: AudioSource) -> None:
        """Listen to ``source`` (a :class:`~djtui.core.audio.MicrophoneSource` or
        :class:`~djtui.core.audio.FileSource`) until :meth:`stop` or its end."""
        if self._threads:
            raise DjtuiError("the pipeline is already listening", "stop it before starting it again")
        if isinstance(source, MicrophoneSource) and source.on_status is None:
            source.on_status = lambda message, hint: self._publish(Status(message, hint))
        if self.config.audio.trigger == "midi_hold":
            self._trigger = self._open_footswitch()
        self._source = source
        self._utterances = queue.Queue(maxsize=4)  # nothing left over from a previous run
        self._speculation = None
        self._asr_ahead = ThreadPoolExecutor(max_workers=1, thread_name_prefix="djtui-asr-ahead")
        self._stopping.clear()
        self._finished.clear()
        self._threads = [
            threading.Thread(target=self._listen, args=(source,), name="djtui-audio", daemon=True),
            threading.Thread(target=self._work, name="djtui-worker", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the source has ended and its last utterance is handled (a file
        source), or ``timeout``; ``True`` when finished."""
        return self._finished.wait(timeout)

    def stop(self) -> None:
        """Stop listening, finish the utterance being handled, close the ports."""
        self._stopping.set()
        if self._source is not None:
            self._source.close()
        self._put(None)
        for thread in self._threads:
            thread.join(timeout=10)
        self._threads = []
        if self._asr_ahead is not None:
            self._asr_ahead.shutdown(wait=True, cancel_futures=True)
            self._asr_ahead = None
        if self._trigger is not None:
            self._trigger.close()
            self._trigger = None
        for close in self._parts.closers:
            try:
                close()
            except Exception:  # noqa: BLE001 - closing must never stop the rest closing
                log.exception("closing a pipeline part failed")
        self._parts.closers.clear()

    def arm(self) -> None:
        """Let approved commands reach Rekordbox."""
        self._parts.gate.arm()
        self._publish(Armed(True))

    def disarm(self) -> None:
        """Nothing is sent until :meth:`arm`; utterances are still heard and logged."""
        self._parts.gate.disarm()
        self._publish(Armed(False))

    def panic(self) -> None:
        """Disarm at once and drop every pending confirmation and queued utterance."""
        self._parts.gate.disarm()
        while True:
            try:
                self._utterances.get_nowait()
            except queue.Empty:
                break
        self._publish(Armed(False))

    def set_listening(self, listening: bool) -> None:
        """Push-to-talk: open or close the microphone gate (from any thread)."""
        self._endpointer.set_listening(listening)
        self._publish(Listening(listening))

    @property
    def armed(self) -> bool:
        return bool(self._parts.gate.armed)

    @property
    def listening(self) -> bool:
        return self._endpointer.listening

    def handle(self, utterance: Utterance, asr_ahead: Future[Any] | None = None) -> Trace:
        """Run one utterance through ASR, resolving, safety and MIDI on this thread,
        publishing its events; what the worker does, usable directly (bench, tests).
        ``asr_ahead`` is the ASR of the same audio started during the hang-over (an
        :class:`~djtui.core.asr.AsrResult`, or the pipeline's own draft understanding)."""
        number = next(self._numbers)
        parts = self._parts
        understanding = None
        timings: dict[str, float] = {}
        if asr_ahead is not None:
            started = time.perf_counter()
            try:
                ahead = asr_ahead.result()
            except Exception:  # noqa: BLE001 - fall back to transcribing now
                log.exception("ASR during the hang-over failed")
            else:
                if isinstance(ahead, _Ahead):
                    understanding = ahead.understanding
                    timings = {stage: max(0.0, end - max(start, utterance.endpoint_time)) * 1000
                               for stage, (start, end) in ahead.spans.items()}
                else:
                    understanding = parts.recognizer.understand_result(ahead, asr_ms=_ms(started))
        if understanding is None:
            understanding = parts.recognizer.understand(utterance.audio)
        if not timings:
            timings = dict(getattr(understanding, "timings", {}) or {})
        stages = {"vad_endpoint": float(self.hangover_ms)}
        stages.update({k: float(v) for k, v in timings.items() if k in STAGES})
        candidates = tuple(understanding.candidates[:5])
        self._publish(Transcript(number, understanding.transcript, final=True))
        self._publish(Candidates(number, candidates))

        started = time.perf_counter()
        was_armed = parts.gate.armed
        verdict = parts.gate.judge(list(candidates))
        stages["safety"] = _ms(started)
        self._publish(VerdictEvent(number, verdict))
        if parts.gate.armed != was_armed:  # a spoken 'arm', 'disarm' or 'cancel'
            self._publish(Armed(parts.gate.armed))

        commands = tuple(verdict.commands) if verdict.approved else ()
        if commands:
            started = time.perf_counter()
            if parts.midi_out is not None:
                for command in commands:
                    parts.midi_out.send(command)
            stages["midi"] = _ms(started)
            for command in commands:
                self._publish(MidiSent(number, command, dry_run=parts.midi_out is None))
        sent = bool(commands)
        total = _ms(utterance.endpoint_time)
        trace = Trace(number, {s: round(stages[s], 2) for s in STAGES if s in stages}, round(total, 2),
                      parts.engine_name, parts.model_name, sent, asr_ahead=understanding is not None and asr_ahead is not None)
        self._publish(trace)
        if parts.session_log is not None:
            parts.session_log.record(_log_entry(utterance, understanding, candidates, verdict, commands, trace),
                                     utterance.audio)
        return trace

    # --- threads ---

    def _listen(self, source: AudioSource) -> None:
        endpointer = self._endpointer
        try:
            for block in source.blocks():
                if self._stopping.is_set():
                    break
                self._publish(level(block))
                was_speaking = endpointer.speaking
                utterance = endpointer.push(block)
                if (draft := endpointer.take_draft()) is not None:
                    self._start_asr_ahead(draft)
                self._speech_events(was_speaking, utterance)
            else:
                was_speaking = endpointer.speaking
                self._speech_events(was_speaking, endpointer.flush())
        except DjtuiError as exc:
            self._publish(Error(exc.message, exc.hint))
        except Exception as exc:  # noqa: BLE001 - the audio thread must report, not die silently
            log.exception("audio thread failed")
            self._publish(Error(f"audio input failed: {exc}", "restart listening; see the log for details"))
        finally:
            self._put(None)

    def _speech_events(self, was_speaking: bool, utterance: Utterance | None) -> None:
        endpointer = self._endpointer
        now = endpointer.blocks_seen * endpointer.block / endpointer.sample_rate
        if not was_speaking and endpointer.speaking:
            self._publish(SpeechStart(now))
        if utterance is not None:
            self._publish(SpeechEnd(utterance.end_time, utterance.duration_s, True))
            self._put(_Job(utterance, self._asr_ahead_for(utterance)))
        elif was_speaking and not endpointer.speaking:
            self._publish(SpeechEnd(now, 0.0, False))

    def _start_asr_ahead(self, draft: Utterance) -> None:
        """Understand the draft while the hang-over runs: if the silence lasts, the
        utterance is this audio and its ASR, resolving and rescoring are already (partly)
        done. The safety gate waits for the endpoint: its verdict depends on the moment."""
        if self._asr_ahead is None:
            return
        if self._speculation is not None:  # speech went on after that draft: drop it if not begun
            self._speculation[2].cancel()
        self._speculation = (draft.start_time, draft.end_time, self._asr_ahead.submit(self._understand, draft.audio))

    def _understand(self, audio: Any) -> _Ahead:
        recognizer = self._parts.recognizer
        started = time.perf_counter()
        result = recognizer.engine.transcribe(audio)
        at = time.perf_counter()
        understanding = recognizer.understand_result(result, asr_ms=(at - started) * 1000)
        spans = {"asr": (started, at)}
        for stage in ("resolve", "rescore"):  # understand_result runs them in this order, from ``at``
            end = at + understanding.timings.get(stage, 0.0) / 1000
            spans[stage] = (at, end)
            at = end
        return _Ahead(understanding, spans)

    def _asr_ahead_for(self, utterance: Utterance) -> Future[Any] | None:
        speculation, self._speculation = self._speculation, None
        if speculation is None or speculation[:2] != (utterance.start_time, utterance.end_time):
            return None  # speech went on after the draft (or it was cut): transcribe anew
        return speculation[2]

    def _put(self, job: _Job | None) -> None:
        try:
            self._utterances.put_nowait(job)
        except queue.Full:
            if job is None:  # the end marker must arrive: make room for it
                try:
                    self._utterances.get_nowait()
                except queue.Empty:
                    pass
                self._utterances.put_nowait(None)
            else:
                self._publish(Status("still busy with earlier commands: one utterance was dropped",
                                     "speak again when the last command has been handled"))

    def _work(self) -> None:
        while True:
            try:
                job = self._utterances.get(timeout=0.25)
            except queue.Empty:
                self._expire()
                continue
            if job is None:
                break
            try:
                self.handle(job.utterance, job.asr_ahead)
            except DjtuiError as exc:
                self._publish(Error(exc.message, exc.hint))
            except Exception as exc:  # noqa: BLE001 - one bad utterance must not end the set
                log.exception("handling an utterance failed")
                self._publish(Error(f"could not handle an utterance: {exc}", "djtui keeps listening"))
        self._finished.set()
        self._publish(Finished())

    def _expire(self) -> None:
        """A command waiting for 'confirm' whose time ran out is dropped and reported
        (as utterance 0: it belongs to no new utterance)."""
        verdict = self._parts.gate.tick()
        if verdict is not None:
            self._publish(VerdictEvent(0, verdict))

    def _publish(self, event: Any) -> None:
        for callback in list(self._subscribers):
            try:
                callback(event)
            except Exception:  # noqa: BLE001 - a broken display must not stop the music
                log.exception("a pipeline subscriber failed on %s", type(event).__name__)

    def _open_footswitch(self) -> Any:
        from djtui.core.midi import MidiHoldTrigger

        audio = self.config.audio
        if not audio.ptt_midi_port:
            raise DjtuiError("trigger 'midi_hold' needs a footswitch port", "set [audio] ptt_midi_port (see `djtui midi ports`)")
        return MidiHoldTrigger(
            audio.ptt_midi_port,
            audio.ptt_midi_note,
            on_press=lambda: self.set_listening(True),
            on_release=lambda: self.set_listening(False),
            api=getattr(self.config.midi, "api", None),
        )


def _ms(since: float) -> float:
    return (time.perf_counter() - since) * 1000.0


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    return value


def _log_entry(utterance: Utterance, understanding: Any, candidates: tuple[Any, ...], verdict: Any,
               commands: tuple[Any, ...], trace: Trace) -> dict[str, Any]:
    return {
        "transcript": understanding.transcript,
        "top5": [
            {"intent": c.intent, "slots": c.slots, "score": round(float(c.score), 4), "sentence": c.sentence}
            for c in candidates
        ],
        "verdict": {"approved": verdict.approved, "reason": verdict.reason, "message": verdict.message},
        "midi": [_plain(command) for command in commands],
        "stages_ms": trace.stages,
        "total_ms": trace.total_ms,
        "engine": trace.engine,
        "model": trace.model,
        "speech_s": [round(utterance.start_time, 3), round(utterance.end_time, 3)],
        "cut": utterance.cut,
    }


def _build(config: Config, context: Context | None, engine: Any, midi_out: Any, dry_run: bool,
           session_log: Any) -> _Parts:
    from djtui.core.context import default_context, load_context
    from djtui.core.midi import DeckState, MidiOut, open_feedback
    from djtui.core.recognize import Recognizer
    from djtui.core.rescore import Rescorer
    from djtui.core.resolve import Resolver
    from djtui.core.safety import SafetyGate
    from djtui.core.sessionlog import SessionLog

    if context is None:
        context = load_context(config.resolver.context) if config.resolver.context else default_context()
    closers: list[Callable[[], None]] = []
    if engine is None:
        from djtui.core.asr import load_engine

        engine = load_engine(config.asr, context)
    warm_up = getattr(engine, "warm_up", None)
    if warm_up is not None:  # the first command must not pay for lazy initialisation
        warm_up()
    resolver = Resolver(context, config.resolver.embedding_model, config.resolver.semantic_weight)
    resolver.warm_up()
    recognizer = Recognizer(engine, resolver, Rescorer(engine))
    deck_state = DeckState.for_context(context)
    gate = SafetyGate(context, config.safety, deck_state)
    if midi_out is None and not dry_run:
        midi_out = MidiOut(config.midi)
        closers.append(midi_out.close)
        try:  # Rekordbox reports play state here; djtui's own presses fill in meanwhile
            closers.append(open_feedback(config.midi, deck_state).close)
        except DjtuiError:
            midi_out.close()
            raise
    if dry_run:
        midi_out = None
    if session_log is None:
        session_log = SessionLog()
    elif session_log is False:
        session_log = None
    return _Parts(
        context=context,
        recognizer=recognizer,
        gate=gate,
        deck_state=deck_state,
        midi_out=midi_out,
        session_log=session_log,
        engine_name=str(getattr(engine, "name", type(engine).__name__)),
        model_name=str(getattr(engine, "model_id", "")),
        engine_description=str(getattr(engine, "description", "")),
        closers=closers,
    )

