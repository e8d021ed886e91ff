"""The djtui app: seven screens (one mode each, so the live HUD keeps running while you look
elsewhere), app-wide keys for arming and panic, themes, and notifications for every
:class:`DjtuiError` instead of a traceback."""

from __future__ import annotations

import argparse
import re
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.reactive import reactive
from textual.screen import Screen

from djtui.core import paths
from djtui.core.config import Config, load_config, save_config
from djtui.core.errors import DjtuiError
from djtui.core.events import ArmedChanged, Dropped, Error, ReferenceStatus, Status
from djtui.themes import DEFAULT_THEME, THEME_NOTES, VARIABLE_DEFAULTS, load_theme, theme_names
from djtui.tui.context_build import ContextModelBuild, ContextModelReady
from djtui.tui.host import Host
from djtui.tui.keys import ARM_KEY, HELP_KEYS, PANIC_KEYS, SCREENS
from djtui.tui.live_session import LiveSession, PipelineEvent, lost_words
from djtui.tui.palette import DjtuiCommands
from djtui.tui.screens.commands import CommandsScreen
from djtui.tui.screens.help import HelpScreen
from djtui.tui.screens.home import HomeScreen
from djtui.tui.screens.live import LiveScreen
from djtui.tui.screens.record import RecordScreen
from djtui.tui.screens.review import ReviewScreen
from djtui.tui.screens.settings import SettingsScreen
from djtui.tui.screens.train import TrainScreen

HOLD_BUILD_S = 0.25
"""How often the app tells the background build whether the DJ is playing (starting to
listen tells it at once)."""
WIDGET_CSS = [f"widgets/{name}.tcss" for name in (
    "armed_banner", "big_text", "candidate_bars", "deck_state", "echo_meter", "latency_sparkline", "ramp_line",
    "stage_breakdown", "usage_meter", "verdict_line", "vu_meter",
)]

