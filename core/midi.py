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
(loopMIDI closed) is reported once and reconnected when it is back.
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
from djtui.core.midi_ports import choose_api, clients_lock, find_port, open_port, port_lister
from djtui.core.records import MidiCommand

if TYPE_CHECKING:
    import mido

    from djtui.core.config import MidiConfig
    from djtui.core.decks import DeckState

log = logging.getLogger(__name__)


class _Link:
    """One open port. An existing (not virtual) port is watched every ``check_s``: when
    it disappears (loopMIDI quit, a device unplugged) that is reported once through
    ``on_status``, and when it is back djtui reconnects and reports that once too."""

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
        self._retired: list[mido.ports.BasePort] = []
        """Ports lost while running, closed only by :meth:`close`."""
        self._port = open_port(self.direction, name, virtual, api, callback)
        self._watch: threading.Thread | None = None
        if not virtual and check_s > 0:
            self._watch = threading.Thread(target=self._watch_port, args=(check_s,), daemon=True,
                                           name=f"djtui midi watch {name}")
            self._watch.start()

    @property
    def connected(self) -> bool:
        return self.problem is None and not self._closing.is_set()

    def _watch_port(self, check_s: float) -> None:
        lister = None
        while not self._closing.wait(check_s):
            try:
                with clients_lock:
                    if lister is None:
                        lister = port_lister(self.direction, self._api, f"{self.name} watch")
                    listed = list(lister.get_ports())
            except Exception:  # noqa: BLE001 - the MIDI system itself went away: keep looking
                lister, listed = None, []
            with self._lock:
                if self._closing.is_set():
                    break
                here = self._port is not None and self._port.name in listed
                if self.problem is None and not here:
                    self._lost()
                elif self.problem is not None and not here:
                    self._reconnect(listed)
        if lister is not None:
            with clients_lock:
                lister.delete()

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

    def close(self) -> None:
        self._closing.set()
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
            if self.problem is not None:
                raise DjtuiError(f"{self.problem}: {command.function} not sent",
                                 "start loopMIDI (or plug the device back in): djtui reconnects by itself")
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
        super().__init__(name, virtual, api, callback=self._receive, on_status=on_status, check_s=check_s)

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
            api: str | None = None, poll_s: float = 0.2) -> Iterator[tuple[float, mido.Message | None]]:
    """``(seconds since start, message)`` for everything arriving on ``port_name`` (an
    existing port), or on a new virtual port ``virtual_name`` when no port is given.

    Yields ``(t, None)`` every ``poll_s`` of silence so a caller can stop or redraw;
    the port is closed when the generator is closed.
    """
    import mido

    arrived: queue.SimpleQueue[tuple[float, list[int]]] = queue.SimpleQueue()
    start = time.monotonic()
    port = MidiIn(port_name or virtual_name, lambda raw: arrived.put((time.monotonic() - start, raw)),
                  virtual=port_name is None, api=api)
    try:
        while True:
            try:
                t, raw = arrived.get(timeout=poll_s)
            except queue.Empty:
                yield time.monotonic() - start, None
                continue
            yield t, mido.Message.from_bytes(raw)
    finally:
        port.close()
