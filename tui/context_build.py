"""The context model, built in the background on first run, in a process of its own.

The bundled Whisper taught the active context's words by synthetic voices
(:mod:`djtui.training.context_model`) understands far more commands over music than the
stock model, but takes minutes of CPU to build. :class:`ContextModelBuild` starts the
build as a child process (:mod:`djtui.training.context_worker`: lowest priority, one
thread) when djtui opens and there is none for the context yet, and:

- **pauses it while the DJ plays**: listening, starting to listen, or armed
  (:meth:`ContextModelBuild.hold`). The child is suspended whole (psutil: SIGSTOP and
  SIGCONT on POSIX, thread suspension on Windows), so it takes no CPU from that instant,
  even mid-step, and no cooperation from it is needed to stop; it is told afterwards how
  long it slept, so its ETA counts training time;
- shows where it is in ``status`` (the Train screen and Home show it), from the
  progress events the child sends as JSON lines;
- **stops it within** :data:`STOP_S` when djtui quits (:meth:`ContextModelBuild.stop`):
  asked first (it stops between two takes, or after the step, keeping its state),
  then SIGTERM, then SIGKILL, and never left a zombie. Whatever it had done is kept: the next
  start goes on from the takes spoken and the last training state;
- reports a child that **dies** (a crash in torch, the OOM killer, a full disk) as a
  notification; djtui keeps running with the bundled model, and the build is tried
  again on the next start, at most :data:`~djtui.training.context_model.MAX_FAILURES`
  times for a context text (counted on disk).

The app hears :class:`ContextModelReady` when the model is built or the build failed.
From then on the live pipeline's engine ``auto`` uses it each time it starts; a set
already running is never switched under the DJ's feet.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import IO, Any

from textual.app import App
from textual.message import Message

from djtui.core.context import Context
from djtui.core.errors import DjtuiError
from djtui.training import context_model, context_worker
from djtui.training.context_worker import Built, Busy, Failed, Hello, Kept, News, Spoken
from djtui.training.progress import Started, Stepped

log = logging.getLogger(__name__)

STOP_S = 2.0
"""How long quitting waits for the build process, all in all."""
ASK_S = 1.0
"""How long it has to stop by itself (between two takes, or at a step's end) before SIGTERM."""
TERM_S = 1.7
"""When SIGKILL follows, if SIGTERM has not ended it."""
HAND_BUILD = "djtui train --context-model"


class ContextModelReady(Message):
    """The context model was built (``path``), or the build failed (``error``)."""

    def __init__(self, path: Any = None, error: Any = None) -> None:
        super().__init__()
        self.path = path
        self.error = error


class ContextModelBuild:
    """At most one background build of the context model for the app."""

    recipe: dict[str, Any] = {}
    """Overrides of :func:`djtui.training.context_model.build`'s recipe (``per_intent``,
    ``epochs``, ``batch_size``, ``max_steps``, ``resume_every_s``); empty: the measured one."""

    def __init__(self, app: App[Any]) -> None:
        self.app = app
        self.name = ""
        self.where = ""
        """Where the build is, for :attr:`status` ("" before anything happened)."""
        self.context: Context | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None
        self._paused_at: float | None = None
        self._stopping = False
        self._last: News | None = None
        self._trained: int | None = None
        """Per cent of the training steps done, once training has started."""
        self._lock = threading.Lock()

    @property
    def status(self) -> str:
        """Where the build is, in one line for the UI ("" before anything happened)."""
        if not self.where:
            return ""
        paused = "paused while you play · " if self.paused else ""
        return f"context model ({self.name}): {paused}{self.where}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def paused(self) -> bool:
        return self._paused_at is not None and self.running

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self, context: Context) -> bool:
        """Build the model of ``context`` unless it is built (or its builds died too
        often); True when a build started."""
        self.context, self.name = context, context.name
        if (built := context_model.ready(context)) is not None:
            self.where = f"ready · {built}"
            return False
        if self.running:
            return False
        died = context_model.failures(context)
        if len(died) >= context_model.MAX_FAILURES:
            self.where = (f"not built: its build died {len(died)} times (last: {died[-1]}) · build it by hand: "
                          f"{HAND_BUILD}")
            return False
        if context.source is None:
            return False  # a context that is no file cannot be handed to the child
        try:
            self._process = self._spawn(context)
        except OSError as exc:
            self.where = "failed to start"
            self.app.post_message(ContextModelReady(error=DjtuiError(
                f"the context model's build could not start: {exc.strerror or exc}", f"build it by hand: {HAND_BUILD}")))
            return False
        self._stopping, self._last, self._paused_at, self._trained = False, None, None, None
        self.where = "starting in the background…"
        self._reader = threading.Thread(target=self._read, args=(self._process,), name="context-model-news", daemon=True)
        self._reader.start()
        return True

    def off(self, context: Context) -> None:
        """The background build is turned off: say whether there is a model, and how to
        build one by hand."""
        self.context, self.name = context, context.name
        built = context_model.ready(context)
        self.where = f"ready · {built}" if built else f"off ([training] context_model) · build it by hand: {HAND_BUILD}"

    def hold(self, playing: bool) -> None:
        """Pause the build while the DJ plays (``playing``), resume it when they stop."""
        import psutil

        with self._lock:
            process = self._process
            if process is None or process.poll() is not None:
                self._paused_at = None
                return
            try:
                if playing and self._paused_at is None:
                    for part in _process_tree(process.pid):
                        part.suspend()
                    self._paused_at = time.monotonic()
                elif not playing and self._paused_at is not None:
                    for part in reversed(_process_tree(process.pid)):
                        part.resume()
                    paused_s, self._paused_at = time.monotonic() - self._paused_at, None
                    self._tell({"v": context_worker.VERSION, "type": "Resumed", "paused_s": paused_s})
            except psutil.Error:  # it ended meanwhile: the reader reports it
                pass

    def stop(self) -> None:
        """Stop the build: ask it (end of its stdin), SIGTERM at :data:`ASK_S`, SIGKILL
        at :data:`TERM_S`; what it had done is kept for the next start. Waits at most
        :data:`STOP_S` in all, so quitting djtui never waits longer: a process still
        dying then (dying takes CPU, and it has the least) is reaped by the reader
        thread, or by the system once djtui is gone — never left a zombie."""
        process = self._process
        if process is None:
            return
        self._stopping = True
        began = time.monotonic()
        self.hold(False)  # a suspended process could neither hear nor stop
        if process.stdin is not None:
            try:
                process.stdin.close()  # the request: end of file
            except OSError:
                pass
        for ending, until in ((None, ASK_S), (process.terminate, TERM_S), (process.kill, STOP_S)):
            if ending is not None:
                try:
                    ending()
                except OSError:
                    pass
            try:
                process.wait(max(0.0, began + until - time.monotonic()))
                break
            except subprocess.TimeoutExpired:
                continue
        if self._reader is not None:
            self._reader.join(timeout=max(0.0, began + STOP_S - time.monotonic()))

    # --- the child -------------------------------------------------------------------

    def _spawn(self, context: Context) -> subprocess.Popen[bytes]:
        folder = context_model.building(context)
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / context_model.LOG, "ab") as stderr:  # the child keeps its own copy open
            return subprocess.Popen(
                context_worker.command(Path(context.source), self.recipe), stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=stderr, env=context_worker.environment(), **_apart())

    def _tell(self, message: dict[str, Any]) -> None:
        import json

        process = self._process
        if process is None or process.stdin is None or process.stdin.closed:
            return
        try:
            process.stdin.write((json.dumps(message) + "\n").encode())
            process.stdin.flush()
        except (OSError, ValueError):
            pass

    def _read(self, process: subprocess.Popen[bytes]) -> None:
        """The child's messages until it ends, then what its end means."""
        stdout: IO[bytes] = process.stdout  # type: ignore[assignment]
        for line in stdout:
            try:
                news = context_worker.decode(line)
            except ValueError as exc:
                log.warning("context model build: %s: %r", exc, line[:200])
                continue
            self._last = news
            self._show(news)
        code = process.wait()
        self._ended(code)

    def _show(self, news: News) -> None:
        match news:
            case Hello():
                self.where = "starting…"
            case Spoken(done=done, total=total):
                self.where = f"speaking synthetic takes {done}/{total}"
            case Started(step=step, total_steps=total) if step and total:
                self._trained = 100 * step // total
                self.where = f"training {self._trained} % (resumed)"
            case Stepped(step=step, total_steps=total, eta_s=eta_s) if total:
                self._trained = 100 * step // total
                eta = f" · ETA {int(eta_s) // 60}:{int(eta_s) % 60:02d}"
                self.where = f"training {self._trained} %{eta}"
            case Built(path=path):
                self.where = f"ready · {path}"

    def _ended(self, code: int) -> None:
        last, context = self._last, self.context
        match last:
            case Built(path=path):
                self.app.post_message(ContextModelReady(path=path))
                return
            case Busy():
                self.where = "being built by another djtui process"
                return
            case Kept():
                self.where = f"stopped at {self._percent()}; it goes on the next time djtui starts"
                return
        if self._stopping and (os.name == "nt" or code in (0, -signal.SIGTERM, -signal.SIGKILL)):
            self.where = f"stopped at {self._percent()}; it goes on the next time djtui starts"
            return
        why = last.message if isinstance(last, Failed) else _death(code, context)
        tries = context_model.record_failure(context, why) if context is not None else 0
        again = (f"it tries again the next time djtui starts ({tries} of {context_model.MAX_FAILURES})"
                 if tries < context_model.MAX_FAILURES else f"it will not start again by itself: {HAND_BUILD}")
        self.where = f"failed: {why} · {again}"
        self.app.post_message(ContextModelReady(error=DjtuiError(
            f"building the context model failed: {why}", f"djtui goes on with the bundled model; {again}")))

    def _percent(self) -> str:
        """Where the build got to, in words."""
        if self._trained is not None:
            return f"{self._trained} %"
        return "the speaking" if isinstance(self._last, Spoken) else "the start"


def _apart() -> dict[str, Any]:
    """Popen options that keep the child out of the terminal's reach: Ctrl-C and Ctrl-Z
    are djtui's. On POSIX its own process group in djtui's session, so if djtui dies
    while the child is suspended the kernel wakes it with SIGHUP, which ends it."""
    if os.name == "nt":
        return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP | subprocess.CREATE_NO_WINDOW}
    return {"process_group": 0}


def _process_tree(pid: int) -> list[Any]:
    """The child and its own children (espeak-ng while it speaks), parents first."""
    import psutil

    parent = psutil.Process(pid)
    return [parent, *parent.children(recursive=True)]


def _death(code: int, context: Context | None) -> str:
    """How the child ended without a word, with the last line it wrote to its log."""
    if code < 0:
        try:
            what = signal.Signals(-code).name
        except ValueError:
            what = f"signal {-code}"
        why = f"the build process was killed by {what}"
    else:
        why = f"the build process exited with code {code}"
    if context is not None:
        try:
            lines = (context_model.building(context) / context_model.LOG).read_text(errors="replace").splitlines()
            if lines and lines[-1].strip():
                why += f" ({lines[-1].strip()[:160]})"
        except OSError:
            pass
    return why
