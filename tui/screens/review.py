"""Review: what the last set misheard, labelled by the DJ for the next training run.

Lists the last session's refused and low-confidence utterances
(:func:`djtui.training.review.to_review`; sessions keep clips with ``djtui listen
--save-audio``). ``p`` plays the selected one; ``1``–``5`` say it was that reading of the
top-5, ``n`` that it was not a command. A labelled utterance becomes a take in the
training data (the Record screen's folder) at once, atomically, and leaves the list.
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Static

from djtui.core import paths
from djtui.core.errors import DjtuiError
from djtui.tui.host import user_error
from djtui.tui.screens.base import DjtuiScreen


READING_KEYS = Binding.Group("it was that reading of the top 5")


class ReviewScreen(DjtuiScreen):
    TITLE = "review"
    CSS_PATH = "review.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "play", "Play", tooltip="hear the selected utterance"),
        *(Binding(str(i), f"label({i})", f"It was {i}", show=i == 1, tooltip=f"it was reading {i} of the top 5",
                  group=READING_KEYS) for i in range(1, 6)),
        Binding("n", "label(0)", "Not a command", tooltip="it was not a command (kept as a negative)"),
        # Off the footer, so 80 columns still show PANIC and Quit: in the help (?) and the palette.
        Binding("f5", "reload", "Reload", show=False, tooltip="read the newest session log again"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.heard: list[Any] = []

    def body(self) -> ComposeResult:
        yield Static("", id="review-session", classes="muted")
        yield DataTable(id="review-list", cursor_type="row", zebra_stripes=True)
        yield Static("", id="review-readings")
        yield Static("p: play · 1-5: it was that command · n: not a command", id="review-state")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one(DataTable).add_columns("#", "heard", "verdict", "best reading")
        self.action_reload()

    def action_reload(self) -> None:
        """Read the newest session log and list what is left to review."""
        from djtui.training.review import latest_session, reviewed_keys, session_summary, to_review

        app = self.app
        log = latest_session(paths.sessions_dir())
        if log is None:
            self.heard = []
            self._show("no session yet: run a set with `djtui listen --save-audio`, then come back")
            return
        try:
            self.heard = to_review(log, reviewed_keys(app.host.recordings_dir()))
        except (DjtuiError, OSError, ValueError, KeyError) as exc:
            app.show_error(user_error(exc, f"reading {log}"), title="Review")
            return
        self._show(f"session {log.stem} · {session_summary(self.heard)}")

    def _show(self, summary: str) -> None:
        self.query_one("#review-session", Static).update(summary)
        table = self.query_one(DataTable)
        table.clear()
        for item in self.heard:
            best = item.readings[0].label() if item.readings else "—"
            table.add_row(str(item.n), item.transcript or "(nothing)", item.reason, best, key=item.key)
        self._show_readings()

    def selected(self) -> Any:
        table = self.query_one(DataTable)
        if not self.heard or table.cursor_row is None or not 0 <= table.cursor_row < len(self.heard):
            return None
        return self.heard[table.cursor_row]

    def on_data_table_row_highlighted(self, _: DataTable.RowHighlighted) -> None:
        self._show_readings()

    def _show_readings(self) -> None:
        from djtui.training.review import describe

        item = self.selected()
        text = "\n".join(describe(item.readings)) if item is not None else "nothing to review"
        self.query_one("#review-readings", Static).update(text)

    def action_play(self) -> None:
        item = self.selected()
        if item is not None:
            self.play(item.audio)

    @work(thread=True, exclusive=True, group="review-play")
    def play(self, clip: Any) -> None:
        from djtui.core.audio import read_audio

        app = self.app
        try:
            app.host.play(read_audio(clip), 16000)
        except Exception as exc:  # noqa: BLE001 - shown as a notification
            app.call_from_thread(app.show_error, user_error(exc, "playing the utterance"), "Review")

    def action_label(self, choice: int) -> None:
        """``choice`` 1-5: the utterance was that reading; 0: not a command."""
        from djtui.training.review import label

        app = self.app
        item = self.selected()
        if item is None:
            return
        if choice > len(item.readings):
            app.notify(f"there is no reading {choice} for this utterance", title="Review")
            return
        reading = item.readings[choice - 1] if choice else None
        try:
            filed = label(item, reading, app.host.recordings_dir())
        except Exception as exc:  # noqa: BLE001 - shown as a notification
            app.show_error(user_error(exc, "labelling the utterance"), title="Review")
            return
        what = f"“{reading.sentence}” added to the training takes" if reading else f"kept as not a command: {filed}"
        self.query_one("#review-state", Static).update(f"#{item.n}: {what}")
        row = self.heard.index(item)
        self.heard.remove(item)
        self.query_one(DataTable).remove_row(item.key)
        if self.heard:
            self.query_one(DataTable).move_cursor(row=min(row, len(self.heard) - 1))
        self._show_readings()
