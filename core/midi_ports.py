"""The MIDI system and its ports: which systems are there (ALSA, JACK, CoreMIDI, WinMM),
what ports others offer, and opening one of djtui's.

Transport is mido with python-rtmidi. The MIDI system is rtmidi's default unless
``[midi] api`` or ``DJTUI_MIDI_API`` names one. Everything that can go wrong while opening
a port (no backend, port busy, port not found, system unreachable) is a
:class:`~djtui.core.errors.DjtuiError` with a hint, raised before anything is sent.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from djtui.core.errors import DjtuiError

if TYPE_CHECKING:
    from djtui.core.config import MidiConfig

clients_lock = threading.RLock()
"""Held while djtui creates, lists with or closes an rtmidi client: two JACK clients torn
down at once from two threads of one process can deadlock libjack."""


API_ENV = "DJTUI_MIDI_API"


_APIS = {  # our short names -> rtmidi's API names as mido's backend spells them
    "alsa": "LINUX_ALSA",
    "jack": "UNIX_JACK",
    "coremidi": "MACOSX_CORE",
    "winmm": "WINDOWS_MM",
}


def _api_name(api: str | None) -> str | None:
    """``api`` (else ``DJTUI_MIDI_API``) as mido's rtmidi backend spells it."""
    api = (api or os.environ.get(API_ENV) or "").strip().lower()
    if not api:
        return None
    if api not in _APIS:
        raise DjtuiError(f"unknown MIDI API '{api}'", f"use one of: {', '.join(_APIS)} (or leave it empty)")
    return _APIS[api]


def choose_api(explicit: str | None, config: MidiConfig | None) -> str | None:
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


def unreachable(exc: BaseException, api: str | None) -> DjtuiError:
    text = str(exc)
    if "JACK" in text or (api or os.environ.get(API_ENV, "")).lower() == "jack":
        hint = "start the JACK server (jackd, qjackctl) or set DJTUI_MIDI_API=alsa"
    elif "ALSA" in text:
        hint = "load the ALSA sequencer (sudo modprobe snd-seq) or use JACK: DJTUI_MIDI_API=jack"
    else:
        hint = "check that the system's MIDI service is running"
    return DjtuiError(f"cannot reach the MIDI system: {text}", hint)


def port_lister(direction: str, api: str | None, name: str) -> Any:
    """An rtmidi client that lists the ports of ``direction`` others offer."""
    import rtmidi

    rt_name = _api_name(api)
    rtapi = getattr(rtmidi, f"API_{rt_name}") if rt_name else rtmidi.API_UNSPECIFIED
    return (rtmidi.MidiIn if direction == "input" else rtmidi.MidiOut)(rtapi=rtapi, name=name)


def port_names(direction: str, api: str | None) -> list[str]:
    """Names of the ports of ``direction`` others offer. One rtmidi client, not mido's
    two: each client costs a JACK/ALSA connection (~0.1 s on JACK)."""
    with clients_lock:
        client = port_lister(direction, api, "djtui ports")
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
        return Ports(inputs=port_names("input", api), outputs=port_names("output", api))
    except (OSError, rtmidi.RtMidiError) as exc:
        raise unreachable(exc, api) from None


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


def owned_by(port: str, name: str) -> bool:
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
    return [p for p in ports.inputs if owned_by(p, name)] + [p for p in ports.outputs if owned_by(p, name)]


def find_port(name: str, available: list[str], direction: str) -> str:
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


def open_port(direction: str, name: str, virtual: bool, api: str | None, callback: Callable[..., None] | None = None) -> Any:
    """Open a mido port: a new virtual one called ``name``, or the existing one it names."""
    with clients_lock:
        return _open_locked(direction, name, virtual, api, callback)


def _open_locked(direction: str, name: str, virtual: bool, api: str | None,
                 callback: Callable[..., None] | None) -> Any:
    backend = _backend(api)
    import rtmidi

    try:
        if virtual:
            # Another program (often a second djtui) already owns this name: JACK and
            # ALSA would quietly rename ours and Rekordbox would keep talking to the other.
            others = port_names("input" if direction == "output" else "output", api)
            if any(owned_by(p, name) for p in others):
                raise DjtuiError(f"MIDI port '{name}' is busy: another program already offers it",
                                 "quit the other djtui, or set [midi] output_port to another name")
            client = _client_name(direction, name)
            if direction == "output":
                return backend.open_output(name, virtual=True, client_name=client)
            return backend.open_input(name, virtual=True, client_name=client, callback=callback)
        if direction == "output":
            return backend.open_output(find_port(name, port_names("output", api), direction))
        return backend.open_input(find_port(name, port_names("input", api), direction), callback=callback)
    except DjtuiError:
        raise
    except (OSError, rtmidi.RtMidiError) as exc:
        if isinstance(exc, rtmidi.SystemError) or "initialize" in str(exc):
            raise unreachable(exc, api) from None
        if virtual and isinstance(exc, rtmidi.UnsupportedOperationError):  # Windows (WinMM)
            raise DjtuiError(f"this MIDI system cannot create the virtual port '{name}'",
                             "create it in loopMIDI and set [midi] virtual = false") from None
        raise DjtuiError(f"cannot open MIDI {direction} port '{name}': {exc}",
                         "the port may be in use by another program; close it or pick another port") from None

