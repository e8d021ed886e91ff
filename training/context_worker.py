"""The context model's build as a process of its own: ``python -m djtui.training.context_worker``.

The TUI builds the context model (:func:`djtui.training.context_model.build`) in this
child, never in its own process: a crash in torch then takes only the child, the
child's Python work never holds the interpreter the audio path runs in, and quitting
djtui never waits on, or tears down, a training thread (what made it segfault). The
child takes the least the machine has to give: the lowest CPU priority (nice 19 on
POSIX, with idle I/O priority on Linux; the idle priority class on Windows) and one
thread for torch and CTranslate2.

It talks to djtui in JSON lines, one message a line, each ``{"v": 1, "type": NAME,
...fields}`` (:data:`VERSION`; a reader refuses another version):

- out, on stdout: :class:`Hello` first; :class:`Spoken` while it speaks the takes; every
  training event (:data:`djtui.training.progress.TrainEvent`, by its class name and
  fields); then one of :class:`Built`, :class:`Kept` (it stopped and keeps where it was,
  to go on next time), :class:`Busy` (another process is building) or :class:`Failed`,
  and it exits (0, or 1 after :class:`Failed`).
- in, on stdin: ``{"v": 1, "type": "Resumed", "paused_s": S}`` after djtui paused it
  (its clock leaves those seconds out: ETA and ``max_minutes`` count training time), and
  end of file, which asks it to stop: between two takes, or at the end of the training
  step, keeping its state (:mod:`djtui.training.checkpoint`).

Pausing is not a message: djtui suspends the whole process (SIGSTOP on POSIX, thread
suspension on Windows, both through psutil) and resumes it, so a paused build takes no
CPU at all from the moment djtui starts listening, even in the middle of a step.
Anything else the libraries print goes to stderr (djtui keeps it in the build's
``worker.log``), never into the messages.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import sys
import threading
import time
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from djtui.training.progress import (Calibrating, Checkpointed, Done, Evaluated, Started, Stepped, Stopped,
                                     TrainEvent)

VERSION = 1
MODULE = "djtui.training.context_worker"


@dataclass(frozen=True)
class Hello:
    """The build started: its process and the context it builds for."""

    pid: int
    context: str


@dataclass(frozen=True)
class Spoken:
    """``done`` of ``total`` synthetic takes are spoken (kept in the cache)."""

    done: int
    total: int


@dataclass(frozen=True)
class Built:
    """The context model is in its place (``path``): engine auto listens with it."""

    path: Path


@dataclass(frozen=True)
class Kept:
    """The build stopped before its end (``why``: "interrupted", "max minutes") at
    ``step``; the next build goes on from there."""

    why: str
    step: int


@dataclass(frozen=True)
class Busy:
    """Another process is building this context model."""

    message: str


@dataclass(frozen=True)
class Failed:
    """The build failed: what, and what to do."""

    message: str
    hint: str


News = Hello | Spoken | Built | Kept | Busy | Failed | TrainEvent
"""Everything the build process says."""
_KINDS: dict[str, type] = {cls.__name__: cls for cls in (Hello, Spoken, Built, Kept, Busy, Failed, Started, Stepped,
                                                          Evaluated, Checkpointed, Calibrating, Stopped, Done)}


def encode(news: News) -> str:
    """One message as its line (no line break)."""
    fields = {k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(news).items()}
    return json.dumps({"v": VERSION, "type": type(news).__name__, **fields})


def decode(line: str | bytes) -> News:
    """The message a line holds; ``ValueError`` for anything that is not one of ours
    (another version, an unknown type, missing or extra fields)."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not a message ({exc.msg})") from None
    if not isinstance(data, dict) or data.pop("v", None) != VERSION:
        raise ValueError(f"not a version {VERSION} message")
    kind = _KINDS.get(str(data.pop("type", "")))
    if kind is None:
        raise ValueError("unknown message type")
    hints = typing.get_type_hints(kind)
    try:
        return kind(**{k: Path(v) if hints.get(k) is Path and v is not None else v for k, v in data.items()})
    except TypeError as exc:
        raise ValueError(f"bad fields ({exc})") from None


def command(context_file: Path, recipe: dict[str, Any] | None = None) -> list[str]:
    """The command line of a build of the context in ``context_file``; ``recipe``
    overrides :func:`~djtui.training.context_model.build`'s (``music``, ``per_intent``,
    ``epochs``, ``batch_size``, ``max_steps``, ``max_minutes``, ``resume_every_s``)."""
    argv = [sys.executable, "-m", MODULE, f"--context={context_file}"]
    return argv + [f"--{k.replace('_', '-')}={v}" for k, v in (recipe or {}).items()]


