"""The MIDI system and its ports: which systems are there (ALSA, JACK, CoreMIDI, WinMM),
what ports others offer, and opening one of djtui's.

Transport is mido with python-rtmidi. The MIDI system is ``[midi] api`` or
``DJTUI_MIDI_API`` when one names it; else, on Linux, the one that answers (ALSA when its
sequencer is there, else a running JACK server: :func:`effective_api`), elsewhere
rtmidi's default. Everything that can go wrong while opening a port (no backend, port
busy, port not found, system unreachable) is a :class:`~djtui.core.errors.DjtuiError`
with a hint, raised before anything is sent. ALSA's and libjack's own messages never
reach the terminal (:func:`quiet_libraries`): djtui says what went wrong in one line.
On JACK, :func:`jack_watch` notices a server that stops (:mod:`djtui.core.jack_watch`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import re
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from djtui.core.errors import DjtuiError

if TYPE_CHECKING:
    from djtui.core.config import MidiConfig
    from djtui.core.jack_watch import JackWatch

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
    """:func:`effective_api` of ``api`` as mido's rtmidi backend spells it."""
    chosen = effective_api(api)
    return _APIS[chosen] if chosen else None


def effective_api(api: str | None) -> str | None:
    """The MIDI system djtui uses: ``api``, else ``DJTUI_MIDI_API``, else on Linux the one
    that answers (ALSA when its sequencer is loaded, else JACK when a server runs: a JACK
    set-up without ``snd-seq`` must not fail on ALSA); ``None`` for rtmidi's default."""
    api = (api or os.environ.get(API_ENV) or "").strip().lower()
    if api and api not in _APIS:
        raise DjtuiError(f"unknown MIDI API '{api}'", f"use one of: {', '.join(_APIS)} (or leave it empty)")
    return api or _reachable_on_linux()


_reachable: dict[str, str] = {}
"""The system found reachable, per JACK server name (probing JACK costs ~0.1 s)."""


def _reachable_on_linux() -> str | None:
    if not sys.platform.startswith("linux"):
        return None
    server = os.environ.get("JACK_DEFAULT_SERVER", "default")
    if server in _reachable:
        return _reachable[server]
    try:
        import rtmidi
    except ImportError:
        return None  # _backend says so, with the fix
    compiled = rtmidi.get_compiled_api()
    for short, rtapi in (("alsa", rtmidi.API_LINUX_ALSA), ("jack", rtmidi.API_UNIX_JACK)):
        if rtapi in compiled and _answers(rtapi):
            _reachable[server] = short
            return short
    return None  # neither: rtmidi's default fails with its own message, and the hint


def _answers(rtapi: int) -> bool:
    import rtmidi

    quiet_libraries()
    with clients_lock:
        if rtapi == rtmidi.API_UNIX_JACK and _jack is not None and _jack.gone:
            return False
        try:
            client = rtmidi.MidiOut(rtapi=rtapi, name="djtui probe")
        except rtmidi.RtMidiError:
            return False
        client.delete()
        return True


def choose_api(explicit: str | None, config: MidiConfig | None) -> str | None:
    """An explicit choice, else ``DJTUI_MIDI_API``, else ``[midi] api``, else the system
    that answers (:func:`effective_api`)."""
    return effective_api(explicit or (config.api if config else None))


_quiet = False


def quiet_libraries() -> None:
    """Keep ALSA's and libjack's messages (``ALSA lib seq_hw.c:466:(snd_seq_hw_open) open
    /dev/snd/seq failed``, ``Cannot connect to server socket``) off the terminal, once per
    process, before the first client. Each library's handler becomes libc's ``strlen``: a
    C function that reads its first argument (the message, or ALSA's file name) and does
    nothing else, so no Python runs on the libraries' threads, which can outlive the
    interpreter."""
    global _quiet
    if _quiet or not sys.platform.startswith("linux"):
        return
    _quiet = True
    from djtui.core.jack_watch import loaded_library

    try:
        import rtmidi  # noqa: F401  (loads the libasound and libjack its clients use)
    except ImportError:
        return

    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return
    say_nothing = ctypes.cast(ctypes.CDLL(libc_name).strlen, ctypes.c_void_p)
    for stem, setters in (("libasound", ("snd_lib_error_set_handler",)),
                          ("libjack", ("jack_set_error_function", "jack_set_info_function"))):
        path = loaded_library(stem)
        if path is None:
            continue
        try:
            library = ctypes.CDLL(path)
            for setter in setters:
                getattr(library, setter).argtypes = [ctypes.c_void_p]
                getattr(library, setter)(say_nothing)
        except (OSError, AttributeError):
            continue


_jack: JackWatch | None = None


def jack_watch() -> JackWatch | None:
    """The process's :class:`~djtui.core.jack_watch.JackWatch`, made on first use;
    ``None`` where libjack cannot be reached."""
    global _jack
    with clients_lock:
        if _jack is None and sys.platform.startswith("linux"):
            from djtui.core.jack_watch import JackWatch, loaded_library

            import rtmidi  # noqa: F401  (loads the libjack its clients use)

            path = loaded_library("libjack")
            try:
                _jack = JackWatch(ctypes.CDLL(path), clients_lock) if path else None
            except (OSError, AttributeError):
                _jack = None
        return _jack


def is_jack(api: str | None) -> bool:
    return _api_name(api) == _APIS["jack"]


def _refuse_while_jack_is_gone(api: str | None) -> None:
    """No new JACK client while djtui's old ones are being closed: libjack would free
    them under their owners (see :mod:`djtui.core.jack_watch`)."""
    if _jack is not None and _jack.gone and is_jack(api):
        raise DjtuiError("cannot reach the MIDI system: the JACK server stopped",
                         "start the JACK server again; djtui opens its ports by itself")


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

    quiet_libraries()
    _refuse_while_jack_is_gone(api)
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
    quiet_libraries()
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

    quiet_libraries()
    _refuse_while_jack_is_gone(api)
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

