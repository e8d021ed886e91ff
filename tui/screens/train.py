"""Train: fine-tune wav2vec2 on the recorded takes, watch loss and validation WER fall,
compare before and after, and make the new model the live engine.

Training runs in a worker thread through :func:`djtui.training.finetune.train`; its
events come back as messages, so the UI stays responsive, and ``g`` again stops it with
the best checkpoint kept.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Checkbox, DataTable, Input, Label, ProgressBar, RichLog, Select, Sparkline, Static

from djtui.core import paths
from djtui.core.errors import DjtuiError
from djtui.tui.host import user_error
from djtui.tui.screens.base import DjtuiScreen

DEFAULT_BASE = "facebook/wav2vec2-base-960h"
BASES = [("fine-tune a base model", ""), ("from scratch: tiny", "tiny"), ("from scratch: small", "small")]


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return "ETA —"
    minutes, secs = divmod(int(seconds), 60)
    return f"ETA {minutes}:{secs:02d}"


def pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


class TrainProgress(Message):
    """One :class:`djtui.training.finetune.TrainEvent`, from the training thread."""

    def __init__(self, event: Any) -> None:
        super().__init__()
        self.event = event


class TrainScreen(DjtuiScreen):
    TITLE = "train"
    AUTO_FOCUS = ""  # letters switch screens until a field is chosen (tab)
    CSS_PATH = "train.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("g", "start_stop", "Go/Stop", tooltip="start training, or stop it keeping the best checkpoint"),
        Binding("u", "use_model", "Use model", tooltip="make the trained model the live engine"),
        Binding("escape", "leave_field", "Leave field", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.stop_event: threading.Event | None = None
        self.losses: list[float] = []
        self.wers: list[float] = []
        self.result: Any = None

    def body(self) -> ComposeResult:
        app: Any = self.app
        manifest = app.host.recordings_dir() / "manifest.jsonl"
        with Vertical(id="train-settings"):
            with Horizontal(classes="setting"):
                yield Label("Takes")
                yield Input(str(manifest), id="train-data", compact=True)
            with Horizontal(classes="setting"):
                yield Label("Model")
                yield Select(BASES, value="", allow_blank=False, id="train-scratch", compact=True)
                yield Input(DEFAULT_BASE, id="train-base", compact=True)
            with Horizontal(classes="setting"):
                yield Label("Epochs / batch")
                yield Input("30", id="train-epochs", compact=True)
                yield Input("4", id="train-batch", compact=True)
                yield Checkbox("augment", True, id="train-augment", compact=True)
            with Horizontal(classes="setting"):
                yield Label("Output")
                yield Input(str(paths.models_dir() / "my-voice"), id="train-output", compact=True)
        yield Static("g: start training", id="train-state")
        with Horizontal(id="train-progress-row"):
            yield ProgressBar(total=1, show_eta=False, id="train-progress")
            yield Static(format_eta(None), id="train-eta")
        with Horizontal(id="train-plots"):
            with Vertical():
                yield Static("loss", id="loss-label", classes="muted")
                yield Sparkline([], id="loss-plot")
            with Vertical():
                yield Static("val WER", id="wer-label", classes="muted")
                yield Sparkline([], id="wer-plot")
        yield DataTable(id="before-after", show_cursor=False)
        yield RichLog(id="train-log", max_lines=300, markup=False, wrap=True)

    def on_mount(self) -> None:
        super().on_mount()
        table = self.query_one("#before-after", DataTable)
        table.add_columns("model", "WER", "CER", "command accuracy")
        self.query_one(RichLog).write("training log: g to start; takes come from the Record screen or djtui synth")

    def train_config(self) -> Any:
        """The :class:`TrainConfig` the form describes; :class:`DjtuiError` for a bad value."""
        from djtui.training.finetune import TrainConfig

        def number(widget_id: str, kind: type, name: str) -> Any:
            text = self.query_one(widget_id, Input).value.strip()
            try:
                value = kind(text)
            except ValueError:
                raise DjtuiError(f"{name} must be a number, not {text!r}", f"type a whole number for {name}") from None
            if value <= 0:
                raise DjtuiError(f"{name} must be above zero", f"type a positive {name}")
            return value

        data = Path(self.query_one("#train-data", Input).value.strip()).expanduser()
        if not data.exists():
            raise DjtuiError(f"no takes at {data}", "record some on the Record screen (r) or run `djtui synth`")
        scratch = self.query_one("#train-scratch", Select).value
        return TrainConfig(
            data=data,
            output=Path(self.query_one("#train-output", Input).value.strip()).expanduser(),
            epochs=number("#train-epochs", int, "epochs"),
            batch_size=number("#train-batch", int, "batch size"),
            augment=self.query_one("#train-augment", Checkbox).value,
            base=self.query_one("#train-base", Input).value.strip() or DEFAULT_BASE,
            from_scratch=scratch if isinstance(scratch, str) and scratch else None,
        )

    def action_start_stop(self) -> None:
        app: Any = self.app
        if self.stop_event is not None:
            self.stop_event.set()
            self._state("stopping after this step (the best checkpoint is kept)…")
            return
        try:
            config = self.train_config()
        except DjtuiError as exc:
            app.show_error(exc, title="Train")
            return
        self.losses, self.wers, self.result = [], [], None
        self.query_one("#loss-plot", Sparkline).data = []
        self.query_one("#wer-plot", Sparkline).data = []
        self.query_one("#before-after", DataTable).clear()
        self.stop_event = threading.Event()
        self._state(f"● training → {config.output}   g: stop")
        self.query_one(RichLog).write(f"loading data and model ({config.from_scratch or config.base})…")
        self.run_training(config, self.stop_event)

    @work(thread=True, exclusive=True, group="train")
    def run_training(self, config: Any, stop: threading.Event) -> None:
        app: Any = self.app
        try:
            from djtui.training.finetune import train

            result = train(config, on_event=lambda event: self.post_message(TrainProgress(event)), stop=stop)
        except Exception as exc:  # noqa: BLE001 - shown as a notification
            exc = user_error(exc, "training")
            app.call_from_thread(self._finished, None, exc)
            return
        app.call_from_thread(self._finished, result, None)

    def on_train_progress(self, message: TrainProgress) -> None:
        event = message.event
        log = self.query_one(RichLog)
        if event.total_steps:
            self.query_one(ProgressBar).update(total=event.total_steps, progress=event.step)
        self.query_one("#train-eta", Static).update(
            f"epoch {event.epoch}/{event.epochs} · step {event.step}/{event.total_steps} · {format_eta(event.eta_s)}")
        if event.kind == "step" and event.loss is not None:
            self.losses.append(event.loss)
            self.query_one("#loss-plot", Sparkline).data = list(self.losses)
            self.query_one("#loss-label", Static).update(f"loss {event.loss:.3f}")
        elif event.kind in ("start", "eval") and event.val_wer is not None:
            self.wers.append(event.val_wer)
            self.query_one("#wer-plot", Sparkline).data = list(self.wers)
            self.query_one("#wer-label", Static).update(f"val WER {pct(event.val_wer)}")
            what = "before training" if event.kind == "start" else f"epoch {event.epoch}"
            log.write(f"{what}: WER {pct(event.val_wer)} · CER {pct(event.val_cer)} · commands {pct(event.accuracy)}")
        elif event.kind in ("checkpoint", "stop", "done"):
            log.write(event.message or f"{event.kind} at step {event.step}")

    def _finished(self, result: Any, error: DjtuiError | None) -> None:
        self.stop_event = None
        if error is not None:
            self._state("training failed — g: try again")
            self.app.show_error(error, title="Train")  # type: ignore[attr-defined]
            return
        self.result = result
        table = self.query_one("#before-after", DataTable)
        for name, metrics in (("before", result.before), ("after", result.after)):
            table.add_row(name, pct(metrics.wer), pct(metrics.cer), pct(metrics.accuracy))
        self._state(f"done ({result.stopped}) · best epoch {result.best_epoch} · u: use this model live")
    def action_use_model(self) -> None:
        app: Any = self.app
        if self.result is None:
            app.notify("train a model first (g)", title="Train")
            return

        config = app.config
        new = config.updated({"asr": {"engine": "wav2vec2", "model": str(self.result.output)}})
        applied = app.apply_settings(new, title="Train")
        if applied is None:
            return
        path, restarted = applied
        note = " — live pipeline restarting with it" if restarted else ""
        app.notify(f"live engine: wav2vec2 · {self.result.output}\nsaved to {path}{note}", title="Train")

    def _state(self, text: str) -> None:
        self.query_one("#train-state", Static).update(text)

    @on(Select.Changed, "#train-scratch")
    def _scratch_changed(self, event: Select.Changed) -> None:
        self.query_one("#train-base", Input).disabled = bool(event.value)
