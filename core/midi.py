"""The MIDI bridge to Rekordbox: commands out, deck state back in, on one port name.

Rekordbox maps a device by name and sends its feedback (the mapping file's output codes)
to the output port of that same name. So djtui offers both directions under one name,
``[midi] output_port`` (default ``djtui``): a virtual output Rekordbox reads commands
from and a virtual input it reports deck state to. On Windows, where programs cannot
create ports, both are one existing loopMIDI port opened by name (``virtual = false``).

Ports that loop back (a loopMIDI port, the macOS IAC bus) return every message to every
reader, so two rules keep a press and a report apart:

- Rekordbox reports state ``FEEDBACK_OFFSET`` (8) MIDI channels above the channel that
  presses the function: a report coming back round the loop is no press for Rekordbox,
  and djtui's own press is no report for djtui.
- :class:`EchoFilter`: what djtui sent and then reads back on its feedback port is
  dropped, so it never counts as feedback (nor as "Rekordbox is talking to us").

Transport is mido with python-rtmidi. The MIDI system (``alsa``, ``jack``, ``coremidi``,
``winmm``) is rtmidi's default unless ``[midi] api`` or ``DJTUI_MIDI_API`` names one.
Everything that can go wrong while opening a port (no backend, port busy, port not
found) is a :class:`DjtuiError` with a hint, raised before anything is sent. An existing
port that disappears (loopMIDI closed) is reported once and reconnected when it is back.
"""

from __future__ import annotations

import logging
import os
import queue
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from djtui.core.errors import DjtuiError

if TYPE_CHECKING:
    import mido

    from djtui.core.config import MidiConfig
    from djtui.core.context import Action, Context, Intent

log = logging.getLogger(__name__)

DECKS = 4
"""Deck n sends on MIDI channel n-1 (the context's ``channel: deck``)."""

FEEDBACK_OFFSET = 8
"""Rekordbox reports a function's state this many channels above the channel that
presses it (deck 1 presses on channel 1 and is reported on channel 9), so presses live
on channels 1-8 and reports on 9-16."""

REPORTED_STATES = {
    "PlayPause": "playing",
    "Cue": "cue",
    "Sync": "sync",
    "Master": "master",
    "ReloopExit": "loop",
    "Slip": "slip",
    "MasterTempo": "master_tempo",
    "KeySync": "key_sync",
    "HeadphoneCue": "headphone_cue",
    "FX1-1On": "fx",
    "CFXOn": "cfx",
}
"""Rekordbox functions whose state Rekordbox reports back (a controller lights its LED
with it), and the name djtui keeps that state under. A context's ``toggle:`` names it
for its own functions."""

ECHO_WINDOW_S = 2.0
"""A message read back this soon after djtui sent the same bytes is its own echo
(loopMIDI returns it within a millisecond, a busy machine later; Rekordbox's reports use
other channels, and one that looks the same arrives after the echo it follows)."""

_clients_lock = threading.RLock()
"""Held while djtui creates, lists with or closes an rtmidi client: two JACK clients torn
down at once from two threads of one process can deadlock libjack."""

API_ENV = "DJTUI_MIDI_API"
_APIS = {  # our short names -> rtmidi's API names as mido's backend spells them
    "alsa": "LINUX_ALSA",
    "jack": "UNIX_JACK",
    "coremidi": "MACOSX_CORE",
    "winmm": "WINDOWS_MM",
}


# --- commands ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MidiCommand:
    """One Rekordbox function as MIDI: a button (``type='note'``, pressed with velocity
    ``value`` and released) or a control change (``type='cc'``) on ``channel`` (0-15)."""

    function: str
    type: str
    channel: int
    number: int
    value: int = 127

    def messages(self) -> list[list[int]]:
        """Raw MIDI bytes in sending order.

        A button is a pulse: note-on, then the release as note-on with velocity 0, the
        form Pioneer's own controllers send and the ``9n`` code the Rekordbox CSV maps
        (Cue previews while held, so the release must reach the same mapping).
        """
        if self.type == "note":
            return [[0x90 | self.channel, self.number, self.value], [0x90 | self.channel, self.number, 0]]
        return [[0xB0 | self.channel, self.number, self.value]]

    def label(self) -> str:
        kind = "note" if self.type == "note" else "cc"
        return f"{self.function} ch{self.channel + 1} {kind} {self.number}={self.value}"


