"""Home: is everything ready (microphone, reference, engine, MIDI, Rekordbox, context, armed)? And where to go."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from djtui.core.context import Context
from djtui.core.errors import DjtuiError
from djtui.tui.host import asr_summary, user_error
from djtui.tui.keys import SCREENS
from djtui.tui.screens.base import DjtuiScreen
from djtui.tui.widgets.rekordbox_link import RekordboxLink

TRIGGERS = {"always": "always listening (VAD)", "push_to_talk": "push-to-talk (key)",
            "midi_hold": "push-to-talk (MIDI footswitch)"}


class HomeScreen(DjtuiScreen):
    TITLE = "home"
    CSS_PATH = ["home.tcss", "../widgets/rekordbox_link.tcss"]
    LINK_REFRESH_S = 1.0
    """How often the Rekordbox line looks at the live pipeline's feedback."""

    def __init__(self) -> None:
        super().__init__()
        self.devices: list[str] | DjtuiError | None = None
        self.ports: list[str] | DjtuiError | None = None
        self.context_line = "loading…"
        self.context: Context | None = None
        self.build_line = ""
        """The background build's line as the status shows it."""
        self._reference_shown = ""

    def body(self) -> ComposeResult:
        with VerticalScroll(id="home-body"):
            yield Static("Status", classes="section-title")
            yield Static(id="status")
            yield RekordboxLink()
            yield Static("Screens", classes="section-title")
            yield Static(self._shortcuts(), id="shortcuts")

    def on_mount(self) -> None:
        super().on_mount()
        self.watch(self.app, "armed", lambda _: self.refresh_status(), init=False)
        self.watch(self.app, "theme", lambda _: self.refresh_status(), init=False)
        self.refresh_status()
        self.probe()
        self.set_interval(self.LINK_REFRESH_S, self.refresh_link)

    def on_screen_resume(self) -> None:
        self.refresh_status()

    @work(thread=True, exclusive=True, group="probe")
    def probe(self) -> None:
        """Device lists and the context, off the UI thread (PortAudio and YAML take a while)."""
        app = self.app
        try:
            self.devices = app.host.input_devices()
        except Exception as exc:  # noqa: BLE001 - shown as a notification
            exc = user_error(exc, "listing audio inputs")
            self.devices = exc
        if not app.config.midi.virtual:  # djtui's own virtual ports need no look-up
            try:
                self.ports = app.host.midi_output_ports()
            except Exception as exc:  # noqa: BLE001 - shown as a notification
                exc = user_error(exc, "listing MIDI ports")
                self.ports = exc
        try:
            context = app.host.context(app.config)
            self.context = context
            self.context_line = f"{context.name} · {len(context.intents)} commands · {context.size():,} phrasings"
        except Exception as exc:  # noqa: BLE001 - shown as a notification
            exc = user_error(exc, "loading the context")
            self.context_line = f"not loaded: {exc.message}"
        self.app.call_from_thread(self.refresh_status)

    def refresh_status(self) -> None:
        app = self.app
        config = app.config
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        table.add_row("Microphone", Text(self._microphone(config.audio.input_device)))
        self._reference_shown = self._reference()
        table.add_row("Reference", Text(self._reference_shown))
        table.add_row("Trigger", TRIGGERS.get(config.audio.trigger, config.audio.trigger))
        table.add_row("ASR", asr_summary(config, self.context))
        self.build_line = app.context_build.status
        if self.build_line:  # the background build (or, turned off, how to build by hand)
            table.add_row("Context model", Text(self.build_line))
        table.add_row("Context", Text(self.context_line))
        table.add_row("Commands", "ARMED — sent to Rekordbox" if app.armed else "disarmed — nothing is sent")
        table.add_row("Live", "listening" if app.session.running else "stopped (l, then space)")
        config_file = app.config_path if app.config_path.exists() else "defaults (no config file yet)"
        table.add_row("Config", Text(f"{config_file} · theme {app.theme}"))
        self.query_one("#status", Static).update(table)
        self.refresh_link()

    def refresh_link(self) -> None:
        """The Rekordbox line: djtui's port name, and what the live pipeline has heard;
        the status again when the background build moved on or the echo canceller says
        something new about the reference."""
        app = self.app
        if app.context_build.status != self.build_line or self._reference() != self._reference_shown:
            self.refresh_status()
            return
        midi = app.config.midi
        link = self.query_one(RekordboxLink)
        link.port = midi.output_port
        link.virtual = midi.virtual
        link.problem = self._port_problem(midi.output_port, midi.virtual)
        pipeline = app.session.pipeline
        deck_state = getattr(pipeline, "deck_state", None)
        link.listening = pipeline is not None
        link.dry_run = bool(getattr(pipeline, "dry_run", False))
        link.heard = bool(deck_state is not None and deck_state.heard)
        link.reporting = deck_state is not None and any(
            source == "feedback" for _, source in deck_state.snapshot().values())

    def _microphone(self, wanted: str | None) -> str:
        name = wanted or "system default"
        if self.devices is None:
            return f"{name} · checking…"
        if isinstance(self.devices, DjtuiError):
            return f"{name} · NOT AVAILABLE: {self.devices.message}"
        if not self.devices:
            return f"{name} · NO INPUT DEVICE found"
        if wanted and not any(wanted.lower() in d.lower() for d in self.devices):
            return f"{name} · NOT FOUND ({len(self.devices)} other inputs)"
        return f"{name} · ok ({len(self.devices)} inputs)"

    def _reference(self) -> str:
        """Where the echo canceller's reference comes from and, while listening, whether
        it carries the music the microphone hears and its delay."""
        app: Any = self.app
        audio = app.config.audio
        if not audio.has_reference:
            return "none · the microphone as it is ([audio] reference_channel)"
        if audio.reference_device:
            where = f"input {audio.reference_channel or 1} of {audio.reference_device} (another device: two clocks)"
        else:
            where = f"input {audio.reference_channel} of the microphone's interface (one clock)"
        status, echo = app.session.reference, app.session.echo
        if not app.session.running or status is None:
            return f"{where} · not checked yet: listen (Live), or djtui audio doctor"
        if status.cancelling:
            removed = f" · {echo.erle_db:.0f} dB removed" if echo is not None and echo.erle_db is not None else ""
            return f"{where} · carries the music the microphone hears · delay {status.delay_ms:.0f} ms{removed}"
        return f"{where} · {status.state.upper()}: {status.message}"

    def _port_problem(self, port: str, virtual: bool) -> str:
        """Why an existing (loopMIDI) port cannot work; djtui's own virtual ports can."""
        if virtual or self.ports is None:
            return ""
        if isinstance(self.ports, DjtuiError):
            return f"NOT AVAILABLE: {self.ports.message}"
        if not any(port.lower() in p.lower() for p in self.ports):
            return "NOT FOUND: create it in loopMIDI, then restart djtui and Rekordbox"
        return ""

    @staticmethod
    def _shortcuts() -> Table:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        for mode, (key, why) in SCREENS.items():
            table.add_row(Text(f"[{key}] {mode.capitalize()}"), why)
        table.add_row(Text("[a] Arm"), "arm / disarm (F12 or x: PANIC)")
        table.add_row(Text("[?] Keys"), "every key of every screen (F1 too)")
        table.add_row(Text("[ctrl+p]"), "all actions, searchable: type a word (listen, save, theme…)")
        return table
