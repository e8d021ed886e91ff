"""Record: read the prompt, speak after the countdown, get a quality check; the session
resumes where it stopped. One phrasing of every command, three takes each (what a
model of your voice needs: ~120 takes for the DJ context, a few minutes to record).
Takes go to ``<data dir>/training_data`` for ``djtui train``."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import ProgressBar, Static

from djtui.core.errors import DjtuiError
from djtui.tui.host import input_problem, user_error
from djtui.tui.screens.base import DjtuiScreen
from djtui.tui.widgets.big_text import BigText
from djtui.tui.widgets.vu_meter import SILENCE_DB, VuMeter

if TYPE_CHECKING:
    import numpy as np

SPEAKER = "me"
TAKES_PER_COMMAND = 3


def qc_text(result: Any) -> str:
    """One line on a take's quality check."""
    if result.passed:
        return f"✔ good take: {result.speech_s:.1f} s of speech, peak {result.peak_db:.0f} dBFS — kept"
    return "✘ " + "; ".join(result.problems) + " — space: record it again"


class RecordScreen(DjtuiScreen):
    TITLE = "record"
    CSS_PATH = "record.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        # Short labels: at 80 columns the footer also holds ? Keys, a Arm, x PANIC, q Quit.
        Binding("space", "record", "Record", tooltip="countdown, then record a take (again: stop early)"),
        Binding("p", "play", "Play", tooltip="hear the last take"),
        Binding("d", "redo", "Redo", tooltip="record the last take again (a good one replaces it)"),
        Binding("k", "skip", "Skip", tooltip="skip this prompt for now (it comes back next session)"),
    ]

    countdown_s = 3
    """Seconds of countdown before a take starts (tests set 0)."""
    take_s = 4.0
    """Longest take; space stops earlier."""

    def __init__(self) -> None:
        super().__init__()
        self.session: Any = None
        self.prompt: Any = None
        self.skipped: set[tuple[str, int]] = set()
        self.last_prompt: Any = None
        self.last_audio: np.ndarray | None = None
        self.level: tuple[float, float] | None = None
        self.recording = False
        self._stop_take = threading.Event()
        self._countdown: Any = None
        self.inputs: list[str] | DjtuiError | None = None
        """The machine's audio inputs (or why they cannot be listed); ``None`` until known."""

    def body(self) -> ComposeResult:
        yield Static("", id="record-progress-label")
        yield ProgressBar(total=1, show_eta=False, id="record-progress")
        yield Static("say:", classes="muted")
        with Vertical(id="prompt-box"):
            yield BigText(id="prompt")
        yield Static("space: record", id="record-state")
        yield VuMeter()
        yield Static("", id="qc")
        yield Static("", id="record-where", classes="muted")

    def on_mount(self) -> None:
        super().on_mount()
        self.set_interval(1 / 15, self._refresh_meter)
        self.open_session()

    @work(thread=True, exclusive=True, group="record-open")
    def open_session(self) -> None:
        app = self.app
        try:
            self.inputs = app.host.input_devices()
        except Exception as exc:  # noqa: BLE001 - said when space is pressed
            self.inputs = user_error(exc, "listing audio inputs")
        try:
            context = app.host.context(app.config)
            session = app.host.recording_session(app.host.recordings_dir(), context, SPEAKER,
                                                 takes=TAKES_PER_COMMAND, phrasings=1)
        except Exception as exc:  # noqa: BLE001 - shown as a notification
            exc = user_error(exc, "opening the recording session")
            app.call_from_thread(self._not_available, exc)
            return
        app.call_from_thread(self._opened, session)

    def _not_available(self, error: DjtuiError) -> None:
        self.query_one("#prompt", BigText).text = "not available"
        self.app.show_error(error, title="Record")

    def _opened(self, session: Any) -> None:
        self.session = session
        done, total = session.progress()
        if done:
            self.query_one("#qc", Static).update(f"resumed: {done} of {total} takes were already recorded")
        self.query_one("#record-where", Static).update(f"takes go to {session.manifest}")
        if session.reconciled.changed:  # the folder needed mending: say what moved where
            self.app.notify(session.reconciled.summary(), title="Record: takes folder mended",
                            severity="warning", timeout=20)
        self._next_prompt()

    def _next_prompt(self) -> None:
        remaining = [p for p in self.session.remaining() if (p.text, p.take) not in self.skipped]
        self._show_prompt(remaining[0] if remaining else None)

    def _show_prompt(self, prompt: Any) -> None:
        self.prompt = prompt
        done, total = self.session.progress()
        self.query_one(ProgressBar).update(total=max(1, total), progress=done)
        if prompt is None:
            self.query_one("#record-progress-label", Static).update(f"{done} of {total} takes recorded")
            self.query_one("#prompt", BigText).text = "all done" if done == total else "only skipped left"
            self.query_one("#record-state", Static).update("t: train a model on these takes")
            return
        number = done + 1 if not self.session.is_done(prompt) else done
        self.query_one("#record-progress-label", Static).update(
            f"take {number} of {total} · this phrase: take {prompt.take} · command {prompt.intent}")
        self.query_one("#prompt", BigText).text = prompt.text
        self.query_one("#record-state", Static).update("space: record · k: skip")

    # --- actions ---

    def action_record(self) -> None:
        if self.recording:
            self._stop_take.set()
            return
        if self.prompt is None or self._countdown is not None:
            return
        # No 3-2-1 for a take that cannot be recorded: say so at once, and what to do.
        problem = input_problem(self.inputs, self.app.config.audio.input_device) if self.inputs is not None else None
        if problem is not None:
            self.query_one("#record-state", Static).update(f"{problem.message} — {problem.hint}")
            self.app.show_error(problem, title="Record")
            return
        self._tick(self.countdown_s)

    def _tick(self, left: int) -> None:
        if left > 0:
            self.query_one("#record-state", Static).update(f"get ready… {left}")
            self._countdown = self.set_timer(1.0, lambda: self._tick(left - 1))
            return
        self._countdown = None
        self.recording = True
        self._stop_take.clear()
        self.query_one("#record-state", Static).update("● RECORDING — say it now (space: stop)")
        self.capture(self.prompt)

    @work(thread=True, exclusive=True, group="record-take")
    def capture(self, prompt: Any) -> None:
        import numpy as np

        from djtui.core.audio import SAMPLE_RATE

        app = self.app
        blocks: list[np.ndarray] = []
        try:
            source = app.host.microphone(app.config)
            try:
                limit = int(self.take_s * SAMPLE_RATE)
                for block in source.blocks():
                    blocks.append(block.copy())
                    self.level = app.host.level(block)
                    if self._stop_take.is_set() or sum(len(b) for b in blocks) >= limit:
                        break
            finally:
                source.close()
            audio = np.concatenate(blocks) if blocks else np.zeros(0, np.float32)
            result = self.session.save_take(audio, prompt, SAMPLE_RATE)
        except Exception as exc:  # noqa: BLE001 - shown as a notification
            exc = user_error(exc, "recording the take")
            app.call_from_thread(self._capture_failed, exc)
            return
        app.call_from_thread(self._captured, audio, result, prompt)

    def _capture_failed(self, error: DjtuiError) -> None:
        self.recording, self.level = False, None
        self.query_one("#record-state", Static).update("not recorded — space: try again")
        self.app.show_error(error, title="Record")

    def _captured(self, audio: np.ndarray, result: Any, prompt: Any) -> None:
        self.recording, self.level = False, None
        self.last_audio, self.last_prompt = audio, prompt
        self.query_one("#qc", Static).update(qc_text(result))
        self.query_one("#qc", Static).set_class(not result.passed, "-failed")
        if result.passed:
            self._next_prompt()
        else:
            self.query_one("#record-state", Static).update("space: record again · p: hear it · k: skip")

    def action_play(self) -> None:
        if self.last_audio is None or not len(self.last_audio):
            self.app.notify("no take yet", title="Record")
            return
        self.play(self.last_audio)

    @work(thread=True, exclusive=True, group="record-play")
    def play(self, audio: np.ndarray) -> None:
        from djtui.core.audio import SAMPLE_RATE

        app = self.app
        try:
            app.host.play(audio, SAMPLE_RATE)
        except Exception as exc:  # noqa: BLE001 - shown as a notification
            exc = user_error(exc, "playing the take back")
            app.call_from_thread(app.show_error, exc, "Record")

    def action_redo(self) -> None:
        """Record the last take's prompt again; a good new take replaces the kept one."""
        if self.recording or self.last_prompt is None:
            return
        self._show_prompt(self.last_prompt)
        self.query_one("#qc", Static).update("redo: a good take replaces the last one")
        self.action_record()

    def action_skip(self) -> None:
        if self.prompt is not None and not self.recording and self._countdown is None:
            self.skipped.add((self.prompt.text, self.prompt.take))
            self._next_prompt()

    def _refresh_meter(self) -> None:
        meter = self.query_one(VuMeter)
        meter.rms_db, meter.peak_db = self.level if self.level is not None else (SILENCE_DB, SILENCE_DB)