def command_for(intent: Intent, slots: dict[str, str]) -> MidiCommand:
    """The MIDI command ``intent`` sends with these slot values.

    Raises :class:`DjtuiError` when the intent has no action (a control word, a Rhino
    context) or a slot its action needs is missing.
    """
    action = intent.action
    if action is None:
        raise DjtuiError(f"'{intent.name}' sends no MIDI", "give the intent an 'action' in the context file")
    try:
        return MidiCommand(
            function=action.function_for(slots),
            type=action.type,
            channel=action.channel_for(slots),
            number=action.number_for(slots),
            value=action.value,
        )
    except (KeyError, ValueError) as exc:
        raise DjtuiError(
            f"'{intent.name}' cannot be sent with slots {slots}: no value for {exc}",
            "the resolver must fill every slot the action uses",
        ) from None


# --- deck state -------------------------------------------------------------------------


def reported_state(action: Action, function: str) -> str | None:
    """The state Rekordbox reports for ``function`` pressed by ``action`` (a note):
    the action's ``toggle`` if it names one, else :data:`REPORTED_STATES`."""
    if action.type != "note":
        return None
    return action.toggle or REPORTED_STATES.get(function)


def state_reports(context: Context) -> dict[tuple[int, int], tuple[str, int]]:
    """``(channel, note)`` of each report Rekordbox sends -> ``(state, channel pressed)``.

    One entry per deck channel for deck functions, one for a function on a fixed
    channel; the report's channel is :data:`FEEDBACK_OFFSET` above the press's.
    """
    reports: dict[tuple[int, int], tuple[str, int]] = {}
    slot_values = {name: list(t.values) for name, t in context.slot_types.items()}
    for intent in context.intents.values():
        action = intent.action
        if action is None:
            continue
        slots = {s.name: s.type for e in intent.expressions for s in e.slots()}
        keys = action.keys({n: slot_values[t] for n, t in slots.items()}) or [None]
        for key in keys:
            function = action.function_map[key] if key is not None and action.function_map else action.function
            number = action.number_map[key] if key is not None and action.number_map else action.number
            state = reported_state(action, function)
            if state is None or number is None:
                continue
            for channel in (range(DECKS) if action.channel is None else (action.channel,)):
                if channel + FEEDBACK_OFFSET < 16:
                    reports[(channel + FEEDBACK_OFFSET, number)] = (state, channel)
    return reports


