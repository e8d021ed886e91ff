"""Train: fine-tune the speech model on the recorded takes, watch the loss fall and the
held-back takes get understood epoch by epoch against the stock model, then make the new
model the live engine (``u``) without restarting djtui.

The default is Whisper, fine-tuned offline on this machine's CPU in minutes, starting
from the context model when it is built (its progress shows here while it builds in the
background), else from the bundled tiny.en; wav2vec2 (a hub base, or a small model from
scratch) is the route for those with a hub model. Training runs in a worker thread through :func:`djtui.training.finetune.train`;
its events come back as messages, so the UI stays responsive, and ``g`` again stops it
with the best checkpoint kept.
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
from djtui.core.models import DEFAULT_WAV2VEC2
from djtui.training.progress import Calibrating, Checkpointed, Done, Evaluated, Started, Stepped, Stopped, TrainEvent
from djtui.tui.host import user_error
from djtui.tui.screens.base import DjtuiScreen

# Labels and hints fit the Model row at 80 columns; the full hint is the field's tooltip.
MODELS = [("Whisper tiny.en: fine-tune", "whisper"), ("wav2vec2: fine-tune a base", "wav2vec2"),
          ("wav2vec2, scratch: tiny", "tiny"), ("wav2vec2, scratch: small", "small")]
BASE_HINTS = {"whisper": "empty: tiny.en, or a folder", "wav2vec2": "hub id or folder"}
BASE_TOOLTIP = ("Whisper: empty fine-tunes the bundled tiny.en; or give a Whisper folder (a context model). "
                "wav2vec2: a hub id or a folder.")


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return "ETA —"
    minutes, secs = divmod(int(seconds), 60)
    return f"ETA {minutes}:{secs:02d}"


def pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


class TrainProgress(Message):
    """One :data:`djtui.training.progress.TrainEvent`, from the training thread."""

    def __init__(self, event: TrainEvent) -> None:
        super().__init__()
        self.event = event


class TrainScreen(DjtuiScreen):
    TITLE = "train"
    AUTO_FOCUS = ""  # letters switch screens until a field is chosen (tab)
    CSS_PATH = "train.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("g", "start_stop", "Go/Stop", tooltip="start training, or stop it keeping the best checkpoint"),
        Binding("u", "use_model", "Use model", tooltip="make the trained model the live engine, now"),
        Binding("escape", "leave_field", "Leave field", show=False, tooltip="leave the field: letters switch screens again"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.stop_event: threading.Event | None = None
        self.losses: list[float] = []
        self.accuracies: list[float] = []
        self.stock_accuracy: float | None = None
        self.total_steps, self.epochs = 0, 0
        """The run's plan, from its :class:`Started` event."""
        self.result: Any = None

    def body(self) -> ComposeResult:
        app = self.app
        manifest = app.host.recordings_dir() / "manifest.jsonl"
        with Vertical(id="train-settings"):
            with Horizontal(classes="setting"):
                yield Label("Takes")
                yield Input(str(manifest), id="train-data", compact=True)
            with Horizontal(classes="setting"):
                yield Label("Model")
                yield Select(MODELS, value="whisper", allow_blank=False, id="train-model", compact=True)
                yield Input("", placeholder=BASE_HINTS["whisper"], id="train-base", compact=True, tooltip=BASE_TOOLTIP)
            with Horizontal(classes="setting"):
                yield Label("Epochs / batch")
                yield Input("", placeholder="5", id="train-epochs", compact=True)
                yield Input("", placeholder="8", id="train-batch", compact=True)
                yield Checkbox("augment", True, id="train-augment", compact=True)
            with Horizontal(classes="setting"):
                yield Label("Music")
                yield Input("", placeholder="folder of music to mix in (optional)", id="train-music", compact=True)
            with Horizontal(classes="setting"):
                yield Label("Output")
                yield Input(str(paths.models_dir() / "my-voice"), id="train-output", compact=True)
        yield Static("", id="context-model", classes="muted")
        yield Static("g: start training", id="train-state")
        with Horizontal(id="train-progress-row"):
            yield ProgressBar(total=1, show_eta=False, id="train-progress")
            yield Static(format_eta(None), id="train-eta")
        with Horizontal(id="train-plots"):
            with Vertical():
                yield Static("loss", id="loss-label", classes="muted")
                yield Sparkline([], id="loss-plot")
            with Vertical():
                yield Static("commands understood", id="accuracy-label", classes="muted")
                yield Sparkline([], id="accuracy-plot")
        yield DataTable(id="before-after", show_cursor=False)
        yield DataTable(id="held-back", show_cursor=False)
        yield RichLog(id="train-log", max_lines=300, markup=False, wrap=True)

    def on_mount(self) -> None:
        super().on_mount()
        self._show_context_model()
        self.set_interval(1.0, self._show_context_model)
        self._offer_context_model()
        table = self.query_one("#before-after", DataTable)
        table.add_columns("model", "commands", "WER", "CER")
        held_back = self.query_one("#held-back", DataTable)
        held_back.add_columns("your held-back takes", "accepted", "top-1", "misunderstood")
        held_back.display = False  # until a trained model's calibration has judged them
        self.query_one(RichLog).write("training log: g to start; takes come from the Record screen or djtui synth")

    def train_config(self) -> Any:
        """The :class:`TrainConfig` the form describes; :class:`DjtuiError` for a bad value."""
        from djtui.training.finetune import TrainConfig

        def number(widget_id: str, name: str) -> int | None:
            text = self.query_one(widget_id, Input).value.strip()
            if not text:
                return None  # the model's own default
            try:
                value = int(text)
            except ValueError:
                raise DjtuiError(f"{name} must be a number, not {text!r}", f"type a whole number for {name}") from None
            if value <= 0:
                raise DjtuiError(f"{name} must be above zero", f"type a positive {name}")
            return value

        def folder(widget_id: str) -> Path | None:
            text = self.query_one(widget_id, Input).value.strip()
            return Path(text).expanduser() if text else None

        data = folder("#train-data")
        if data is None or not data.exists():
            raise DjtuiError(f"no takes at {data}", "record some on the Record screen (r) or run `djtui synth`")
        model = self.query_one("#train-model", Select).value
        base = self.query_one("#train-base", Input).value.strip() or None
        return TrainConfig(
            data=data, output=folder("#train-output") or paths.models_dir() / "my-voice",
            epochs=number("#train-epochs", "epochs"), batch_size=number("#train-batch", "batch size"),
            augment=self.query_one("#train-augment", Checkbox).value, noise_dir=folder("#train-music"),
            base=DEFAULT_WAV2VEC2 if model == "wav2vec2" and base is None else base,
            from_scratch=model if model in ("tiny", "small") else None,
        )

    def action_start_stop(self) -> None:
        app = self.app
        if self.stop_event is not None:
            self.stop_event.set()
            self._state("stopping after this step (the best checkpoint is kept)…")
            return
        try:
            config = self.train_config()
        except DjtuiError as exc:
            app.show_error(exc, title="Train")
            return
        self.losses, self.accuracies, self.stock_accuracy, self.result = [], [], None, None
        self.query_one("#loss-plot", Sparkline).data = []
        self.query_one("#accuracy-plot", Sparkline).data = []
        self.query_one("#before-after", DataTable).clear()
        self.stop_event = threading.Event()
        self._state(f"● training → {config.output}   g: stop")
        self.query_one(RichLog).write(f"loading the takes and the model ({config.from_scratch or config.base or 'Whisper tiny.en'})…")
        self.run_training(config, self.stop_event)

    @work(thread=True, exclusive=True, group="train")
    def run_training(self, config: Any, stop: threading.Event) -> None:
        app = self.app

        def forward(event: TrainEvent) -> None:
            self.post_message(TrainProgress(event))

        try:
            from djtui.training.finetune import train

            result = train(config, on_event=forward, stop=stop)
        except Exception as exc:  # noqa: BLE001 - shown as a notification
            exc = user_error(exc, "training")
            app.call_from_thread(self._finished, None, exc)
            return
        app.call_from_thread(self._finished, result, None)

    def on_train_progress(self, message: TrainProgress) -> None:
        event = message.event
        log = self.query_one(RichLog)
        match event:
            case Started():
                self.total_steps, self.epochs = event.total_steps, event.epochs
                self._show_position(event.step, 0)
                log.write(event.message)
                self.stock_accuracy = event.stock_accuracy if event.stock_accuracy is not None else event.accuracy
                self._show_scores("before training", event.accuracy, event.wer, event.cer)
            case Stepped():
                self._show_position(event.step, event.epoch, event.eta_s)
                self.losses.append(event.loss)
                self.query_one("#loss-plot", Sparkline).data = list(self.losses)
                self.query_one("#loss-label", Static).update(f"loss {event.loss:.3f}")
            case Evaluated():
                self._show_position(event.step, event.epoch)
                self._show_scores(f"epoch {event.epoch}", event.accuracy, event.wer, event.cer)
            case Checkpointed() | Done():
                self._show_position(event.step, event.epoch)
                log.write(event.message)
            case Calibrating(done=done, total=total):
                self._state(f"● {event.message}")
                if done == total:
                    log.write(event.message)
            case Stopped():
                self._show_position(event.step, event.epoch)
                log.write(event.why)

    def _show_position(self, step: int, epoch: int, eta_s: float | None = None) -> None:
        """Where the run is: the progress bar and the epoch, step and ETA beside it."""
        if self.total_steps:
            self.query_one(ProgressBar).update(total=self.total_steps, progress=step)
        self.query_one("#train-eta", Static).update(
            f"epoch {epoch}/{self.epochs} · step {step}/{self.total_steps} · {format_eta(eta_s)}")

    def _show_scores(self, what: str, accuracy: float | None, wer: float, cer: float) -> None:
        """A validation of the held-back takes: the accuracy plot and a line in the log."""
        if accuracy is not None:
            self.accuracies.append(accuracy)
            self.query_one("#accuracy-plot", Sparkline).data = list(self.accuracies)
            self.query_one("#accuracy-label", Static).update(
                f"commands understood {pct(accuracy)} · stock {pct(self.stock_accuracy)}")
        self.query_one(RichLog).write(f"{what}: commands {pct(accuracy)} (stock model {pct(self.stock_accuracy)}) · "
                                      f"WER {pct(wer)} · CER {pct(cer)}")

    def _finished(self, result: Any, error: DjtuiError | None) -> None:
        self.stop_event = None
        if error is not None:
            self._state("training failed — g: try again")
            self.app.show_error(error, title="Train")
            return
        self.result = result
        table = self.query_one("#before-after", DataTable)
        rows = [("stock", result.stock)] if result.stock is not None else []
        for name, metrics in (*rows, ("before", result.before), ("after", result.after)):
            table.add_row(name, pct(metrics.accuracy), pct(metrics.wer), pct(metrics.cer))
        self._show_held_back(result.calibration)
        self._state(f"done ({result.stopped}) in {result.duration_s / 60:.1f} min · best epoch {result.best_epoch} "
                    "· u: use this model live")

    def _show_held_back(self, calibration: dict[str, Any] | None) -> None:
        """The held-back takes judged before (the base model) and after (the new one,
        with its own calibration): accepted, top-1 and misunderstood per condition."""
        table = self.query_one("#held-back", DataTable)
        table.clear()
        table.display = bool(calibration)
        if not calibration:
            return
        for condition, after in calibration["after"].items():
            if not after.get("n"):
                continue
            before = calibration["before"].get(condition, {})
            name = condition if condition == "clean" else f"music {condition} dB"
            table.add_row(name, f"{pct(before.get('accepted'))} → {pct(after['accepted'])}",
                          f"{pct(before.get('top1'))} → {pct(after['top1'])}",
                          f"{before.get('misunderstood', '—')} → {after['misunderstood']}")
        self.query_one(RichLog).write(f"confidence: {calibration['summary']} (before: {calibration['base']})")

    def action_use_model(self) -> None:
        """Make the trained model the live engine: saved in the config, and a running live
        pipeline restarts on it at once."""
        from djtui.core.asr import is_whisper_folder

        app = self.app
        if self.result is None:
            app.notify("train a model first (g)", title="Train")
            return
        output = self.result.output
        engine = "whisper" if is_whisper_folder(output) else "wav2vec2"
        new = app.config.updated({"asr": {"engine": engine, "model": str(output)}})
        applied = app.apply_settings(new, title="Train")
        if applied is None:
            return
        path, restarted = applied
        note = " — the live pipeline is switching to it" if restarted else ""
        app.notify(f"live engine: {engine} · {output}\nsaved to {path}{note}", title="Train")

    def _show_context_model(self) -> None:
        app = self.app
        line = self.query_one("#context-model", Static)
        line.update(app.context_build.status)
        line.display = bool(app.context_build.status)

    def _offer_context_model(self) -> None:
        """A model of your voice starts from the context model when there is one."""
        from djtui.training import context_model

        app = self.app
        try:
            built = context_model.ready(app.host.context(app.config))
        except DjtuiError:
            return
        if built is not None:
            self.query_one("#train-base", Input).value = str(built)

    def _state(self, text: str) -> None:
        self.query_one("#train-state", Static).update(text)

    @on(Select.Changed, "#train-model")
    def _model_changed(self, event: Select.Changed) -> None:
        base = self.query_one("#train-base", Input)
        base.disabled = event.value in ("tiny", "small")
        base.placeholder = BASE_HINTS.get(str(event.value), "")
        if event.value == "wav2vec2" and not base.value:
            base.value = DEFAULT_WAV2VEC2
        elif event.value == "whisper" and base.value == DEFAULT_WAV2VEC2:
            base.value = ""
        defaults = ("5", "8") if event.value == "whisper" else ("30", "4")
        self.query_one("#train-epochs", Input).placeholder, self.query_one("#train-batch", Input).placeholder = defaults
