"""Settings: input device, trigger, MIDI ports, ASR engine and model, thresholds, theme.

Saved (ctrl+s) to the user's config file with :func:`djtui.core.config.save_config` and
read at the next start. Values are checked by the config's own loader, so a typo is one
clear message and nothing is written.
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Checkbox, Input, Label, Select, Static

from djtui.core.config import Config, config_from_dict
from djtui.core.errors import DjtuiError
from djtui.tui.host import user_error
from djtui.themes import theme_names
from djtui.tui.screens.base import DjtuiScreen

DEFAULT_DEVICE = "(system default)"
TRIGGERS = [("always listening (VAD)", "always"), ("push-to-talk key", "push_to_talk"),
            ("MIDI footswitch held", "midi_hold")]
ENGINES = [("auto (fine-tuned, else Whisper)", "auto"), ("whisper", "whisper"), ("wav2vec2", "wav2vec2")]

# (section, key, label) of the free-text fields; their type comes from the config dataclass.
TEXT_FIELDS = [
    ("midi", "output_port", "MIDI out port"),
    ("midi", "input_port", "MIDI feedback port"),
    ("asr", "model", "ASR model"),
    ("safety", "min_confidence", "Min confidence"),
    ("safety", "min_margin", "Min margin top1-top2"),
    ("safety", "cooldown_ms", "Cooldown (ms)"),
    ("vad", "hangover_ms", "VAD hang-over (ms)"),
    ("resolver", "context", "Context file"),
]


def _field_id(section: str, key: str) -> str:
    return f"{section}-{key}".replace("_", "-")


def _parse(text: str, current: Any) -> Any:
    """The typed value of a text field, judged by the type of the setting it replaces."""
    text = text.strip()
    if isinstance(current, bool):
        return text.lower() in ("1", "true", "yes", "on")
    if isinstance(current, int):
        try:
            return int(text)
        except ValueError:
            return text  # the config loader names the field and the expected type
    if isinstance(current, float):
        try:
            return float(text)
        except ValueError:
            return text
    return text or None


class SettingsScreen(DjtuiScreen):
    TITLE = "settings"
    AUTO_FOCUS = ""  # letters switch screens until a field is chosen (tab)
    CSS_PATH = "settings.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save", priority=True, tooltip="save to the config file"),
        Binding("escape", "leave_field", "Leave field", show=False),
    ]

    def body(self) -> ComposeResult:
        config = self.app.config
        with VerticalScroll(id="settings-form"):
            with Horizontal(classes="setting"):
                yield Label("Input device")
                yield Select([(DEFAULT_DEVICE, "")], value="", allow_blank=False, id="audio-input-device", compact=True)
            with Horizontal(classes="setting"):
                yield Label("Trigger")
                yield Select(TRIGGERS, value=config.audio.trigger, allow_blank=False, id="audio-trigger", compact=True)
            with Horizontal(classes="setting"):
                yield Label("MIDI ports")
                yield Checkbox("djtui opens virtual ports (off: use existing ones)", config.midi.virtual,
                               id="midi-virtual", compact=True)
            with Horizontal(classes="setting"):
                yield Label("ASR engine")
                yield Select(ENGINES, value=config.asr.engine, allow_blank=False, id="asr-engine", compact=True)
            for section, key, label in TEXT_FIELDS:
                value = getattr(getattr(config, section), key)
                with Horizontal(classes="setting"):
                    yield Label(label)
                    yield Input("" if value is None else str(value), id=_field_id(section, key), compact=True)
            with Horizontal(classes="setting"):
                yield Label("Theme")
                yield Select([(n, n) for n in theme_names()], value=self.app.theme if self.app.theme in theme_names()
                             else theme_names()[0], allow_blank=False, id="ui-theme", compact=True)
            yield Static("ctrl+s saves to the config file · esc leaves a field · tab moves", classes="muted")

    def on_mount(self) -> None:
        super().on_mount()
        self.load_devices()

    @work(thread=True, exclusive=True, group="devices")
    def load_devices(self) -> None:
        app = self.app
        try:
            devices = app.host.input_devices()
        except Exception as exc:  # noqa: BLE001 - shown as a notification
            exc = user_error(exc, "listing audio inputs")
            app.call_from_thread(app.show_error, exc, "Settings")
            return
        app.call_from_thread(self._set_devices, devices)

    def _set_devices(self, devices: list[str]) -> None:
        wanted = self.app.config.audio.input_device or ""
        options = [(DEFAULT_DEVICE, ""), *((d, d) for d in devices)]
        if wanted and wanted not in devices:
            options.append((f"{wanted} (not found)", wanted))
        select = self.query_one("#audio-input-device", Select)
        select.set_options(options)
        select.value = wanted

    @on(Select.Changed, "#ui-theme")
    def _preview_theme(self, event: Select.Changed) -> None:
        if isinstance(event.value, str):
            self.app.theme = event.value

    def form_config(self) -> Config:
        """The config the form describes; raises :class:`DjtuiError` for a bad value."""
        current = self.app.config
        data = current.to_dict()
        device = self.query_one("#audio-input-device", Select).value
        data["audio"]["input_device"] = device if isinstance(device, str) and device else None
        data["audio"]["trigger"] = self.query_one("#audio-trigger", Select).value
        data["midi"]["virtual"] = self.query_one("#midi-virtual", Checkbox).value
        data["asr"]["engine"] = self.query_one("#asr-engine", Select).value
        for section, key, _ in TEXT_FIELDS:
            text = self.query_one(f"#{_field_id(section, key)}", Input).value
            data[section][key] = _parse(text, getattr(getattr(current, section), key))
        data["ui"]["theme"] = self.query_one("#ui-theme", Select).value
        data = {s: {k: v for k, v in values.items() if v is not None} for s, values in data.items()}
        return config_from_dict(data, "Settings")

    def action_save(self) -> None:
        app = self.app
        try:
            config = self.form_config()
        except DjtuiError as exc:
            app.show_error(exc, title="Settings not saved")
            return
        applied = app.apply_settings(config, title="Settings not saved")
        if applied is None:
            return
        path, restarted = applied
        note = "\nthe live pipeline is restarting with them" if restarted else ""
        app.notify(f"saved to {path}{note}", title="Settings")