class DeckState:
    """What djtui knows of Rekordbox's state (``playing``, ``loop``, ``fx``, …) per MIDI
    channel of the press (deck n = channel n-1).

    Each entry is ``True``/``False`` or unknown (``None``), with its source: ``"feedback"``
    (Rekordbox said so) or ``"sent"`` (djtui pressed the toggle). The newest report wins,
    so feedback corrects a press Rekordbox ignored. ``reports`` maps a report's
    ``(channel, note)`` to the state and channel it is about; :meth:`for_context` builds it
    with :func:`state_reports`. :attr:`last_heard` says when Rekordbox last sent anything
    at all. Safe to use from the MIDI callback thread.
    """

    def __init__(self, reports: dict[tuple[int, int], tuple[str, int]] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.reports = dict(reports or {})
        self.last_heard: float | None = None
        """``clock()`` time of the last message on the feedback port (echoes excluded)."""
        self._clock = clock
        self._state: dict[tuple[str, int], tuple[bool, str]] = {}
        self._lock = threading.Lock()
        self._listeners: list[Callable[[str, int, bool, str], None]] = []

    @classmethod
    def for_context(cls, context: Context) -> DeckState:
        return cls(state_reports(context))

    def get(self, toggle: str, channel: int) -> bool | None:
        with self._lock:
            entry = self._state.get((toggle, channel))
        return None if entry is None else entry[0]

    def source(self, toggle: str, channel: int) -> str | None:
        with self._lock:
            entry = self._state.get((toggle, channel))
        return None if entry is None else entry[1]

    def playing(self, deck: int) -> bool | None:
        """Whether deck ``deck`` (1-4) plays; ``None`` until djtui has heard or sent it."""
        return self.get("playing", deck - 1)

    @property
    def heard(self) -> bool:
        """Whether Rekordbox has sent anything since djtui opened its port."""
        return self.last_heard is not None

    def set(self, toggle: str, channel: int, on: bool, source: str = "sent") -> None:
        with self._lock:
            changed = self._state.get((toggle, channel)) != (on, source)
            self._state[(toggle, channel)] = (on, source)
            listeners = list(self._listeners)
        if changed:
            for listener in listeners:
                listener(toggle, channel, on, source)

    def apply_feedback(self, message: Sequence[int]) -> bool:
        """Take one raw message from Rekordbox; ``True`` if it reported a known state
        (note-on with velocity > 0 = on; velocity 0 or note-off = off)."""
        self.last_heard = self._clock()
        if len(message) < 3:
            return False
        status, number, velocity = message[0] & 0xF0, message[1], message[2]
        if status not in (0x80, 0x90):
            return False
        report = self.reports.get((message[0] & 0x0F, number))
        if report is None:
            return False
        state, channel = report
        self.set(state, channel, status == 0x90 and velocity > 0, source="feedback")
        return True

    def subscribe(self, listener: Callable[[str, int, bool, str], None]) -> None:
        """Call ``listener(toggle, channel, on, source)`` on every change (from any thread)."""
        with self._lock:
            self._listeners.append(listener)

    def snapshot(self) -> dict[tuple[str, int], tuple[bool, str]]:
        with self._lock:
            return dict(self._state)


# --- echoes -----------------------------------------------------------------------------


class EchoFilter:
    """What djtui sent on a port, so the same bytes read back on an input of that name
    within :data:`ECHO_WINDOW_S` are known as its own echo and dropped.

    Each sent message excuses one arrival, oldest first: a press sent once and echoed
    once is dropped once; a report that happens to look the same arrives after the echo
    and passes. Thread-safe (sends and the input callback run on different threads).
    """

    def __init__(self, window_s: float = ECHO_WINDOW_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.window_s = window_s
        self.dropped = 0
        """How many echoes were dropped: more than 0 means the port loops back."""
        self._clock = clock
        self._sent: deque[tuple[float, tuple[int, ...]]] = deque()
        self._lock = threading.Lock()

    def sent(self, message: Sequence[int]) -> None:
        with self._lock:
            self._forget_old()
            self._sent.append((self._clock(), tuple(message)))

    def is_echo(self, message: Sequence[int]) -> bool:
        """Whether ``message`` is an echo of something djtui sent (and forget that send)."""
        wanted = tuple(message)
        with self._lock:
            self._forget_old()
            for i, (_, raw) in enumerate(self._sent):
                if raw == wanted:
                    del self._sent[i]
                    self.dropped += 1
                    return True
        return False

    def _forget_old(self) -> None:
        horizon = self._clock() - self.window_s
        while self._sent and self._sent[0][0] < horizon:
            self._sent.popleft()


_echo_filters: dict[str, EchoFilter] = {}
_echo_lock = threading.Lock()


def echo_filter(name: str) -> EchoFilter:
    """The one :class:`EchoFilter` of port name ``name`` in this process: every
    :class:`MidiOut` called ``name`` records into it, and the feedback port
    (:func:`open_feedback`) drops what it recorded."""
    with _echo_lock:
        return _echo_filters.setdefault(name, EchoFilter())


# --- backend ----------------------------------------------------------------------------


def _api_name(api: str | None) -> str | None:
    """``api`` (else ``DJTUI_MIDI_API``) as mido's rtmidi backend spells it."""
    api = (api or os.environ.get(API_ENV) or "").strip().lower()
    if not api:
        return None
    if api not in _APIS:
        raise DjtuiError(f"unknown MIDI API '{api}'", f"use one of: {', '.join(_APIS)} (or leave it empty)")
    return _APIS[api]


def _choose_api(explicit: str | None, config: MidiConfig | None) -> str | None:
    """An explicit choice, else ``DJTUI_MIDI_API``, else ``[midi] api``."""
    return explicit or os.environ.get(API_ENV) or (config.api if config else None)


def _backend(api: str | None) -> Any:
    try:
        import mido
        import rtmidi  # noqa: F401  (mido imports it lazily; fail here, with a hint)
    except ImportError as exc:
        raise DjtuiError(f"no MIDI backend: {exc.name} is not installed", "pip install mido python-rtmidi") from None
    name = _api_name(api)
    backend = mido.Backend(f"mido.backends.rtmidi/{name}" if name else "mido.backends.rtmidi", load=True)
    if name and name not in backend.module.get_api_names():
        raise DjtuiError(f"this python-rtmidi has no {name} support",
                         f"compiled in: {', '.join(backend.module.get_api_names()) or 'nothing'}")
    return backend


def _unreachable(exc: BaseException, api: str | None) -> DjtuiError:
    text = str(exc)
    if "JACK" in text or (api or os.environ.get(API_ENV, "")).lower() == "jack":
        hint = "start the JACK server (jackd, qjackctl) or set DJTUI_MIDI_API=alsa"
    elif "ALSA" in text:
        hint = "load the ALSA sequencer (sudo modprobe snd-seq) or use JACK: DJTUI_MIDI_API=jack"
    else:
        hint = "check that the system's MIDI service is running"
    return DjtuiError(f"cannot reach the MIDI system: {text}", hint)


def _client(direction: str, api: str | None, name: str) -> Any:
    """An rtmidi client that lists the ports of ``direction`` others offer."""
    import rtmidi

    rt_name = _api_name(api)
    rtapi = getattr(rtmidi, f"API_{rt_name}") if rt_name else rtmidi.API_UNSPECIFIED
    return (rtmidi.MidiIn if direction == "input" else rtmidi.MidiOut)(rtapi=rtapi, name=name)


def _names(direction: str, api: str | None) -> list[str]:
    """Names of the ports of ``direction`` others offer. One rtmidi client, not mido's
    two: each client costs a JACK/ALSA connection (~0.1 s on JACK)."""
    with _clients_lock:
        client = _client(direction, api, "djtui ports")
        try:
            return list(client.get_ports())
        finally:
            client.delete()


@dataclass(frozen=True)
class Ports:
    """Ports other programs offer: ``inputs`` djtui can read from, ``outputs`` it can
    send to."""

    inputs: list[str]
    outputs: list[str]


def list_ports(api: str | None = None) -> Ports:
    _backend(api)  # a missing backend or API is its own error, before any connection
    import rtmidi

    try:
        return Ports(inputs=_names("input", api), outputs=_names("output", api))
    except (OSError, rtmidi.RtMidiError) as exc:
        raise _unreachable(exc, api) from None


@dataclass(frozen=True)
class MidiSystem:
    """One MIDI system this python-rtmidi was built with, and what it offers now."""

    api: str
    """djtui's name for it: ``alsa``, ``jack``, ``coremidi``, ``winmm``."""
    ports: Ports | None
    """``None`` when it cannot be reached."""
    problem: str = ""


def midi_systems() -> list[MidiSystem]:
    """Every MIDI system compiled into python-rtmidi, each tried once."""
    compiled = _backend(None).module.get_api_names()
    systems = []
    for short, name in _APIS.items():
        if name not in compiled:
            continue
        try:
            systems.append(MidiSystem(short, list_ports(short)))
        except DjtuiError as exc:
            systems.append(MidiSystem(short, None, exc.message))
    return systems


def _owned_by(port: str, name: str) -> bool:
    """Whether a listed port is a virtual port called ``name``: ``name`` itself (macOS,
    Windows), or with its client before it (JACK: ``djtui:djtui``, ``djtui in:djtui``,
    ``djtui-01:djtui``; ALSA adds the address: ``djtui:djtui 128:0``)."""
    if port == name:
        return True
    client, _, rest = port.partition(":")
    return client.startswith(name) and re.sub(r" \d+:\d+$", "", rest) == name


def listed_as(name: str, api: str | None = None) -> list[str]:
    """How other programs list djtui's virtual ports called ``name``: the one they read
    (commands), then the one they write (feedback); e.g. on JACK ``djtui:djtui`` and
    ``djtui in:djtui``."""
    ports = list_ports(api)
    return [p for p in ports.inputs if _owned_by(p, name)] + [p for p in ports.outputs if _owned_by(p, name)]


def _find(name: str, available: list[str], direction: str) -> str:
    if name in available:
        return name
    matches = [p for p in available if name.lower() in p.lower()]
    if len(matches) == 1:
        return matches[0]
    listed = ", ".join(repr(p) for p in available) or "none"
    if matches:
        raise DjtuiError(f"MIDI {direction} port '{name}' is ambiguous: {', '.join(map(repr, matches))}",
                         "give more of the port's name")
    raise DjtuiError(f"no MIDI {direction} port named '{name}' (available: {listed})",
                     "start loopMIDI (Windows) or the device, or check the name with `djtui midi ports`")


def _client_name(direction: str, name: str) -> str:
    """The client that owns djtui's virtual port ``name``: one per direction, so JACK and
    ALSA list ``djtui:djtui`` (commands) and ``djtui in:djtui`` (feedback); macOS and
    Rekordbox see only the port name, the same both ways."""
    return name if direction == "output" else f"{name} in"


def _open(direction: str, name: str, virtual: bool, api: str | None, callback: Callable[..., None] | None = None) -> Any:
    """Open a mido port: a new virtual one called ``name``, or the existing one it names."""
    with _clients_lock:
        return _open_locked(direction, name, virtual, api, callback)


def _open_locked(direction: str, name: str, virtual: bool, api: str | None,
                 callback: Callable[..., None] | None) -> Any:
    backend = _backend(api)
    import rtmidi

    try:
        if virtual:
            # Another program (often a second djtui) already owns this name: JACK and
            # ALSA would quietly rename ours and Rekordbox would keep talking to the other.
            others = _names("input" if direction == "output" else "output", api)
            if any(_owned_by(p, name) for p in others):
                raise DjtuiError(f"MIDI port '{name}' is busy: another program already offers it",
                                 "quit the other djtui, or set [midi] output_port to another name")
            client = _client_name(direction, name)
            if direction == "output":
                return backend.open_output(name, virtual=True, client_name=client)
            return backend.open_input(name, virtual=True, client_name=client, callback=callback)
        if direction == "output":
            return backend.open_output(_find(name, _names("output", api), direction))
        return backend.open_input(_find(name, _names("input", api), direction), callback=callback)
    except DjtuiError:
        raise
    except (OSError, rtmidi.RtMidiError) as exc:
        if isinstance(exc, rtmidi.SystemError) or "initialize" in str(exc):
            raise _unreachable(exc, api) from None
        if virtual and isinstance(exc, rtmidi.UnsupportedOperationError):  # Windows (WinMM)
            raise DjtuiError(f"this MIDI system cannot create the virtual port '{name}'",
                             "create it in loopMIDI and set [midi] virtual = false") from None
        raise DjtuiError(f"cannot open MIDI {direction} port '{name}': {exc}",
                         "the port may be in use by another program; close it or pick another port") from None


# --- ports ------------------------------------------------------------------------------


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
        self._port = _open(self.direction, name, virtual, api, callback)
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
                with _clients_lock:
                    if lister is None:
                        lister = _client(self.direction, self._api, f"{self.name} watch")
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
            with _clients_lock:
                lister.delete()

    def _lost(self) -> None:
        self.problem = (f"MIDI {self.direction} port '{self.name}' is gone "
                        f"(its program quit or the device was unplugged)")
        self._close_port()
        self._on_status(f"{self.problem}; djtui reconnects when it is back")

    def _reconnect(self, listed: list[str]) -> None:
        try:
            _find(self.name, listed, self.direction)
            self._port = _open(self.direction, self.name, False, self._api, self._callback)
        except DjtuiError:
            return  # not back yet (or back twice, ambiguous): try again next time
        self.problem = None
        self._on_status(f"MIDI {self.direction} port '{self.name}' is back: reconnected")

    def _close_port(self) -> None:
        with _clients_lock:
            if self._port is not None and not self._port.closed:
                self._port.close()
        self._port = None

    def close(self) -> None:
        self._closing.set()
        with self._lock:
            with _clients_lock:
                if self._port is not None and not self._port.closed:
                    self._port.close()
        if self._watch is not None and self._watch is not threading.current_thread():
            self._watch.join(timeout=5)


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
                         _choose_api(api, config), on_status=on_status, check_s=check_s)
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
                  api=_choose_api(api, config), echoes=echo_filter(config.output_port), on_status=on_status)


