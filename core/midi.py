"""The MIDI bridge to Rekordbox: commands out on a virtual port, deck state back in.

djtui opens a virtual output port (``djtui``) that Rekordbox maps with the CSV from
:mod:`djtui.core.rekordbox`, and a virtual input port (``djtui feedback``) on which
Rekordbox reports play state. On Windows, where programs cannot create ports, both are
existing loopMIDI ports opened by name (``virtual = false``).

Transport is mido with python-rtmidi. The MIDI system (``alsa``, ``jack``, ``coremidi``,
``winmm``) is rtmidi's default unless ``[midi] api`` or ``DJTUI_MIDI_API`` names one.
Everything that can go wrong while opening a port (no backend, port busy, port not
found) is a :class:`DjtuiError` with a hint, raised before anything is sent.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from djtui.core.errors import DjtuiError

if TYPE_CHECKING:
    import mido

    from djtui.core.config import MidiConfig
    from djtui.core.context import Context, Intent

DECKS = 4
"""Deck n sends on MIDI channel n-1 (the context's ``channel: deck``)."""

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


class DeckState:
    """What djtui knows of Rekordbox's toggles (``playing``, ``fx``, …) per MIDI channel.

    Each entry is ``True``/``False`` or unknown (``None``), with its source: ``"feedback"``
    (Rekordbox said so) or ``"sent"`` (djtui pressed the toggle). The newest report wins,
    so feedback corrects a press Rekordbox ignored. ``feedback_notes`` maps a feedback
    message (channel, note) to the toggle it reports; :meth:`for_context` builds it from
    the context's toggle actions. Safe to use from the MIDI callback thread.
    """

    def __init__(self, feedback_notes: dict[tuple[int, int], str] | None = None) -> None:
        self.feedback_notes = dict(feedback_notes or {})
        self._state: dict[tuple[str, int], tuple[bool, str]] = {}
        self._lock = threading.Lock()
        self._listeners: list[Callable[[str, int, bool, str], None]] = []

    @classmethod
    def for_context(cls, context: Context) -> DeckState:
        notes: dict[tuple[int, int], str] = {}
        for intent in context.intents.values():
            action = intent.action
            if action is None or action.toggle is None or action.type != "note" or action.number is None:
                continue
            channels = range(DECKS) if action.channel is None else (action.channel,)
            for channel in channels:
                notes[(channel, action.number)] = action.toggle
        return cls(notes)

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

    def set(self, toggle: str, channel: int, on: bool, source: str = "sent") -> None:
        with self._lock:
            changed = self._state.get((toggle, channel)) != (on, source)
            self._state[(toggle, channel)] = (on, source)
            listeners = list(self._listeners)
        if changed:
            for listener in listeners:
                listener(toggle, channel, on, source)

    def apply_feedback(self, message: Sequence[int]) -> bool:
        """Take one raw message from Rekordbox; ``True`` if it reported a known toggle
        (note-on with velocity > 0 = on; velocity 0 or note-off = off)."""
        if len(message) < 3:
            return False
        status, number, velocity = message[0] & 0xF0, message[1], message[2]
        if status not in (0x80, 0x90):
            return False
        toggle = self.feedback_notes.get((message[0] & 0x0F, number))
        if toggle is None:
            return False
        self.set(toggle, message[0] & 0x0F, status == 0x90 and velocity > 0, source="feedback")
        return True

    def subscribe(self, listener: Callable[[str, int, bool, str], None]) -> None:
        """Call ``listener(toggle, channel, on, source)`` on every change (from any thread)."""
        with self._lock:
            self._listeners.append(listener)

    def snapshot(self) -> dict[tuple[str, int], tuple[bool, str]]:
        with self._lock:
            return dict(self._state)


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


def _names(direction: str, api: str | None) -> list[str]:
    """Names of the ports of ``direction`` others offer. One rtmidi client, not mido's
    two: each client costs a JACK/ALSA connection (~0.2 s on JACK)."""
    import rtmidi

    name = _api_name(api)
    rtapi = getattr(rtmidi, f"API_{name}") if name else rtmidi.API_UNSPECIFIED
    client = (rtmidi.MidiIn if direction == "input" else rtmidi.MidiOut)(rtapi=rtapi, name="djtui ports")
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


def _owned_by(port: str, name: str) -> bool:
    """Whether a listed port is a virtual port called ``name`` (macOS: ``name``; ALSA
    and JACK prefix the client: ``name:name 128:0``, ``name:name``)."""
    return port == name or port.startswith(name + ":")


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


def _open(direction: str, name: str, virtual: bool, api: str | None, callback: Callable[..., None] | None = None) -> Any:
    """Open a mido port: a new virtual one called ``name``, or the existing one it names."""
    backend = _backend(api)
    import rtmidi

    try:
        if virtual:
            # Another program (often a second djtui) already owns this name: JACK and
            # ALSA would quietly rename ours and Rekordbox would keep talking to the other.
            others = _names("input" if direction == "output" else "output", api)
            if any(_owned_by(p, name) for p in others):
                raise DjtuiError(f"MIDI port '{name}' is busy: another program already offers it",
                                 "quit the other djtui, or set [midi] output_port/input_port to another name")
            if direction == "output":
                return backend.open_output(name, virtual=True, client_name=name)
            return backend.open_input(name, virtual=True, client_name=name, callback=callback)
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


class MidiOut:
    """djtui's output to Rekordbox: ``MidiOut(config.midi).send(command)``.

    Opens the port at once (virtual ``config.output_port``, or the existing port of that
    name when ``config.virtual`` is off), so a missing backend or a busy port fails at
    start, not mid-set. ``port``/``virtual``/``api`` override the config.
    """

    def __init__(self, config: MidiConfig | None = None, *, port: str | None = None,
                 virtual: bool | None = None, api: str | None = None) -> None:
        self.name = port or (config.output_port if config else "djtui")
        self.virtual = virtual if virtual is not None else (config.virtual if config else True)
        self._port = _open("output", self.name, self.virtual, _choose_api(api, config))
        self._lock = threading.Lock()

    def send(self, command: MidiCommand) -> None:
        """Send the command's messages back to back (a button press and its release).

        Every message is built and range-checked before the first is sent, so a bad
        command sends nothing; a port that died raises :class:`DjtuiError`.
        """
        import mido

        try:
            messages = [mido.Message.from_bytes(raw) for raw in command.messages()]
        except (ValueError, TypeError) as exc:
            raise DjtuiError(f"not a valid MIDI command: {command.label()} ({exc})",
                             "note/CC numbers and values are 0-127, channels 0-15") from None
        with self._lock:
            if self._port.closed:
                raise DjtuiError(f"MIDI port '{self.name}' is closed", "restart djtui")
            try:
                for message in messages:
                    self._port.send(message)
            except (OSError, RuntimeError) as exc:  # rtmidi's errors are one or the other
                raise DjtuiError(f"MIDI port '{self.name}' failed while sending: {exc}",
                                 "check the MIDI system; Rekordbox may need the port re-enabled") from None

    def close(self) -> None:
        with self._lock:
            if not self._port.closed:
                self._port.close()

    def __enter__(self) -> MidiOut:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class MidiIn:
    """An input port whose messages go to ``callback(raw_bytes)`` on rtmidi's thread.

    The callback must return quickly (set state, put on a queue); it is never given a
    blocking job by djtui. Virtual port ``name`` by default; ``virtual=False`` opens the
    existing port of that name (a footswitch, a loopMIDI port).
    """

    def __init__(self, name: str, callback: Callable[[list[int]], None], *, virtual: bool = True,
                 api: str | None = None) -> None:
        self.name = name
        self._callback = callback
        self._port = _open("input", name, virtual, api, callback=self._receive)

    def _receive(self, message: mido.Message) -> None:
        self._callback(message.bytes())

    def close(self) -> None:
        if not self._port.closed:
            self._port.close()

    def __enter__(self) -> MidiIn:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_feedback(config: MidiConfig, deck_state: DeckState, *, api: str | None = None) -> MidiIn:
    """The port on which Rekordbox's feedback (the CSV's output codes) updates
    ``deck_state``: virtual ``config.input_port``, or that existing port."""
    return MidiIn(config.input_port, deck_state.apply_feedback, virtual=config.virtual,
                  api=_choose_api(api, config))


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
