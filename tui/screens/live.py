"""Live HUD: what djtui hears, what it understood, what the safety layer decided, what
went to Rekordbox (and which knobs and faders are moving), how long it took, and what
listening costs (djtui's CPU share and whether it keeps up). Readable at a glance from a
metre away."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import RichLog, Static

from djtui.core.errors import DjtuiError
from djtui.core.events import (Dropped, Event, Expired, Finished, Hearing, ListeningChanged, Outcome, RampEnded,
                               RampStarted, SpeechEnded, SpeechStarted, Usage)
from djtui.core.records import MidiCommand, Move, Verdict
from djtui.core.rekordbox import Export
from djtui.core.tempo import TapTempo
from djtui.tui.host import user_error
from djtui.tui.live_session import lost_words
from djtui.tui.screens.base import DjtuiScreen
from djtui.tui.widgets.candidate_bars import CandidateBars
from djtui.tui.widgets.deck_state import DeckState
from djtui.tui.widgets.echo_meter import EchoMeter
from djtui.tui.widgets.latency_sparkline import LatencySparkline
from djtui.tui.widgets.ramp_line import RampLine
from djtui.tui.widgets.stage_breakdown import StageBreakdown
from djtui.tui.widgets.usage_meter import UsageMeter
from djtui.tui.widgets.verdict_line import VerdictLine
from djtui.tui.widgets.vu_meter import SILENCE_DB, VuMeter

REFRESH_HZ = 12
"""Meter and deck refresh rate: smooth enough to the eye, cheap next to the ASR."""


def verdict_parts(verdict: Verdict) -> tuple[bool, str, str]:
    """(approved, reason, command label) of a safety verdict."""
    command = verdict.candidate.label() if verdict.candidate is not None else ""
    return verdict.approved, verdict.message or verdict.reason, command


def sent_words(command: MidiCommand, mapping: Export | None) -> str:
    """One sent command as Rekordbox will see it: the mapping's row name (what it does)
    and the message, ``PAD10_BeatLoop · note 25 ch 1``."""
    row = mapping.row_for(command) if mapping is not None else None
    if mapping is None:
        name = command.function
    elif row is None:
        name = f"{command.function} (no row in the mapping: Rekordbox does nothing)"
    else:
        name = row.name
    message = f"note {command.number}" if command.type == "note" else f"CC {command.number} = {command.value}"
    return f"{name} · {message} ch {command.channel + 1}"


class LiveScreen(DjtuiScreen):
    TITLE = "live"
    CSS_PATH = "live.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        # Arm and panic first, so the footer shows them even at 80 columns.
        Binding("a", "app.toggle_armed", "Arm"),
        Binding("x", "app.panic", "PANIC"),
        Binding("space", "toggle_listening", "Listen on/off", tooltip="start or stop the live pipeline"),
        # Only with trigger push_to_talk; otherwise p says why it does nothing (check_action).
        Binding("p", "push_to_talk", "Talk", tooltip="push-to-talk: open/close the microphone gate"),
        Binding("p", "no_push_to_talk", "Talk", show=False, tooltip="push-to-talk: open/close the microphone gate"),
        Binding("b", "tap_tempo", "Tap BPM", show=False,
                tooltip="tap the beat: the tempo 'over eight bars' is counted in"),
        Binding("ctrl+l", "clear", "Clear", tooltip="clear the HUD's log"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.starting = False
        self.talking = False
        self.utterances = 0
        self.engine = ""
        self.dropped: dict[str, int] = {"utterance": 0, "audio": 0}
        self.mapping: Export | None = None
        """The Rekordbox mapping of the running context: how the sent log names what
        Rekordbox will do (``PAD10_BeatLoop``, where the context says ``BeatLoop``)."""
        self.taps = TapTempo()
        self.handling = False
        """Between the end of speech and the utterance's trace the pipeline races to send
        the command; the meters (cosmetic, and silent then anyway) pause so the UI thread
        takes no CPU from it."""

    def body(self) -> ComposeResult:
        yield Static("stopped — space: start listening", id="live-state")
        yield VuMeter()
        yield EchoMeter()
        yield Static("heard: —", id="transcript")
        yield CandidateBars(placeholder="top 5: nothing heard yet")
        yield VerdictLine()
        yield DeckState()
        yield RampLine()
        yield LatencySparkline()
        yield StageBreakdown()
        yield UsageMeter()
        yield Static("", id="dropped")
        yield RichLog(id="sent-log", max_lines=500, markup=False, wrap=True)

    def on_mount(self) -> None:
        super().on_mount()
        self._show_reference()
        self.query_one("#sent-log", RichLog).write("sent commands appear here")
        self.set_interval(1 / REFRESH_HZ, self._refresh_meters)

    def on_screen_resume(self) -> None:
        self.refresh_bindings()  # the trigger may have changed in Settings

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        push_to_talk = self.app.config.audio.trigger == "push_to_talk"
        if action == "push_to_talk":
            return push_to_talk
        if action == "no_push_to_talk":
            return not push_to_talk
        return True

    # --- actions ---

    def action_toggle_listening(self) -> None:
        app = self.app
        if self.starting:
            return
        if app.session.running:
            app.session.stop()
            self._state("stopped — space: start listening")
            return
        self.start_listening()

    def start_listening(self, source: Any = None) -> None:
        """Build the pipeline and start it on ``source`` (default: the configured microphone)."""
        self.starting = True
        self.mapping = None  # read again on the next command: the context or the pads may have changed
        self.app.hold_context_model()  # the build pauses before the models load, not a tick later
        self._state("starting: loading the speech model…")
        self._start(source)

    @work(thread=True, exclusive=True, group="live-start")
    def _start(self, source: Any) -> None:
        app = self.app
        try:
            # The microphone first: a missing one fails in milliseconds, the models take seconds.
            source = source if source is not None else app.host.microphone(app.config)
            try:
                pipeline = app.host.pipeline(app.config)
                app.session.start(pipeline, source, app.armed)
            except BaseException:
                source.close()
                raise
        except Exception as exc:  # noqa: BLE001 - shown as a notification
            exc = user_error(exc, "starting the live pipeline")
            app.call_from_thread(self._failed, exc)
            return
        engine = getattr(pipeline, "engine_description", "") or f"{pipeline.engine_name} {pipeline.model_name}".strip()
        app.call_from_thread(self._started, engine)

    def _mapping(self) -> Export | None:
        """The context's Rekordbox mapping, or ``None`` (a context that cannot be mapped
        is reported by ``djtui midi export-rekordbox``; the log then shows its names)."""
        from djtui.core.rekordbox import PadLayout, plan_export

        app = self.app
        try:
            return plan_export(app.host.context(app.config), PadLayout.from_config(app.config.rekordbox))
        except DjtuiError:
            return None

    def _started(self, engine: str) -> None:
        self.starting = False
        self.engine = engine
        self._show_reference()
        self._show_listening()

    def _show_listening(self) -> None:
        trigger = self.app.config.audio.trigger
        if trigger == "always":
            how = "speak a command"
        elif trigger == "push_to_talk":
            how = "MIC OPEN — p: close" if self.talking else "mic closed — p: talk"
        else:
            how = "MIC OPEN (footswitch)" if self.talking else "hold the footswitch to talk"
        self._state(f"● listening · {how} · space: stop · {self.engine}")  # what to do first: the engine line is long

    def _failed(self, error: DjtuiError) -> None:
        self.starting = False
        self._state(f"not listening: {error.message}")
        self.app.show_error(error, title="Live")

    def action_push_to_talk(self) -> None:
        app = self.app
        try:
            app.session.set_listening(not self.talking)
        except DjtuiError as exc:
            app.show_error(exc, title="Live")
            return
        self.talking = not self.talking

    def action_no_push_to_talk(self) -> None:
        trigger = str(self.app.config.audio.trigger.value)
        why = "the VAD decides when you speak" if trigger == "always" else "the footswitch opens the microphone"
        self.app.notify(f"p does nothing with trigger {trigger!r}: {why}. For a key, choose push-to-talk in "
                        "Settings (s).", title="Live", timeout=4)

    def action_tap_tempo(self) -> None:
        """One tap of the beat; from the second, the tempo beats and bars are counted in."""
        import time

        pipeline = self.app.session.pipeline
        if pipeline is None:
            self.app.notify("start listening first (space): the tempo belongs to the running pipeline",
                            severity="warning", timeout=3)
            return
        if (bpm := self.taps.tap(time.monotonic())) is not None:
            pipeline.tempo.set(bpm, "tapped")
            self._refresh_ramps()

    def action_clear(self) -> None:
        self.query_one("#sent-log", RichLog).clear()

    def _state(self, text: str) -> None:
        self.query_one("#live-state", Static).update(text)

    # --- pipeline events (from the app, on the UI thread) ---

    def handle(self, event: Event) -> None:
        """Show one pipeline event."""
        match event:
            case SpeechEnded(accepted=accepted):
                self.handling = accepted
            case SpeechStarted():
                self.query_one("#transcript", Static).update("heard: … (speaking)")
            case Hearing(text=text):
                self.query_one("#transcript", Static).update(f"hearing: {text or '…'}")
            case Outcome():
                self._outcome(event)
            case RampStarted(move=move, start=start, seconds=seconds):
                began = "?" if start is None else f"{start:.2f}"
                how = "at once" if seconds == 0 else f"over {seconds:.2f} s"
                self._log(f"{_where(move)} {began} → {move.target:.2f} {how}")
            case RampEnded(move=move, position=position, how=how) if how != "done":
                where = "?" if position is None else f"{position:.2f}"
                self._log(f"{_where(move)} stopped at {where} ({how})")
            case Expired(verdict=verdict):
                self.query_one(VerdictLine).show(False, verdict.message, verdict.candidate.label() if verdict.candidate else "")
            case Usage(cpu_share=cpu_share, realtime_factor=realtime_factor, cores=cores):
                meter = self.query_one(UsageMeter)
                meter.cores, meter.cpu_share, meter.realtime_factor = cores, cpu_share, realtime_factor
            case Dropped(what=what, total=total):
                self.dropped[what] = total
                lost = ", ".join(lost_words(kind, n) for kind, n in self.dropped.items() if n)
                banner = self.query_one("#dropped", Static)
                banner.update(f"lost since listening started: {lost}")
                banner.set_class(bool(lost), "-lost")
            case ListeningChanged(listening=listening):
                self.talking = listening
                if self.app.session.running:
                    self._show_listening()
            case Finished():
                self.app.session.stop()
                self._state(f"finished: end of input ({self.utterances} utterances) — space: listen again")

    def _outcome(self, outcome: Outcome) -> None:
        self.handling = False
        self.utterances += 1
        self.query_one("#transcript", Static).update(f"heard: {outcome.transcript or '(nothing recognised)'}")
        self.query_one(CandidateBars).rows = tuple((c.label(), float(c.score)) for c in outcome.candidates)
        approved, reason, command = verdict_parts(outcome.verdict)
        self.query_one(VerdictLine).show(approved, reason, command)
        stamp = self.app.host.clock()
        dry = " (dry run)" if outcome.dry_run else ""
        intent = outcome.verdict.candidate.label() if outcome.verdict.candidate is not None else ""
        if outcome.sent and self.mapping is None:
            self.mapping = self._mapping()
        for sent in outcome.sent:
            self.query_one("#sent-log", RichLog).write(
                f"{stamp}  #{outcome.number}  {intent} → {sent_words(sent, self.mapping)}{dry}")
        # What the DJ feels: from the end of speech, the silence waited included.
        self.query_one(LatencySparkline).add(outcome.said_to_done_ms)
        self.query_one(StageBreakdown).show(dict(outcome.stages_ms), outcome.total_ms)
        self._refresh_decks()
        self._refresh_ramps()

    def _log(self, text: str) -> None:
        stamp = self.app.host.clock()
        self.query_one("#sent-log", RichLog).write(f"{stamp}  {text}")

    def _refresh_meters(self) -> None:
        if self.handling:
            return
        session = self.app.session
        meter = self.query_one(VuMeter)
        level = session.level
        meter.rms_db, meter.peak_db = level if level is not None else (SILENCE_DB, SILENCE_DB)
        if (echo := session.echo) is not None:
            before = self.query_one(EchoMeter)
            before.before_db, before.after_db, before.erle_db = echo.before.rms_dbfs, echo.after.rms_dbfs, echo.erle_db
        if (reference := session.reference) is not None:
            before = self.query_one(EchoMeter)
            before.state, before.delay_ms = reference.state, reference.delay_ms
        self._refresh_decks()
        self._refresh_ramps()

    def _show_reference(self) -> None:
        """The before/after line shows only when a reference is set: without one the
        level meter is the whole story, as it always was."""
        self.query_one(EchoMeter).set_class(self.app.config.audio.has_reference, "-reference")

    def _refresh_decks(self) -> None:
        """Deck state as the pipeline knows it; the last known stays up when it stops."""
        deck_state = getattr(self.app.session.pipeline, "deck_state", None)
        if deck_state is not None:
            self.query_one(DeckState).playing = tuple(deck_state.playing(deck) for deck in range(1, 5))

    def _refresh_ramps(self) -> None:
        """The knobs and faders moving now, and the tempo beats are counted in."""
        pipeline = self.app.session.pipeline
        ramps, tempo = getattr(pipeline, "ramps", None), getattr(pipeline, "tempo", None)
        line = self.query_one(RampLine)
        line.ramps = tuple((_where(r.move), r.position, r.move.target, r.progress)
                           for r in (ramps.active() if ramps is not None else ()))
        if tempo is not None:
            line.tempo = (f"{tempo.describe()} · b: tap" if tempo.bpm is not None
                          else "no tempo: bars and beats refused, seconds work · b: tap the beat")


def _where(move: Move) -> str:
    """``EQLow deck 2``; a global control by its name alone (``CrossFader``)."""
    return f"{move.function} deck {move.deck}" if move.deck is not None else move.function
