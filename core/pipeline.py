"""The live pipeline: a :class:`~djtui.core.listener.Listener` on two threads.

::

    pipeline = Pipeline(load_config())
    pipeline.subscribe(print)
    pipeline.arm()
    pipeline.start(MicrophoneSource())
    ...
    pipeline.stop()

The *audio thread* reads blocks from the source and steps the listener with each one
(:meth:`~djtui.core.listener.Listener.step`: level, VAD, endpointer): nothing on it may
take longer than a block (32 ms). What the step says is due runs elsewhere: each ended
utterance on the *worker thread* (recognizer, safety gate, MIDI send, session log).

Understanding does not wait for the end of the hang-over: when silence begins after
speech, the endpointer offers a draft (the utterance as it will be if the silence lasts)
and a third thread understands it at once. If the command is complete and clear
(:mod:`djtui.core.early`: while the DJ spoke, a fourth thread glimpsed the speech so far
at a fixed cadence, and those readings agree), it fires then, without waiting out the
hang-over. Otherwise, if the silence lasts, the worker takes the draft's result instead
of starting again, and only the safety gate and the MIDI send are left after the
endpoint.

Every couple of seconds the pipeline publishes what listening costs
(:class:`~djtui.core.events.Usage`, :mod:`djtui.core.usage`): djtui's share of the CPU
and the real-time factor, the time spent understanding per second of audio.

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
from typing import TYPE_CHECKING, Any

from djtui.core.audio import SAMPLE_RATE, AudioSource
from djtui.core.config import Config, Trigger
from djtui.core.context import Context
from djtui.core.errors import DjtuiError
from djtui.core.events import Dropped, Error, Finished, Status
from djtui.core.listener import DraftDue, Due, GlimpseDue, Listener, Subscriber, Subscribers, UtteranceDue
from djtui.core.usage import UsageMeter

if TYPE_CHECKING:
    from djtui.core.stages import Stages

log = logging.getLogger(__name__)

QUEUE_SIZE = 4
"""Utterances waiting for the worker. A DJ says one command at a time; more than this
waiting means the machine cannot keep up, and a command minutes late is worse than none."""


class Pipeline:
    """Voice to MIDI, live. Building one loads the models and opens the MIDI port, so a
    missing model or a busy port fails here, before listening starts. The arguments are
    the :class:`~djtui.core.listener.Listener`'s."""

    def __init__(self, config: Config, context: Context | None = None, engine: Any = None, midi_out: Any = None,
                 dry_run: bool = False, session_log: Any = None, on_progress: Any = None) -> None:
        self.config = config
        self._events = Subscribers()
        self._listener = Listener(config, context=context, engine=engine, midi_out=midi_out, dry_run=dry_run,
                                  session_log=session_log, events=self._events, on_progress=on_progress)
        self.stages: Stages = self._listener.stages
        """What runs: the context, recognizer, gate, deck state and ports."""
        self._utterances: queue.Queue[UtteranceDue | None] = queue.Queue(maxsize=QUEUE_SIZE)
        self._drafting: DraftDue | None = None
        self._ahead: ThreadPoolExecutor | None = None
        self._glimpser: ThreadPoolExecutor | None = None
        self._glimpse: Future[None] | None = None
        self._source: AudioSource | None = None
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._finished = threading.Event()
        self._working = threading.Event()
        self._trigger: Any = None
        self._usage = UsageMeter()
        self.dropped = {"utterance": 0, "audio": 0}
        """What was lost since listening started (also published as Dropped events)."""

    # --- the public face ---

    def subscribe(self, callback: Subscriber) -> None:
        """Call ``callback(event)`` for every event, on the pipeline's threads."""
        self._events.subscribe(callback)

    def start(self, source: AudioSource) -> None:
        """Listen to ``source`` (a :class:`~djtui.core.audio.MicrophoneSource` or
        :class:`~djtui.core.audio.FileSource`) until :meth:`stop` or its end."""
        if self._threads:
            raise DjtuiError("the pipeline is already listening", "stop it before starting it again")
        if getattr(source, "on_status", False) is None:  # a microphone, echo-cancelled or not
            source.on_status = lambda message, hint: self._events.publish(Status(message, hint))
        if getattr(source, "on_event", False) is None:  # the echo canceller's levels and reference
            source.on_event = self._events.publish
        if self.config.audio.trigger == Trigger.MIDI_HOLD:
            self._trigger = self._open_footswitch()
        self._source = source
        self._utterances = queue.Queue(maxsize=QUEUE_SIZE)  # nothing left over from a previous run
        self._drafting = None
        self.dropped = {"utterance": 0, "audio": 0}
        self._usage = UsageMeter()
        self._ahead = ThreadPoolExecutor(max_workers=1, thread_name_prefix="djtui-asr-ahead")
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
            if thread.ident is not None:  # Ctrl-C can land in start(), between two threads starting
                thread.join(timeout=10)
        self._threads = []
        for executor in (self._glimpser, self._ahead):
            if executor is not None:
                executor.shutdown(wait=True, cancel_futures=True)
        self._ahead = self._glimpser = None
        if self._trigger is not None:
            self._trigger.close()
            self._trigger = None
        self._listener.close()

    def arm(self) -> None:
        """Let approved commands reach Rekordbox."""
        self._listener.arm()

    def disarm(self) -> None:
        """Nothing is sent until :meth:`arm`; utterances are still heard and logged."""
        self._listener.disarm()

    def panic(self) -> None:
        """Disarm at once: every ramp stops where it is, every pending confirmation and
        queued utterance is dropped."""
        while True:
            try:
                self._utterances.get_nowait()
            except queue.Empty:
                break
        self._listener.disarm("panic")

    def set_listening(self, listening: bool) -> None:
        """Push-to-talk: open or close the microphone gate (from any thread)."""
        self._listener.set_listening(listening)

    @property
    def armed(self) -> bool:
        return self._listener.armed

    @property
    def listening(self) -> bool:
        return self._listener.listening

    @property
    def deck_state(self) -> Any:
        return self.stages.deck_state

    @property
    def ramps(self) -> Any:
        """The ramp player (:mod:`djtui.core.ramps`): which knobs and faders are moving."""
        return self.stages.ramps

    @property
    def tempo(self) -> Any:
        """The BPM beats and bars are counted in (:mod:`djtui.core.tempo`)."""
        return self.stages.tempo

    @property
    def dry_run(self) -> bool:
        return self.stages.dry_run

    @property
    def engine_description(self) -> str:
        """Which ASR engine and model run, and why (for the UI)."""
        return self.stages.engine_description

    # --- threads ---

    def _listen(self, source: AudioSource) -> None:
        overruns = 0
        try:
            for block in source.blocks():
                if self._stopping.is_set():
                    break
                for due in self._listener.step(block):
                    self._dispatch(due)
                if (usage := self._usage.heard(len(block) / SAMPLE_RATE)) is not None:
                    self._events.publish(usage)
                if (now := getattr(source, "overruns", 0)) > overruns:
                    self._drop("audio", now - overruns, "the audio input overran: djtui could not read fast "
                                                        "enough and some sound was lost")
                    overruns = now
            else:
                for due in self._listener.step(None):
                    self._dispatch(due)
        except DjtuiError as exc:
            self._events.publish(Error(exc.message, exc.hint))
        except Exception as exc:  # noqa: BLE001 - the audio thread must report, not die silently
            log.exception("audio thread failed")
            self._events.publish(Error(f"audio input failed: {exc}", "restart listening; see the log for details"))
        finally:
            self._put(None)

    def _dispatch(self, due: Due) -> None:
        """Start what the listener says is due, each on its own thread."""
        match due:
            case GlimpseDue():
                if self._glimpser is not None and not self._behind():
                    self._glimpse = self._glimpser.submit(self._timed, due.run)
            case DraftDue():
                # understood while the hang-over runs; the safety gate waits for the
                # endpoint, its verdict depends on the moment
                if self._drafting is not None:  # speech went on after that draft: drop it if not begun
                    self._drafting.cancel()
                if self._ahead is not None:
                    self._drafting = due
                    self._ahead.submit(self._timed, self._draft, due)
            case UtteranceDue():
                self._drafting = None
                self._put(due)

    def _timed(self, work: Any, *args: Any) -> None:
        """Run ``work(*args)``, counting its time as understanding (:mod:`djtui.core.usage`)."""
        started = time.perf_counter()
        try:
            work(*args)
        finally:
            self._usage.busy(time.perf_counter() - started)

    def _behind(self) -> bool:
        """Whether a glimpse now would take the CPU from work already due: the last
        glimpse still runs, a draft is being understood, or utterances wait for the
        worker. A busy machine glimpses less, and then finalises early less often; only
        the last glimpse before a draft is compared with it anyway."""
        drafting = self._drafting
        return ((self._glimpse is not None and not self._glimpse.done())
                or (drafting is not None and not drafting.result.done())
                or self._working.is_set() or not self._utterances.empty())

    def _draft(self, due: DraftDue) -> None:
        """The draft understood; if it may fire now, it goes to the worker at once,
        ended early, instead of after the hang-over."""
        try:
            drafted = due.run()
        except Exception:  # noqa: BLE001 - the worker understands the utterance anew
            log.exception("understanding during the hang-over failed")
            return
        if drafted is not None and drafted.early is not None:
            self._put(drafted.early)

    def _put(self, due: UtteranceDue | None) -> None:
        try:
            self._utterances.put_nowait(due)
        except queue.Full:
            if due is None:  # the end marker must arrive: make room for it
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
        self._events.publish(Dropped(what, count, self.dropped[what], message))

    def _work(self) -> None:
        while (due := self._utterances.get()) is not None:
            self._working.set()
            try:
                self._timed(due.run)
            except DjtuiError as exc:
                self._events.publish(Error(exc.message, exc.hint))
            except Exception as exc:  # noqa: BLE001 - one bad utterance must not end the set
                log.exception("handling an utterance failed")
                self._events.publish(Error(f"could not handle an utterance: {exc}", "djtui keeps listening"))
            finally:
                self._working.clear()
        self._finished.set()
        self._events.publish(Finished())

    def _open_footswitch(self) -> Any:
        from djtui.core.footswitch import MidiHoldTrigger

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
