"""The live pipeline: a :class:`~djtui.core.listener.Listener` on two threads.

::

    pipeline = Pipeline(load_config())
    pipeline.subscribe(print)
    pipeline.arm()
    pipeline.start(MicrophoneSource())
    ...
    pipeline.stop()

The *audio thread* reads blocks from the source and runs the listener's cheap half
(level, VAD, endpointer): nothing on it may take longer than a block (32 ms). Each
finished utterance goes to the *worker thread*, which runs the heavy half (recognizer,
safety gate, MIDI send, session log).

Understanding does not wait for the end of the hang-over: when silence begins after
speech, the endpointer offers a draft (the utterance as it will be if the silence lasts)
and a third thread understands it at once. If the command is complete and clear
(:mod:`djtui.core.early`: while the DJ spoke, a fourth thread glimpsed the speech so far
at a fixed cadence, and those readings agree), it fires then, without waiting out the
hang-over. Otherwise, if the silence lasts, the worker takes the draft's result instead
of starting again, and only the safety gate and the MIDI send are left after the
endpoint.

Nothing is lost without a word: an utterance the worker has no room for, and audio the
device delivered faster than it was read, are counted, published as
:class:`~djtui.core.events.Dropped` and written to the session log.

Subscribers receive the typed events of :mod:`djtui.core.events` on these threads. They
must return quickly (post to a UI queue, print a line) and may not call back into
:meth:`Pipeline.stop`.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from djtui.core.audio import AudioSource, MicrophoneSource
from djtui.core.config import Config, Trigger
from djtui.core.context import Context
from djtui.core.errors import DjtuiError
from djtui.core.events import STAGES, Dropped, Error, Finished, Outcome, Status
from djtui.core.footswitch import MidiHoldTrigger
from djtui.core.listener import Listener, Subscriber
from djtui.core.records import Understanding, Utterance

log = logging.getLogger(__name__)

QUEUE_SIZE = 4
"""Utterances waiting for the worker. A DJ says one command at a time; more than this
waiting means the machine cannot keep up, and a command minutes late is worse than none."""


@dataclass(frozen=True)
class _Job:
    utterance: Utterance
    ahead: Future[_Ahead] | None


@dataclass(frozen=True)
class _Ahead:
    """A draft understood during the hang-over, and when (``perf_counter`` start, end)
    each of its stages ran."""

    understanding: Understanding
    spans: dict[str, tuple[float, float]]


class Pipeline:
    """Voice to MIDI, live. Building one loads the models and opens the MIDI port, so a
    missing model or a busy port fails here, before listening starts. The arguments are
    the :class:`~djtui.core.listener.Listener`'s."""

    def __init__(self, config: Config, context: Context | None = None, engine: Any = None, midi_out: Any = None,
                 dry_run: bool = False, session_log: Any = None) -> None:
        self.config = config
        self.listener = Listener(config, context=context, engine=engine, midi_out=midi_out, dry_run=dry_run,
                                 session_log=session_log)
        self.dry_run = self.listener.dry_run
        self._utterances: queue.Queue[_Job | None] = queue.Queue(maxsize=QUEUE_SIZE)
        self._speculation: tuple[float, float, Future[_Ahead]] | None = None
        self._asr_ahead: ThreadPoolExecutor | None = None
        self._glimpser: ThreadPoolExecutor | None = None
        self._glimpse: Future[None] | None = None
        self._source: AudioSource | None = None
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._finished = threading.Event()
        self._trigger: Any = None
        self.dropped = {"utterance": 0, "audio": 0}
        """What was lost since listening started (also published as Dropped events)."""

    # --- the public face ---

    def subscribe(self, callback: Subscriber) -> None:
        """Call ``callback(event)`` for every event, on the pipeline's threads."""
        self.listener.subscribe(callback)

    def start(self, source: AudioSource) -> None:
        """Listen to ``source`` (a :class:`~djtui.core.audio.MicrophoneSource` or
        :class:`~djtui.core.audio.FileSource`) until :meth:`stop` or its end."""
        if self._threads:
            raise DjtuiError("the pipeline is already listening", "stop it before starting it again")
        if isinstance(source, MicrophoneSource) and source.on_status is None:
            source.on_status = lambda message, hint: self.listener.publish(Status(message, hint))
        if self.config.audio.trigger == Trigger.MIDI_HOLD:
            self._trigger = self._open_footswitch()
        self._source = source
        self._utterances = queue.Queue(maxsize=QUEUE_SIZE)  # nothing left over from a previous run
        self._speculation = None
        self.dropped = {"utterance": 0, "audio": 0}
        self._asr_ahead = ThreadPoolExecutor(max_workers=1, thread_name_prefix="djtui-asr-ahead")
        self._glimpser = ThreadPoolExecutor(max_workers=1, thread_name_prefix="djtui-glimpse")
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
        for executor in (self._glimpser, self._asr_ahead):
            if executor is not None:
                executor.shutdown(wait=True, cancel_futures=True)
        self._asr_ahead = self._glimpser = None
        if self._trigger is not None:
            self._trigger.close()
            self._trigger = None
        self.listener.close()

    def arm(self) -> None:
        """Let approved commands reach Rekordbox."""
        self.listener.arm()

    def disarm(self) -> None:
        """Nothing is sent until :meth:`arm`; utterances are still heard and logged."""
        self.listener.disarm()

    def panic(self) -> None:
        """Disarm at once and drop every pending confirmation and queued utterance."""
        while True:
            try:
                self._utterances.get_nowait()
            except queue.Empty:
                break
        self.listener.disarm()

    def set_listening(self, listening: bool) -> None:
        """Push-to-talk: open or close the microphone gate (from any thread)."""
        self.listener.set_listening(listening)

    @property
    def armed(self) -> bool:
        return self.listener.armed

    @property
    def listening(self) -> bool:
        return self.listener.listening

    @property
    def context(self) -> Context:
        return self.listener.context

    @property
    def deck_state(self) -> Any:
        return self.listener.deck_state

    @property
    def engine_description(self) -> str:
        """Which ASR engine and model run, and why (for the UI)."""
        return self.listener.engine_description

    def handle(self, utterance: Utterance) -> Outcome:
        """Run one utterance through every stage on this thread (bench, tests)."""
        return self.listener.handle(utterance)

    # --- threads ---

    def _listen(self, source: AudioSource) -> None:
        listener = self.listener
        overruns = 0
        try:
            for block in source.blocks():
                if self._stopping.is_set():
                    break
                utterance = listener.hear(block)
                if listener.glimpse_due():
                    self._start_glimpse()
                if (draft := listener.endpointer.take_draft()) is not None:
                    self._start_asr_ahead(draft)
                if utterance is not None:
                    self._put(_Job(utterance, self._asr_ahead_for(utterance)))
                if (now := getattr(source, "overruns", 0)) > overruns:
                    self._drop("audio", now - overruns, "the audio input overran: djtui could not read fast "
                                                        "enough and some sound was lost")
                    overruns = now
            else:
                if (utterance := listener.endpointer.flush()) is not None:
                    self._put(_Job(utterance, None))
        except DjtuiError as exc:
            listener.publish(Error(exc.message, exc.hint))
        except Exception as exc:  # noqa: BLE001 - the audio thread must report, not die silently
            log.exception("audio thread failed")
            listener.publish(Error(f"audio input failed: {exc}", "restart listening; see the log for details"))
        finally:
            self._put(None)

    def _start_glimpse(self) -> None:
        """Read the speech so far on the glimpse thread, unless the last glimpse is still
        running (a busy machine glimpses less; it then finalises early less often)."""
        if self._glimpser is None or (self._glimpse is not None and not self._glimpse.done()):
            return
        audio = self.listener.endpointer.speech_so_far()
        if audio is not None:
            recognizer = self.listener.stages.recognizer
            self._glimpse = self._glimpser.submit(lambda: self.listener.note_glimpse(recognizer.glimpse(audio)))

    def _start_asr_ahead(self, draft: Utterance) -> None:
        """Understand the draft while the hang-over runs: if the silence lasts, the
        utterance is this audio and its ASR, resolving and rescoring are already (partly)
        done. The safety gate waits for the endpoint: its verdict depends on the moment."""
        if self._asr_ahead is None:
            return
        if self._speculation is not None:  # speech went on after that draft: drop it if not begun
            self._speculation[2].cancel()
        self._speculation = (draft.start_time, draft.end_time, self._asr_ahead.submit(self._understand_draft, draft))

    def _understand_draft(self, draft: Utterance) -> _Ahead:
        """The draft understood; if it may fire now (:mod:`djtui.core.early`), it goes to
        the worker at once, ended early, instead of after the hang-over."""
        ahead = self._understand(draft.audio, draft.duration_s)
        if (early := self.listener.finalize_early(draft, ahead.understanding)) is not None:
            done: Future[_Ahead] = Future()
            done.set_result(ahead)
            self._put(_Job(early, done))
        return ahead

    def _understand(self, audio: Any, speech_s: float) -> _Ahead:
        started = time.perf_counter()
        understanding = self.listener.understand(audio, speech_s)
        spans, at = {}, started
        for stage in STAGES:  # the recognizer runs its stages one after another, in this order
            if stage in understanding.timings:
                end = at + understanding.timings[stage] / 1000
                spans[stage] = (at, end)
                at = end
        return _Ahead(understanding, spans)

    def _asr_ahead_for(self, utterance: Utterance) -> Future[_Ahead] | None:
        speculation, self._speculation = self._speculation, None
        if speculation is None or speculation[:2] != (utterance.start_time, utterance.end_time):
            return None  # speech went on after the draft (or it was cut): understand anew
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
                self._drop("utterance", 1, "djtui stopped before handling one utterance")
            else:
                self._drop("utterance", 1, "still busy with earlier commands: one utterance was dropped; "
                                           "speak again when the last command has been handled")

    def _drop(self, what: str, count: int, message: str) -> None:
        self.dropped[what] += count
        event = Dropped(what, count, self.dropped[what], message)
        self.listener.publish(event)
        session_log = self.listener.stages.session_log
        if session_log is not None:
            try:
                session_log.record({"dropped": what, "count": count, "total": self.dropped[what], "message": message})
            except DjtuiError as exc:
                self.listener.publish(Error(exc.message, exc.hint))

    def _work(self) -> None:
        listener = self.listener
        while True:
            try:
                job = self._utterances.get(timeout=0.25)
            except queue.Empty:
                listener.expire()
                continue
            if job is None:
                break
            try:
                understanding, timings = self._take_ahead(job)
                listener.handle(job.utterance, understanding, timings)
            except DjtuiError as exc:
                listener.publish(Error(exc.message, exc.hint))
            except Exception as exc:  # noqa: BLE001 - one bad utterance must not end the set
                log.exception("handling an utterance failed")
                listener.publish(Error(f"could not handle an utterance: {exc}", "djtui keeps listening"))
        self._finished.set()
        listener.publish(Finished())

    def _take_ahead(self, job: _Job) -> tuple[Understanding | None, dict[str, float] | None]:
        """The draft's understanding and what each of its stages took after the endpoint;
        ``(None, None)`` when there is none (or it failed) and the worker must start."""
        if job.ahead is None:
            return None, None
        try:
            ahead = job.ahead.result()
        except Exception:  # noqa: BLE001 - fall back to understanding it now
            log.exception("understanding during the hang-over failed")
            return None, None
        endpoint = job.utterance.endpoint_time
        return ahead.understanding, {stage: max(0.0, end - max(start, endpoint)) * 1000
                                     for stage, (start, end) in ahead.spans.items()}

    def _open_footswitch(self) -> Any:

        audio = self.config.audio
        if not audio.ptt_midi_port:
            raise DjtuiError("trigger 'midi_hold' needs a footswitch port", "set [audio] ptt_midi_port (see `djtui midi ports`)")
        return MidiHoldTrigger(
            audio.ptt_midi_port,
            audio.ptt_midi_note,
            on_press=lambda: self.set_listening(True),
            on_release=lambda: self.set_listening(False),
            api=self.config.midi.api,
        )