class DjtuiApp(App[int]):
    """``DjtuiApp(config)``; ``host`` supplies devices and the core (tests pass a fixed one)."""

    TITLE = "djtui"
    CSS_PATH = ["app.tcss", *WIDGET_CSS]
    MODES: ClassVar[dict[str, Any]] = {
        "home": HomeScreen, "live": LiveScreen, "record": RecordScreen,
        "train": TrainScreen, "review": ReviewScreen, "commands": CommandsScreen, "settings": SettingsScreen,
    }
    DEFAULT_MODE = "home"
    COMMANDS = {DjtuiCommands}
    # The footer has 80 columns for the showing screen's own keys and these: the screen
    # keys are on Home, in the help screen (?) and in the palette, not in the footer.
    BINDINGS: ClassVar[list[BindingType]] = [
        *(Binding(key, f"switch_mode('{mode}')", mode.capitalize(), show=False, tooltip=why)
          for mode, (key, why) in SCREENS.items()),
        Binding(HELP_KEYS[0], "help", "Keys", tooltip="every key of every screen"),
        Binding(HELP_KEYS[1], "help", "Keys", show=False, tooltip="every key of every screen"),
        Binding(ARM_KEY, "toggle_armed", "Arm", tooltip="arm: commands go to Rekordbox; disarm: nothing is sent"),
        Binding(PANIC_KEYS[0], "panic", "PANIC", tooltip="disarm now and drop anything pending"),
        # Panic must work even while typing in a field.
        Binding(PANIC_KEYS[1], "panic", "PANIC", show=False, priority=True, tooltip="disarm now and drop anything pending"),
        Binding("q", "quit", "Quit", tooltip="stop listening and leave djtui"),
    ]

    armed: reactive[bool] = reactive(False)

    def __init__(
        self,
        config: Config | None = None,
        *,
        host: Host | None = None,
        config_path: Path | None = None,
        theme: str | None = None,
        startup_error: DjtuiError | None = None,
    ) -> None:
        super().__init__()
        self.config = config or Config()
        self.host = host or Host()
        self.config_path = config_path or paths.config_file()
        self.session = LiveSession(self)
        self._reference_told = ""
        """The reference state the DJ was last notified of."""
        self.context_build = ContextModelBuild(self)
        self._startup_error = startup_error
        for name in theme_names():
            self.register_theme(load_theme(name))
        wanted = theme or self.config.ui.theme
        self._theme_problem: str | None = None
        if wanted.endswith(".toml"):  # a theme file of the DJ's own
            try:
                custom = load_theme(wanted)
                self.register_theme(custom)
                wanted = custom.name
            except DjtuiError as exc:
                self._theme_problem = exc.message
        elif wanted not in theme_names():
            self._theme_problem = f"unknown theme {wanted!r}"
        self.theme = DEFAULT_THEME if self._theme_problem else wanted
        self.set_reactive(DjtuiApp.armed, self.config.safety.armed_at_start)

    def get_key_display(self, binding: Binding) -> str:
        """Textual's key names, function keys as printed on the keyboard (F12, not f12)."""
        return re.sub(r"\bf(\d+)\b", r"F\1", super().get_key_display(binding))

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return dict(VARIABLE_DEFAULTS)

    def on_mount(self) -> None:
        if self._startup_error is not None:
            self.show_error(self._startup_error)
        if self._theme_problem:
            self.notify(f"{self._theme_problem}; using {DEFAULT_THEME}",
                        title="Theme", severity="warning")
        self.start_context_model()
        self.set_interval(HOLD_BUILD_S, self.hold_context_model)

    # --- the context model ----------------------------------------------------------------

    def start_context_model(self) -> None:
        """Build the context model in the background when engine auto would use it and
        there is none for the context yet (``[training] context_model = "auto"``): never
        waits, never blocks start-up."""
        asr = self.config.asr
        if not self.host.background_builds or asr.engine != "auto" or asr.model:
            return
        try:
            context = self.host.context(self.config)
        except DjtuiError:
            return  # a broken context is reported where it is used
        if self.config.training.context_model == "off":
            self.context_build.off(context)
            return
        from djtui.core.asr import damaged_context_model

        damaged = damaged_context_model(context)
        if self.context_build.start(context):
            why = f"the context model is damaged ({damaged}): " if damaged else ""
            self.notify(f"{why}building the context model in the background (minutes; paused while you play; "
                        "progress on the Train screen). Until it is ready the bundled model listens.",
                        title="Context model", severity="warning" if damaged else "information", timeout=6)

    @property
    def playing(self) -> bool:
        """The DJ is playing: listening, starting to, or armed."""
        live = self.live_screen()
        return self.session.running or self.armed or bool(live is not None and live.starting)

    def hold_context_model(self) -> None:
        """The background build pauses while the DJ plays and goes on when they stop."""
        self.context_build.hold(self.playing)

    def on_context_model_ready(self, message: ContextModelReady) -> None:
        if message.error is not None:
            self.show_error(message.error, title="Context model")
            return
        when = "when you next start listening" if self.session.running else "from the next time you listen"
        self.notify(f"context model ready: it takes over {when}\n{message.path}", title="Context model", timeout=8)

    # --- errors ---------------------------------------------------------------------------

    def show_error(self, error: DjtuiError, title: str = "djtui") -> None:
        """What went wrong and what to do, as a notification; the app keeps running."""
        message = f"{error.message}\n→ {error.hint}" if error.hint else error.message
        self.notify(message, title=title, severity="error", timeout=10)

    # --- arming ---------------------------------------------------------------------------

    def action_toggle_armed(self) -> None:
        self.set_armed(not self.armed)

    def set_armed(self, armed: bool) -> None:
        try:
            self.session.arm(armed)
        except DjtuiError as exc:
            self.show_error(exc)
            return
        self.armed = armed
        self.notify("ARMED: commands go to Rekordbox" if armed else "disarmed: nothing is sent",
                    severity="warning" if armed else "information", timeout=2)

    def action_panic(self) -> None:
        """Disarm at once and drop pending confirmations, whatever screen is showing."""
        try:
            self.session.panic()
        except DjtuiError as exc:
            self.show_error(exc)
        self.armed = False
        self.notify("PANIC: disarmed, pending commands dropped", severity="error", timeout=3)

    def on_pipeline_event(self, message: PipelineEvent) -> None:
        """Everything the pipeline says goes to the HUD, whichever screen is on top."""
        event = message.event
        match event:
            case ArmedChanged(armed=armed):
                self.armed = armed
            case Status(message=text, hint=hint):
                self.notify(f"{text}\n→ {hint}" if hint else text, title="Live", severity="warning", timeout=6)
            case Error(message=text, hint=hint):
                self.show_error(DjtuiError(text, hint), title="Live")
            case Dropped(message=text, total=total, what=what):
                self.notify(f"{text} ({lost_words(what, total)} lost since listening started)",
                            title="Live", severity="warning", timeout=6)
            case ReferenceStatus(state=state, message=text, hint=hint) if state != "checking":
                # the DJ hears of a reference that stopped working, and of it working (again);
                # not of each re-match after a jump (checking, then cancelling again)
                if state != self._reference_told:
                    self._reference_told = state
                    self.notify(f"{text}\n→ {hint}" if hint else text, title="Reference",
                                severity="information" if state == "cancelling" else "warning", timeout=6)
        live = self.live_screen()
        if live is not None:
            live.handle(event)

    def live_screen(self) -> LiveScreen | None:
        """The Live HUD, if it has been opened (it keeps running in the background)."""
        for stack in self._screen_stacks.values():
            for screen in stack:
                if isinstance(screen, LiveScreen):
                    return screen
        return None

    # --- settings -------------------------------------------------------------------------

    def save_settings(self, config: Config) -> Path:
        """Keep ``config`` for this run and write it to the user's config file."""
        path = save_config(config, self.config_path)
        self.config = config
        return path

    def apply_settings(self, config: Config, title: str) -> tuple[Path, bool] | None:
        """Save ``config`` and restart a running live pipeline on it: ``(path,
        restarted)``. A config that can't be written is a notification under ``title``
        and ``None``."""
        try:
            path = self.save_settings(config)
        except DjtuiError as exc:
            self.show_error(exc, title=title)
            return None
        return path, self.restart_live()

    def restart_live(self) -> bool:
        """Restart a running live pipeline on the microphone with the current config
        (a new engine or model); ``False`` when it was not running."""
        live = self.live_screen()
        if not self.session.running or live is None:
            return False
        self.session.stop()
        live.start_listening()
        return True

    # --- the palette, the keys, the theme ---------------------------------------------------

    def get_system_commands(self, screen: Screen[Any]) -> Any:
        """Every action for the palette (:class:`~djtui.tui.palette.DjtuiCommands`), each
        titled with its key: the showing screen's keys first, then the screens, arming,
        panic, the keys, the themes, and the other screens' keys (found by searching)."""
        key = self.get_key_display
        own = _screen_bindings(type(screen))
        for binding in own:
            yield SystemCommand(f"{binding.description}  [{key(binding)}]", binding.tooltip or binding.description,
                                partial(self.press_on, screen, binding.key))
        for mode, (mode_key, why) in SCREENS.items():
            yield SystemCommand(f"{mode.capitalize()} screen  [{mode_key}]", why, partial(self.switch_mode, mode))
        yield SystemCommand(f"Arm / disarm  [{ARM_KEY}]", "arm: commands go to Rekordbox; disarm: nothing is sent",
                            self.action_toggle_armed)
        yield SystemCommand(f"PANIC  [{PANIC_KEYS[0]}, F12]", "disarm at once and drop anything pending", self.action_panic)
        yield SystemCommand("Keys  [?, F1]", "every key of every screen: help", self.action_help)
        for name in theme_names():
            now = " (in use)" if name == self.theme else ""
            yield SystemCommand(f"Theme: {name}{now}", f"{THEME_NOTES.get(name, name)}; saved to the config file",
                                partial(self.use_theme, name))
        yield SystemCommand("Quit  [q]", "stop listening and leave djtui", self.action_quit)
        for mode, (mode_key, _) in SCREENS.items():
            other = self.MODES[mode]
            if isinstance(screen, other):
                continue
            for binding in _screen_bindings(other):
                yield SystemCommand(f"{mode.capitalize()}: {binding.description}  [{mode_key}, then {key(binding)}]",
                                    f"{binding.tooltip or binding.description} (opens {mode.capitalize()})",
                                    partial(self.run_on, mode, binding.key), discover=False)

    async def run_on(self, mode: str, key: str) -> None:
        """Switch to ``mode``'s screen and do what ``key`` does there (a palette pick)."""
        await self.switch_mode(mode)
        await self.press_on(self.screen, key)

    async def press_on(self, screen: Screen[Any], key: str) -> None:
        """What pressing ``key`` on ``screen`` does: the first of its bindings for the
        key that the screen allows now (Live's p talks, or says why it cannot)."""
        for binding in Binding.make_bindings(vars(type(screen)).get("BINDINGS", [])):
            if binding.key == key and await self.run_action(binding.action, screen):
                return

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def use_theme(self, name: str) -> None:
        """Show ``name`` now and keep it: saved as ``[ui] theme`` in the config file."""
        self.theme = name
        try:
            path = self.save_settings(self.config.updated({"ui": {"theme": name}}, "the theme"))
        except DjtuiError as exc:
            self.show_error(exc, title="Theme not saved")
            return
        self.notify(f"theme {name}: saved to {path}", title="Theme", timeout=3)

    async def action_quit(self) -> None:
        self.session.stop()
        self.context_build.stop()  # within 2 s; what it did is kept for the next start
        self.exit(0)


