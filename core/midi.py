"""djtui's MIDI ports to Rekordbox: commands out, deck state back in, on one port name.

Rekordbox maps a device by name and sends its feedback (the mapping file's output codes)
to the output port of that same name. So djtui offers both directions under one name,
``[midi] output_port`` (default ``djtui``): a virtual output Rekordbox reads commands
from (:class:`MidiOut`) and a virtual input it reports deck state to
(:func:`open_feedback`). On Windows, where programs cannot create ports, both are one
existing loopMIDI port opened by name (``virtual = false``).

Ports that loop back (a loopMIDI port, the macOS IAC bus) return every message to every
reader, so two rules keep a press and a report apart: Rekordbox reports state
:data:`~djtui.core.decks.FEEDBACK_OFFSET` (8) MIDI channels above the channel that
presses the function, and what djtui sent and reads back is dropped as its own echo
(:mod:`djtui.core.echo`).

Opening a port is :mod:`djtui.core.midi_ports`' job. An existing port that disappears
(loopMIDI closed) is reported once and reconnected when it is back. On JACK, a server
that stops takes every port with it: that is reported once ("MIDI lost"), nothing is
claimed sent meanwhile, and the ports are opened again when the server is back
(:mod:`djtui.core.jack_watch`).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from djtui.core.echo import EchoFilter, echo_filter
from djtui.core.errors import DjtuiError
from djtui.core.midi_ports import choose_api, clients_lock, find_port, is_jack, jack_watch, open_port, port_lister
from djtui.core.records import MidiCommand

if TYPE_CHECKING:
    import mido

    from djtui.core.config import MidiConfig
    from djtui.core.decks import DeckState

log = logging.getLogger(__name__)


class _Link:
    """One open port. An existing (not virtual) port is watched every ``check_s``: when
    it disappears (loopMIDI quit, a device unplugged) that is reported once through
    ``on_status``, and when it is back djtui reconnects and reports that once too. Any
    port on JACK is also in the process's :func:`~djtui.core.midi_ports.jack_watch`,
    which closes it when the server stops and opens it again when it is back."""

    direction = "output"

    def __init__(self, name: str, virtual: bool, api: str | None, *, callback: Callable[..., None] | None = None,
                 on_status: Callable[[str], None] | None = None, check_s: float = 1.0) -> None:
        self.name = name
        self.virtual = virtual
        self.problem: str | None = None
        """Why the port cannot be used right now (it disappeared); ``None`` when it can."""
        self._api = api
        self._callback = callback
        self._on_status = on_status or log.warning
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._lister: object | None = None
        self._retired: list[mido.ports.BasePort] = []
        """Ports lost while running, closed only by :meth:`close`."""
        self._port = open_port(self.direction, name, virtual, api, callback)
        self._jack = jack_watch() if is_jack(api) else None
        if self._jack is not None:
            self._jack.watch(self)
        self._watch: threading.Thread | None = None
        if not virtual and check_s > 0:
            self._watch = threading.Thread(target=self._watch_port, args=(check_s,), daemon=True,
                                           name=f"djtui midi watch {name}")
            self._watch.start()

    @property
    def connected(self) -> bool:
        return self.problem is None and not self._closing.is_set() and not self._server_gone()

    @property
    def status(self) -> Callable[[str], None]:
        """Where news of this port goes (``on_status``)."""
        return self._on_status

    def _server_gone(self) -> bool:
        return self._jack is not None and self._jack.gone

    def _watch_port(self, check_s: float) -> None:
        while not self._closing.wait(check_s):
            if self._server_gone():
                continue  # the JACK watch has closed this port and opens it again
            with self._lock:
                if self._closing.is_set():
                    break
                try:
                    with clients_lock:
                        if self._lister is None:
                            self._lister = port_lister(self.direction, self._api, f"{self.name} watch")
                        listed = list(self._lister.get_ports())  # type: ignore[attr-defined]
                except Exception:  # noqa: BLE001 - the MIDI system itself went away: keep looking
                    self._drop_lister()
                    listed = []
                here = self._port is not None and self._port.name in listed
                if self.problem is None and not here:
                    self._lost()
                elif self.problem is not None and not here:
                    self._reconnect(listed)
        with self._lock:
            self._drop_lister()

    def _drop_lister(self) -> None:
        with clients_lock:
            lister, self._lister = self._lister, None
            if lister is not None:
                lister.delete()  # type: ignore[attr-defined]

    def server_gone(self) -> None:
        """The JACK server stopped: close this port and its lister (zombies both) now,
        before anyone opens a new client; the watch reports it."""
        with self._lock:
            self._close_port()
            with clients_lock:
                for port in self._retired:
                    if not port.closed:
                        port.close()
            self._retired.clear()
            self._drop_lister()
            self.problem = f"MIDI lost: the JACK server stopped, so '{self.name}' is gone"

    def server_back(self) -> str | None:
        """The JACK server is back: open the port again (``None``), or say why not."""
        with self._lock:
            if self._closing.is_set():
                return None
            try:
                self._port = open_port(self.direction, self.name, self.virtual, self._api, self._callback)
            except DjtuiError as exc:
                # an existing port that is not back yet: its own watch reconnects later
                self.problem = f"MIDI {self.direction} port '{self.name}' is not back ({exc.message})"
                return self.problem
            self.problem = None
            return None

    def _lost(self) -> None:
        self.problem = (f"MIDI {self.direction} port '{self.name}' is gone "
                        f"(its program quit or the device was unplugged)")
        # Not closed here: tearing down a JACK client the moment its peer vanished races
        # libjack's own clean-up of that peer and has crashed the process (a segfault in
        # rtmidi's close). A dead port costs nothing; it is closed with the link.
        if self._port is not None:
            self._retired.append(self._port)
        self._port = None
        self._on_status(f"{self.problem}; djtui reconnects when it is back")

    def _reconnect(self, listed: list[str]) -> None:
        try:
            find_port(self.name, listed, self.direction)
            self._port = open_port(self.direction, self.name, False, self._api, self._callback)
        except DjtuiError:
            return  # not back yet (or back twice, ambiguous): try again next time
        self.problem = None
        self._on_status(f"MIDI {self.direction} port '{self.name}' is back: reconnected")

    def _close_port(self) -> None:
        with clients_lock:
            if self._port is not None and not self._port.closed:
                self._port.close()
        self._port = None

    def close(self) -> None:
        self._closing.set()
        if self._jack is not None:
            self._jack.forget(self)
        if self._watch is not None and self._watch is not threading.current_thread():
            self._watch.join(timeout=5)
        with self._lock:
            with clients_lock:
                for port in [*self._retired, self._port]:
                    if port is not None and not port.closed:
                        port.close()
            self._retired.clear()


class MidiOut(_Link):
    """djtui's output to Rekordbox: ``MidiOut(config.midi).send(command)``.

    Opens the port at once (virtual ``config.output_port``, or the existing port of that
    name when ``config.virtual`` is off), so a missing backend or a busy port fails at
    start, not mid-set. ``port``/``virtual``/``api`` override the config. What it sends
    is recorded in :func:`echo_filter` of its name.
    """

    direction = "output"

    def __init__(self, config: MidiConfig | None = None, *, port: str | None = None,
                 virtual: bool | None = None, api: str | None = None,
                 on_status: Callable[[str], None] | None = None, check_s: float = 1.0) -> None:
        name = port or (config.output_port if config else "djtui")
        super().__init__(name, virtual if virtual is not None else (config.virtual if config else True),
                         choose_api(api, config), on_status=on_status, check_s=check_s)
        self.echoes = echo_filter(name)

    def send(self, command: MidiCommand) -> None:
        """Send the command's messages back to back (a button press and its release).

        Every message is built and range-checked before the first is sent, so a bad
        command sends nothing; a port that died or is gone raises :class:`DjtuiError`.
        """
        import mido

        try:
            messages = [mido.Message.from_bytes(raw) for raw in command.messages()]
        except (ValueError, TypeError) as exc:
            raise DjtuiError(f"not a valid MIDI command: {command.label()} ({exc})",
                             "note/CC numbers and values are 0-127, channels 0-15") from None
        with self._lock:
            if self._server_gone():  # the watch may not have closed the port yet: it is a zombie
                raise DjtuiError(f"MIDI lost: the JACK server stopped: {command.function} not sent",
                                 "start the JACK server again: djtui opens its ports by itself")
            if self.problem is not None:
                raise DjtuiError(f"{self.problem}: {command.function} not sent",
                                 "start loopMIDI (or plug the device back in): djtui reconnects by itself"
                                 if not self.problem.startswith("MIDI lost") else
                                 "start the JACK server again: djtui opens its ports by itself")
            if self._port is None or self._port.closed:
                raise DjtuiError(f"MIDI port '{self.name}' is closed", "restart djtui")
            try:
                for message in messages:
                    self.echoes.sent(message.bytes())
                    self._port.send(message)
            except (OSError, RuntimeError) as exc:  # rtmidi's errors are one or the other
                raise DjtuiError(f"MIDI port '{self.name}' failed while sending: {exc}",
                                 "check the MIDI system; Rekordbox may need the port re-enabled") from None

    def __enter__(self) -> MidiOut:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class MidiIn(_Link):
    """An input port whose messages go to ``callback(raw_bytes)`` on rtmidi's thread.

    The callback must return quickly (set state, put on a queue); it is never given a
    blocking job by djtui. Virtual port ``name`` by default; ``virtual=False`` opens the
    existing port of that name (a footswitch, a loopMIDI port). With ``echoes`` (the
    :func:`echo_filter` of djtui's output), what djtui sent is dropped before the callback.
    """

    direction = "input"

    def __init__(self, name: str, callback: Callable[[list[int]], None], *, virtual: bool = True,
                 api: str | None = None, echoes: EchoFilter | None = None,
                 on_status: Callable[[str], None] | None = None, check_s: float = 1.0) -> None:
        self.echoes = echoes
        self._deliver = callback
        super().__init__(name, virtual, choose_api(api, None), callback=self._receive, on_status=on_status,
                         check_s=check_s)

    def _receive(self, message: mido.Message) -> None:
        raw = message.bytes()
        if self.echoes is not None and self.echoes.is_echo(raw):
            return
        self._deliver(raw)

    def __enter__(self) -> MidiIn:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def feedback_port(config: MidiConfig) -> str:
    """The name Rekordbox's reports arrive on: ``input_port``, else the output's name."""
    return config.input_port or config.output_port


def open_feedback(config: MidiConfig, deck_state: DeckState, *, api: str | None = None,
                  on_status: Callable[[str], None] | None = None) -> MidiIn:
    """The port on which Rekordbox's feedback (the CSV's output codes) updates
    ``deck_state``: virtual :func:`feedback_port`, or that existing port. What djtui's
    output (``config.output_port``) sent and reads back here is dropped, not feedback."""
    return MidiIn(feedback_port(config), deck_state.apply_feedback, virtual=config.virtual,
                  api=choose_api(api, config), echoes=echo_filter(config.output_port), on_status=on_status)


def monitor(port_name: str | None = None, *, virtual_name: str = "djtui monitor",
            api: str | None = None, poll_s: float = 0.2) -> Monitor:
    """``(seconds since start, message)`` for everything arriving on ``port_name`` (an
    existing port), or on a new virtual port ``virtual_name`` when no port is given.

    The port opens here, so a busy or missing one fails before anything is said about
    listening. Iterating yields ``(t, None)`` every ``poll_s`` of silence so a caller can
    stop or redraw; :meth:`Monitor.close` closes the port.
    """
    return Monitor(port_name, virtual_name, api, poll_s)


class Monitor:
    """An open port and what arrives on it (see :func:`monitor`)."""

    def __init__(self, port_name: str | None, virtual_name: str, api: str | None, poll_s: float) -> None:
        self._arrived: queue.SimpleQueue[tuple[float, list[int]]] = queue.SimpleQueue()
        self._start = time.monotonic()
        self._poll_s = poll_s
        self._port = MidiIn(port_name or virtual_name,
                            lambda raw: self._arrived.put((time.monotonic() - self._start, raw)),
                            virtual=port_name is None, api=api)

    def __iter__(self) -> Iterator[tuple[float, mido.Message | None]]:
        return self

    def __next__(self) -> tuple[float, mido.Message | None]:
        import mido

        try:
            t, raw = self._arrived.get(timeout=self._poll_s)
        except queue.Empty:
            return time.monotonic() - self._start, None
        return t, mido.Message.from_bytes(raw)

    def close(self) -> None:
        self._port.close()
