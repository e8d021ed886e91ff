"""Live HUD: what djtui hears, what it understood, what the safety layer decided, what
went to Rekordbox, and how long it took. Readable at a glance from a metre away."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import RichLog, Static

from djtui.core.errors import DjtuiError
from djtui.core.events import (Dropped, Event, Expired, Finished, Hearing, ListeningChanged, Outcome, SpeechEnded,
                               SpeechStarted)
from djtui.core.records import Verdict
from djtui.tui.host import user_error
from djtui.tui.screens.base import DjtuiScreen
from djtui.tui.widgets.candidate_bars import CandidateBars
from djtui.tui.widgets.deck_state import DeckState
from djtui.tui.widgets.latency_sparkline import LatencySparkline
from djtui.tui.widgets.stage_breakdown import StageBreakdown
from djtui.tui.widgets.verdict_line import VerdictLine
from djtui.tui.widgets.vu_meter import SILENCE_DB, VuMeter

REFRESH_HZ = 12
"""Meter and deck refresh rate: smooth enough to the eye, cheap next to the ASR."""


def verdict_parts(verdict: Verdict) -> tuple[bool, str, str]:
    """(approved, reason, command label) of a safety verdict."""
    command = verdict.candidate.label() if verdict.candidate is not None else ""
    return verdict.approved, verdict.message or verdict.reason, command


class LiveScreen(DjtuiScreen):
    TITLE = "live"
    CSS_PATH = "live.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        # Arm and panic first, so the footer shows them even at 80 columns.
        Binding("a", "app.toggle_armed", "Arm"),
        Binding("x", "app.panic", "PANIC"),
        Binding("space", "toggle_listening", "Listen on/off", tooltip="start or stop the live pipeline"),
        Binding("p", "push_to_talk", "Talk", tooltip="push-to-talk: open/close the microphone gate"),
        Binding("ctrl+l", "clear", "Clear", tooltip="clear the HUD's log"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.starting = False
        self.talking = False
        self.utterances = 0
        self.engine = ""
        self.dropped: dict[str, int] = {"utterance": 0, "audio": 0}
        self.handling = False
        """Between the end of speech and the utterance's trace the pipeline races to send
        the command; the meters (cosmetic, and silent then anyway) pause so the UI thread
        takes no CPU from it."""

    def body(self) -> ComposeResult:
        yield Static("stopped — space: start listening", id="live-state")
        yield VuMeter()
        yield Static("heard: —", id="transcript")
        yield CandidateBars(placeholder="top 5: nothing heard yet")
        yield VerdictLine()
        yield DeckState()
        yield LatencySparkline()
        yield StageBreakdown()
        yield Static("", id="dropped")
        yield RichLog(id="sent-log", max_lines=500, markup=False, wrap=False)

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#sent-log", RichLog).write("sent commands appear here")
        self.set_interval(1 / REFRESH_HZ, self._refresh_meters)

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

    def _started(self, engine: str) -> None:
        self.starting = False
        self.engine = engine
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
            case Expired(verdict=verdict):
                self.query_one(VerdictLine).show(False, verdict.message, verdict.candidate.label() if verdict.candidate else "")
            case Dropped(what=what, total=total):
                self.dropped[what] = total
                lost = ", ".join(f"{n} {kind}{'s' if n != 1 else ''}" for kind, n in self.dropped.items() if n)
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
        for sent in outcome.sent:
            self.query_one("#sent-log", RichLog).write(f"{stamp}  #{outcome.number}  {sent.label()}{dry}")
        # What the DJ feels: from the end of speech, the silence waited included.
        self.query_one(LatencySparkline).add(outcome.said_to_done_ms)
        self.query_one(StageBreakdown).show(dict(outcome.stages_ms), outcome.total_ms)
        self._refresh_decks()

    def _refresh_meters(self) -> None:
        if self.handling:
            return
        session = self.app.session
        meter = self.query_one(VuMeter)
        level = session.level
        meter.rms_db, meter.peak_db = level if level is not None else (SILENCE_DB, SILENCE_DB)
        self._refresh_decks()

    def _refresh_decks(self) -> None:
        """Deck state as the pipeline knows it; the last known stays up when it stops."""
        deck_state = getattr(self.app.session.pipeline, "deck_state", None)
        if deck_state is not None:
            self.query_one(DeckState).playing = tuple(deck_state.playing(deck) for deck in range(1, 5))
