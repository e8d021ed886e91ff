"""Settings: grouped as a DJ meets them (audio, listening, ASR, MIDI, safety, UI).

Every typed value is checked as it is typed, by the config's own rules
(:mod:`djtui.core.config`: its types, ranges and closed choices): a refused value is
marked and named with what the setting takes, and nothing is saved until it is fixed,
so a half-typed "0." can never become ``min_margin = 0.0``. Saved (ctrl+s) to the user's
config file with :func:`djtui.core.config.save_config`; the notification lists what
changed.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Checkbox, Input, Label, Select, Static

from djtui.core.config import Config
from djtui.core.errors import DjtuiError
from djtui.themes import theme_names
from djtui.tui.host import user_error
from djtui.tui.screens.base import DjtuiScreen

DEFAULT_DEVICE = "(system default)"
TRIGGERS = [("always listening (VAD)", "always"), ("push-to-talk key (p)", "push_to_talk"),
            ("MIDI footswitch held", "midi_hold")]
ENGINES = [("auto (fine-tuned, else Whisper)", "auto"), ("whisper", "whisper"), ("wav2vec2", "wav2vec2")]


@dataclass(frozen=True)
class TextSetting:
    """A typed-in setting: ``[section] key``, its label, and what leaving it empty means
    (``None``: the default, said with the range the config allows)."""

    section: str
    key: str
    label: str
    empty: str | None = None

    @property
    def id(self) -> str:
        return f"{self.section}-{self.key}".replace("_", "-")


GROUPS: list[tuple[str, list[str | TextSetting]]] = [
    # Strings are the choice widgets composed by name; the rest are typed in.
    ("Audio", ["input_device"]),
    ("Listening", ["trigger", TextSetting("vad", "hangover_ms", "Hang-over (ms)"),
                   TextSetting("resolver", "context", "Context file", "the bundled DJ context")]),
    ("ASR", ["engine", TextSetting("asr", "model", "Model", "the context model once built, else tiny.en")]),
    ("MIDI", ["virtual", TextSetting("midi", "output_port", "Port name"),
              TextSetting("midi", "input_port", "Feedback port", "the port name above (what Rekordbox needs)")]),
    ("Safety", [TextSetting("safety", "min_confidence", "Min confidence"),
                TextSetting("safety", "min_margin", "Min margin (1st-2nd)"),
                TextSetting("safety", "cooldown_ms", "Cooldown (ms)")]),
    ("UI", ["theme"]),
]
TEXT_SETTINGS = [s for _, items in GROUPS for s in items if isinstance(s, TextSetting)]


def allowed(section: str, key: str) -> str:
    """What ``[section] key`` takes, from the config's own field: "0 to 1", "32 to 3000"."""
    field = Config.model_fields[section].annotation.model_fields[key]  # type: ignore[union-attr]
    bounds = {name: getattr(m, name) for m in field.metadata for name in ("ge", "gt", "le", "lt") if hasattr(m, name)}
    low, high = bounds.get("ge", bounds.get("gt")), bounds.get("le", bounds.get("lt"))
    if low is None or high is None:
        return "text" if field.annotation in (str, str | None) else ""
    return f"{low:g} to {high:g}"


def default_of(section: str, key: str) -> Any:
    return getattr(getattr(Config(), section), key)


def read_value(setting: TextSetting, text: str) -> Any:
    """The typed value of a field, read as TOML reads it (as ``--set`` does): ``0.5`` a
    number, ``0.`` not yet one. Empty: ``None`` (unset) for an optional setting, else
    its default. Raises :class:`DjtuiError` naming the field, the text and what it takes."""
    text = text.strip()
    default = default_of(setting.section, setting.key)
    if not text:
        return None if setting.empty is not None else default
    if not isinstance(default, (int, float)) or isinstance(default, bool):
        return text
    try:
        value = tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        value = None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        kind = "a whole number" if isinstance(default, int) else "a number such as 0.5"
        raise DjtuiError(f"{setting.label}: {text!r} is not {kind} ({allowed(setting.section, setting.key)})",
                         "finish typing it, or empty the field for the default")
    return value


def checked(config: Config, setting: TextSetting, text: str) -> Config:
    """``config`` with this field's value, checked by the config's own rules (type and
    range); :class:`DjtuiError` saying which value is refused and what is allowed."""
    value = read_value(setting, text)
    try:
        return config.updated({setting.section: {setting.key: value}}, "Settings")
    except DjtuiError as exc:
        why = exc.message.split(": ")[-1]
        range_ = allowed(setting.section, setting.key)
        raise DjtuiError(f"{setting.label}: {text.strip()!r} refused: {why}" + (f" ({range_})" if range_ else ""),
                         "correct it, or empty the field for the default") from None


def changes(old: Config, new: Config) -> list[str]:
    """``[section] key old → new`` for every setting that differs."""
    before, after = old.model_dump(mode="json"), new.model_dump(mode="json")
    return [f"[{section}] {key} {before[section][key]} → {value}"
            for section, values in after.items() for key, value in values.items() if before[section][key] != value]


