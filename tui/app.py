"""The djtui app: seven screens (one mode each, so the live HUD keeps running while you look
elsewhere), app-wide keys for arming and panic, themes, and notifications for every
:class:`DjtuiError` instead of a traceback."""

from __future__ import annotations

import argparse
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
from djtui.themes import DEFAULT_THEME, VARIABLE_DEFAULTS, load_theme, theme_names
from djtui.tui.context_build import ContextModelBuild, ContextModelReady
from djtui.tui.host import Host
from djtui.tui.keys import ARM_KEY, FOOTER_LABELS, OFF_FOOTER, PANIC_KEYS, SCREENS
from djtui.tui.live_session import LiveSession, PipelineEvent
from djtui.tui.screens.commands import CommandsScreen
from djtui.tui.screens.home import HomeScreen
from djtui.tui.screens.live import LiveScreen
from djtui.tui.screens.record import RecordScreen
from djtui.tui.screens.review import ReviewScreen
from djtui.tui.screens.settings import SettingsScreen
from djtui.tui.screens.train import TrainScreen

WIDGET_CSS = [f"widgets/{name}.tcss" for name in (
    "armed_banner", "big_text", "candidate_bars", "deck_state", "echo_meter", "latency_sparkline", "stage_breakdown",
    "verdict_line", "vu_meter",
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
    BINDINGS: ClassVar[list[BindingType]] = [
        *(Binding(key, f"switch_mode('{mode}')", FOOTER_LABELS.get(mode, mode.capitalize()), show=mode not in OFF_FOOTER,
                  tooltip=why) for mode, (key, why) in SCREENS.items()),
        Binding(ARM_KEY, "toggle_armed", "Arm", tooltip="arm: commands go to Rekordbox; disarm: nothing is sent"),
        Binding(PANIC_KEYS[0], "panic", "PANIC", tooltip="disarm now and drop anything pending"),
        # Panic must work even while typing in a field.
        Binding(PANIC_KEYS[1], "panic", "Panic", show=False, priority=True),
        Binding("q", "quit", "Quit"),
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

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return dict(VARIABLE_DEFAULTS)

    def on_mount(self) -> None:
        if self._startup_error is not None:
            self.show_error(self._startup_error)
        if self._theme_problem:
            self.notify(f"{self._theme_problem}; using {DEFAULT_THEME}",
                        title="Theme", severity="warning")
        self.start_context_model()

    # --- the context model ----------------------------------------------------------------

    def start_context_model(self) -> None:
        """Build the context model in the background when engine auto would use it and
        there is none for the context yet: never waits, never blocks start-up."""
        asr = self.config.asr
        if not self.host.background_builds or asr.engine != "auto" or asr.model:
            return
        try:
            context = self.host.context(self.config)
        except DjtuiError:
            return  # a broken context is reported where it is used
        if self.context_build.start(context):
            self.notify("building the context model in the background (minutes; progress on the Train screen). "
                        "Until it is ready the bundled model listens.", title="Context model", timeout=6)

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
                self.notify(f"{text} ({total} {what}{'s' if total != 1 else ''} lost since listening started)",
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

    def get_system_commands(self, screen: Screen[Any]) -> Any:
        yield from super().get_system_commands(screen)
        for mode, (key, why) in SCREENS.items():
            yield SystemCommand(f"{mode.capitalize()} screen  [{key}]", why, lambda m=mode: self.switch_mode(m))
        yield SystemCommand("Arm / disarm  [a]", "arm: commands go to Rekordbox; disarm: nothing is sent",
                            self.action_toggle_armed)
        yield SystemCommand("PANIC  [x, F12]", "disarm at once and drop anything pending", self.action_panic)
        # The showing screen's own keys (listen, record, train, save…), so the palette has every action.
        for binding in getattr(screen, "BINDINGS", []):
            if isinstance(binding, Binding) and binding.show and not binding.action.startswith("app."):
                yield SystemCommand(f"{binding.description}  [{binding.key}]", binding.tooltip or binding.description,
                                    partial(screen.run_action, binding.action))

    async def action_quit(self) -> None:
        self.session.stop()
        self.context_build.stop()
        self.exit(0)


def run_app(args: argparse.Namespace) -> int:
    """Open the TUI (``djtui`` with no sub-command). ``--theme`` beats the config's theme."""
    theme = getattr(args, "theme", None)
    if theme:
        load_theme(theme)  # an unknown --theme is a clear one-line error before the UI opens
    config_path = Path(args.config) if getattr(args, "config", None) else paths.config_file()
    startup_error = None
    try:
        config = load_config(config_path)
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