def environment() -> dict[str, str]:
    """The child's environment: one thread for every numeric library, offline."""
    env = dict(os.environ)
    env.update({"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
                "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                "PYTHONUNBUFFERED": "1"})
    return env


def lower_priority() -> str:
    """Take the lowest CPU priority this OS offers (and idle I/O where there is one);
    what was set, in words."""
    import psutil

    if os.name == "nt":
        psutil.Process().nice(psutil.IDLE_PRIORITY_CLASS)
        return "idle priority class"
    done = f"nice {os.nice(19)}"  # relative, capped at 19: from a niced djtui too
    if hasattr(psutil, "IOPRIO_CLASS_IDLE"):
        try:
            psutil.Process().ionice(psutil.IOPRIO_CLASS_IDLE)
            done += ", idle I/O"
        except OSError:
            pass
    return done


class PausedClock:
    """``time.monotonic()`` less the seconds djtui kept the process suspended."""

    def __init__(self) -> None:
        self.paused_s = 0.0

    def __call__(self) -> float:
        return time.monotonic() - self.paused_s


def _listen(stdin: IO[bytes], stop: threading.Event, clock: PausedClock) -> None:
    """djtui's side: pauses to leave out of the clock, end of file to stop."""
    for line in stdin:
        try:
            data = json.loads(line)
            if data.get("v") == VERSION and data.get("type") == "Resumed":
                clock.paused_s += float(data["paused_s"])
        except (ValueError, TypeError, KeyError, AttributeError):
            continue
    stop.set()


def _messages() -> IO[str]:
    """The stream messages go out on: the real stdout. File descriptor 1 then points at
    stderr, so whatever a library prints can never break a line of ours."""
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1, encoding="utf-8")
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    return out


def run(args: argparse.Namespace, out: IO[str], stop: threading.Event, clock: PausedClock) -> int:
    """Build, saying what happens on ``out``; the exit code."""
    from djtui.core.context_file import load_context
    from djtui.core.errors import DjtuiError
    from djtui.training import context_model

    lock = threading.Lock()

    def say(news: News) -> None:
        with lock:
            out.write(encode(news) + "\n")
        if not isinstance(news, (Spoken, Stepped)):  # the log keeps the milestones
            print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {encode(news)}", file=sys.stderr, flush=True)

    try:
        context = load_context(args.context)
        say(Hello(os.getpid(), context.name))
        recipe = {k: v for k, v in vars(args).items() if k != "context" and v is not None}
        result = context_model.build(context, on_spoken=lambda done, total: say(Spoken(done, total)), on_event=say,
                                     stop=stop, threads=1, clock=clock, **recipe)
    except context_model.StoppedSpeaking:
        say(Kept("interrupted", 0))
        return 0
    except context_model.BuildBusy as exc:
        say(Busy(exc.message))
        return 0
    except DjtuiError as exc:
        say(Failed(exc.message, exc.hint or ""))
        return 1
    if result is not None and not result.finished:
        say(Kept(result.stopped, result.steps))
    else:
        say(Built(context_model.folder(context)))
    return 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=__doc__.split("\n\n")[0])
    parser.add_argument("--context", type=Path, required=True, help="the context file to build the model of")
    parser.add_argument("--music", type=Path, help="a folder of music to mix in (default: the installed songs)")
    parser.add_argument("--per-intent", type=int, help="synthetic takes of every command")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--max-steps", type=int)
    parser.add_argument("--max-minutes", type=float, help="of training, pauses left out")
    parser.add_argument("--resume-every-s", type=float, help="seconds of training between two resume states")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in djtui's terminal is for djtui: it closes our stdin
    print(f"context model build {os.getpid()}: {lower_priority()}", file=sys.stderr, flush=True)
    out = _messages()
    stop, clock = threading.Event(), PausedClock()
    threading.Thread(target=_listen, args=(sys.stdin.buffer, stop, clock), name="djtui-build-stdin", daemon=True).start()
    code = 1
    try:
        import torch

        torch.set_num_threads(1)
        torch.set_num_interop_threads(1)
        code = run(args, out, stop, clock)
    except BrokenPipeError:  # djtui went away: nobody to tell
        code = 0
    except Exception as exc:  # noqa: BLE001 - djtui reads this as a failed build and keeps running
        import traceback

        traceback.print_exc()
        try:
            out.write(encode(Failed(f"{type(exc).__name__}: {exc}", "see the build's worker.log")) + "\n")
        except OSError:
            pass
    try:
        out.flush()
    except OSError:
        pass
    sys.stderr.flush()
    # Never through Python's exit: tearing torch's and CTranslate2's threads down at
    # interpreter exit is what crashed djtui when the build lived in it.
    os._exit(code)


if __name__ == "__main__":
    main()