class SettingsScreen(DjtuiScreen):
    TITLE = "settings"
    AUTO_FOCUS = ""  # letters switch screens until a field is chosen (tab)
    CSS_PATH = "settings.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save", priority=True, tooltip="save to the config file"),
        Binding("escape", "leave_field", "Leave field", show=False, tooltip="leave the field: letters switch screens again"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.problems: dict[str, str] = {}
        """Refused values by field id: what the DJ must fix before saving."""

    def body(self) -> ComposeResult:
        form = VerticalScroll(id="settings-form")
        form.can_focus = False  # a tab stop that shows nothing is a lost DJ
        with form:
            for title, items in GROUPS:
                yield Static(title, classes="section-title")
                for item in items:
                    yield from self._text_row(item) if isinstance(item, TextSetting) else getattr(self, f"_{item}_row")()
        yield Static("", id="settings-problem")
        yield Static("", id="settings-where", classes="muted")

    def _row(self, label: str, *controls: Any) -> Horizontal:
        return Horizontal(Label(label), *controls, classes="setting")

    def _input_device_row(self) -> ComposeResult:
        yield self._row("Input device", Select([(DEFAULT_DEVICE, "")], value="", allow_blank=False,
                                               id="audio-input-device", compact=True))

    def _trigger_row(self) -> ComposeResult:
        yield self._row("Trigger", Select(TRIGGERS, value=self.app.config.audio.trigger, allow_blank=False,
                                          id="audio-trigger", compact=True))

    def _engine_row(self) -> ComposeResult:
        yield self._row("Engine", Select(ENGINES, value=self.app.config.asr.engine, allow_blank=False, id="asr-engine",
                                         compact=True))

    def _virtual_row(self) -> ComposeResult:
        yield self._row("Ports", Checkbox("djtui opens them (off: existing, e.g. loopMIDI)",
                                          self.app.config.midi.virtual, id="midi-virtual", compact=True))

    def _theme_row(self) -> ComposeResult:
        names = theme_names()
        current = self.app.theme if self.app.theme in names else names[0]
        yield self._row("Theme", Select([(n, n) for n in names], value=current, allow_blank=False, id="ui-theme",
                                        compact=True))

    def _text_row(self, setting: TextSetting) -> ComposeResult:
        value = getattr(getattr(self.app.config, setting.section), setting.key)
        if setting.empty is not None:
            placeholder = f"empty: {setting.empty}"
        else:
            range_ = allowed(setting.section, setting.key)
            placeholder = f"{default_of(setting.section, setting.key)} (default)" + (f" · {range_}" if range_ != "text" else "")
        yield self._row(setting.label, Input("" if value is None else str(value), placeholder=placeholder,
                                             id=setting.id, compact=True))

    def on_mount(self) -> None:
        super().on_mount()
        self.watch(self.app, "theme", self._theme_shown, init=False)
        self._show_where()
        self.load_devices()

    def on_screen_resume(self) -> None:
        self._show_where()

    def _show_where(self) -> None:
        path = self.app.config_path
        state = "" if path.exists() else " (not written yet: the defaults are in use)"
        self.query_one("#settings-where", Static).update(f"ctrl+s saves to {path}{state}")

    def _theme_shown(self, theme: str) -> None:
        """The theme picked elsewhere (the palette) shows here too."""
        select = self.query_one("#ui-theme", Select)
        if theme in theme_names() and select.value != theme:
            select.value = theme

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

    @on(Input.Changed)
    def _check_as_typed(self, event: Input.Changed) -> None:
        setting = next((s for s in TEXT_SETTINGS if s.id == event.input.id), None)
        if setting is None:
            return
        try:
            checked(self.app.config, setting, event.value)
        except DjtuiError as exc:
            self.problems[setting.id] = exc.message
        else:
            self.problems.pop(setting.id, None)
        event.input.set_class(setting.id in self.problems, "-refused")
        self._show_problems()

    def _show_problems(self) -> None:
        line = self.query_one("#settings-problem", Static)
        line.update("\n".join(f"✘ {p} — not saved until fixed" for p in self.problems.values()))
        line.set_class(bool(self.problems), "-shown")

    def form_config(self) -> Config:
        """The config the form describes; raises :class:`DjtuiError` naming every
        refused value."""
        config = self.app.config
        device = self.query_one("#audio-input-device", Select).value
        config = config.updated({
            "audio": {"input_device": device if isinstance(device, str) and device else None,
                      "trigger": self.query_one("#audio-trigger", Select).value},
            "midi": {"virtual": self.query_one("#midi-virtual", Checkbox).value},
            "asr": {"engine": self.query_one("#asr-engine", Select).value},
            "ui": {"theme": self.query_one("#ui-theme", Select).value},
        }, "Settings")
        refused = []
        for setting in TEXT_SETTINGS:
            try:
                config = checked(config, setting, self.query_one(f"#{setting.id}", Input).value)
            except DjtuiError as exc:
                refused.append(exc.message)
        if refused:
            raise DjtuiError("\n".join(refused), "correct the marked fields, or empty them for the defaults")
        return config

    def action_save(self) -> None:
        app = self.app
        old = app.config
        try:
            config = self.form_config()
        except DjtuiError as exc:
            app.show_error(exc, title="Settings not saved")
            return
        applied = app.apply_settings(config, title="Settings not saved")
        if applied is None:
            return
        path, restarted = applied
        changed = "\n".join(changes(old, config)) or "nothing changed"
        note = "\nthe live pipeline is restarting with them" if restarted else ""
        app.notify(f"saved to {path}\n{changed}{note}", title="Settings")
        self._show_where()