def _screen_bindings(screen: type[Screen[Any]]) -> list[Binding]:
    """A screen's own actions (not the app's, not leaving a field), each key once (the
    first of its bindings stands for all: :meth:`DjtuiApp.press_on` runs the one allowed)."""
    found = []
    for binding in Binding.make_bindings(vars(screen).get("BINDINGS", [])):
        if binding.description and not binding.action.startswith("app.") and binding.action != "leave_field":
            if all(b.action != binding.action and b.key != binding.key for b in found):
                found.append(binding)
    return found


def run_app(args: argparse.Namespace) -> int:
    """Open the TUI (``djtui`` with no sub-command). ``--theme`` beats the config's theme."""
    theme = getattr(args, "theme", None)
    if theme:
        load_theme(theme)  # an unknown --theme is a clear one-line error before the UI opens
    explicit = Path(args.config) if getattr(args, "config", None) else None
    config_path = explicit or paths.config_file()
    startup_error = None
    try:
        # Only a file named with --config must exist; the user's own may not be written yet.
        config = load_config(explicit)
    except DjtuiError as exc:
        # A broken config file must not keep the DJ out: open with defaults and say why.
        config, startup_error = Config(), exc
    app = DjtuiApp(config, config_path=config_path, theme=theme, startup_error=startup_error)
    try:
        app.run()
    finally:
        app.session.stop()
        app.context_build.stop()
    return app.return_code or 0