class MidiHoldTrigger:
    """Push-to-talk on a footswitch: held while ``note`` is down on the existing input
    port ``port``. A note (velocity > 0 = down) or a CC of that number (>= 64 = down,
    as sustain pedals send) both work. ``on_press``/``on_release`` run on rtmidi's
    thread and must not block."""

    def __init__(self, port: str, note: int, *, on_press: Callable[[], None] | None = None,
                 on_release: Callable[[], None] | None = None, virtual: bool = False,
                 api: str | None = None) -> None:
        self.note = note
        self.on_press = on_press
        self.on_release = on_release
        self._held = threading.Event()
        self._input = MidiIn(port, self._receive, virtual=virtual, api=api)

    @property
    def is_held(self) -> bool:
        return self._held.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the switch is held (or ``timeout``); ``True`` if held."""
        return self._held.wait(timeout)

    def _receive(self, message: list[int]) -> None:
        if len(message) < 3 or message[1] != self.note:
            return
        status = message[0] & 0xF0
        if status == 0x90:
            down = message[2] > 0
        elif status == 0x80:
            down = False
        elif status == 0xB0:
            down = message[2] >= 64
        else:
            return
        if down == self._held.is_set():
            return
        if down:
            self._held.set()
            if self.on_press:
                self.on_press()
        else:
            self._held.clear()
            if self.on_release:
                self.on_release()

    def close(self) -> None:
        self._input.close()

    def __enter__(self) -> MidiHoldTrigger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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
