"""Whether the JACK server under djtui's MIDI ports is still there, from libjack itself.

A JACK server that dies leaves every client of this process a zombie: a send into it
vanishes without an error, and once libjack has noticed, the next client anyone opens
cleans the zombies up behind their owners' backs, so that closing one of them afterwards
crashes the process. So, while djtui has ports on JACK, it keeps one portless client of
its own whose shutdown callback says at once that the server went (:attr:`JackWatch.gone`).
Then every registered port is closed (each owner's ``server_gone``), no new client may be
opened (the port opener checks :attr:`~JackWatch.gone`), and the watch asks for the
server every ``retry_s``; when it answers, each owner's ``server_back`` opens its port
anew. Each owner is told once each way through its ``on_status``.

libjack is the one python-rtmidi loaded, reached through ctypes; where it cannot be
(another platform, a python-rtmidi without JACK) there is no watch and nothing changes.
"""

from __future__ import annotations

import atexit
import ctypes
import ctypes.util
import logging
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Protocol

log = logging.getLogger(__name__)

NO_START_SERVER = 0x01
"""``JackNoStartServer``: asking whether a server is there must never start one."""

_SHUTDOWN = ctypes.CFUNCTYPE(None, ctypes.c_void_p)


class Watched(Protocol):
    """A port on JACK: closed when the server goes, opened again when it is back."""

    def server_gone(self) -> None: ...

    def server_back(self) -> str | None:
        """Open the port again; ``None`` when it is, else why not (it stays closed)."""
        ...

    @property
    def status(self) -> Callable[[str], None]: ...


def loaded_library(stem: str) -> str | None:
    """The path of the shared library ``stem`` (``libjack``) this process has loaded
    (python-rtmidi bundles its own), else the system's."""
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            for line in maps:
                path = line.split()[-1]
                name = path.rsplit("/", 1)[-1]
                if "/" in path and name.startswith((stem + ".", stem + "-")):  # libjack-5305d520.so.0.1.0
                    return path
    except OSError:
        pass
    return ctypes.util.find_library(stem.removeprefix("lib"))


class JackWatch:
    """The watch over one process's JACK clients (see the module). Made by
    :func:`djtui.core.midi_ports.jack_watch`; ``lock`` is held while clients are made
    and closed."""

    def __init__(self, libjack: ctypes.CDLL, lock: AbstractContextManager[Any], retry_s: float = 1.0) -> None:
        self._jack = libjack
        self._lock = lock
        self.retry_s = retry_s
        libjack.jack_client_open.restype = ctypes.c_void_p
        libjack.jack_client_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
        libjack.jack_on_shutdown.argtypes = [ctypes.c_void_p, _SHUTDOWN, ctypes.c_void_p]
        libjack.jack_activate.argtypes = [ctypes.c_void_p]
        libjack.jack_client_close.argtypes = [ctypes.c_void_p]
        self._gone = threading.Event()
        self._wake = threading.Event()
        self._on_shutdown = _SHUTDOWN(self._shutdown)  # kept: libjack holds only the pointer
        self._client: int | None = None
        self._watched: list[Watched] = []
        self._thread: threading.Thread | None = None
        atexit.register(self._close_client)

    @property
    def gone(self) -> bool:
        """The server went and djtui's ports on it are closed (or being closed)."""
        return self._gone.is_set()

    def watch(self, port: Watched) -> None:
        """Watch over ``port`` (just opened on a running server)."""
        with self._lock:
            if self._client is None and not self.gone:
                self._client = self._open_client()
            self._watched.append(port)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="djtui jack watch", daemon=True)
                self._thread.start()

    def forget(self, port: Watched) -> None:
        """``port`` is closed for good; with no port left the watch's own client and
        thread go too (gone when this returns)."""
        with self._lock:
            if port in self._watched:
                self._watched.remove(port)
            if self._watched:
                return
            self._close_client()
            self._wake.set()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    def _shutdown(self, _arg: Any) -> None:
        # On libjack's thread: say so and wake the watch; nothing that could block.
        self._gone.set()
        self._wake.set()

    def _open_client(self) -> int | None:
        status = ctypes.c_int(0)
        client = self._jack.jack_client_open(b"djtui watch", NO_START_SERVER, ctypes.byref(status))
        if not client:
            return None
        self._jack.jack_on_shutdown(client, self._on_shutdown, None)
        self._jack.jack_activate(client)
        return int(client)

    def _close_client(self) -> None:
        with self._lock:
            client, self._client = self._client, None
            if client is not None:
                self._jack.jack_client_close(client)

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            if self.gone:
                self._server_gone()
            with self._lock:
                if not self._watched:  # decided under the lock: watch() starts a new thread after this
                    self._thread = None
                    return

    def _server_gone(self) -> None:
        """Close every port (zombies all, before any new client), then ask for the server
        every ``retry_s`` until it answers or no port is left to open again."""
        watched = list(self._watched)
        for port in watched:
            port.server_gone()
        self._close_client()
        _tell(watched, "MIDI lost: the JACK server stopped; nothing is sent until it is back, then djtui opens "
                       "its ports again by itself")
        while True:
            if self._wake.wait(self.retry_s):
                self._wake.clear()
            with self._lock:
                if not self._watched:
                    self._gone.clear()
                    return
                client = self._open_client()
                if client is None:
                    continue
                self._client = client
                self._gone.clear()
                watched = list(self._watched)
            problems = [problem for port in watched if (problem := port.server_back()) is not None]
            _tell(watched, "MIDI back: the JACK server is running again and djtui's ports are open"
                  if not problems else f"MIDI: the JACK server is back, but {'; '.join(problems)}")
            return


def _tell(ports: list[Watched], message: str) -> None:
    """``message`` once to each listener, however many of its ports are watched."""
    told: list[Callable[[str], None]] = []
    for port in ports:
        if port.status not in told:
            told.append(port.status)
            try:
                port.status(message)
            except Exception:  # noqa: BLE001 - a failing display must not stop the watch
                log.exception("reporting %r failed", message)
