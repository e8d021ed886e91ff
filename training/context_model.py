"""The context model: the bundled Whisper tiny.en taught the active context's words by
synthetic voices and music, built on this machine, offline.

Nobody records anything: :func:`build` speaks :data:`PER_INTENT` sentences of every
command (more for a context of few commands: :func:`sentences_per_intent`) with the training split of the TTS voices (:func:`djtui.training.synth.split_voices`),
then fine-tunes it (:mod:`djtui.training.whisper`'s defaults) for :data:`EPOCHS` epochs
with music mixed in (and music alone, labelled as the stock model hears it) from the
first of :data:`MUSIC_DIRS` that is installed. On voices it never heard, over music, it
understands far more commands than the stock model (README, "Train a model on your voice").

It lives in ``paths.context_model_dir(context)``: one folder per context text, so editing
the context means building again. The folder appears whole and sealed
(:mod:`djtui.core.seal`): everything is made in the build's own folder beside it,
``<model>.building/``, and renamed into place last; :func:`ready` (and engine ``auto``)
take only a folder whose files are what its build sealed, so a damaged one is built
again. The build's folder holds::

    model/         the model being trained: the best epoch so far, as a model folder
    resume.pt      where training is (djtui.training.checkpoint), to go on after a stop,
                   a crash or a reboot
    failures.json  the builds in the background that died, and why (at most
                   MAX_FAILURES are tried)
    worker.log     what the build process wrote to stderr (the TUI's builds)
    .lock          held by the one process building

The synthetic takes are kept in the cache as they are spoken (rebuildable; a stopped
build speaks on from where it was). Only one process builds a context's model at a time.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

from djtui.core import fileio, paths
from djtui.core.asr import built_context_model
from djtui.core.context import Context
from djtui.core.errors import DjtuiError
from djtui.core.seal import write_seal
from djtui.training import checkpoint, leftovers
from djtui.training.finetune import TrainConfig, TrainResult, train
from djtui.training.progress import TrainEvent

PER_INTENT = 20
MIN_TAKES = 1000
"""Takes a context model learns from at least. The DJ context's 55 commands at
:data:`PER_INTENT` are 1,100; a context of few commands gets more sentences of each, so
that its slot values are each heard a dozen times or so: coffee_maker (one command, 77
slot values in six slots) gets 1,000 rather than 20."""
EPOCHS = 3
SEED = 0
MUSIC_DIRS = (Path("/usr/share/games/fretsonfire/data/songs"),)
"""Music to mix in when nothing else is given: Debian's fretsonfire songs (bootstrap.sh
installs them)."""
MODEL, FAILURES, LOG, LOCK = "model", "failures.json", "worker.log", ".lock"
MAX_FAILURES = 3
"""Builds in the background that may die for one context text before djtui stops
starting them by itself (``djtui train --context-model`` still builds, and starts the
count again)."""


class StoppedSpeaking(Exception):
    """The build was asked to stop while it spoke its takes; those spoken are kept."""


class BuildBusy(DjtuiError):
    """Another process is building this context model."""


def folder(context: Context) -> Path:
    return paths.context_model_dir(context.name, context.text)


def building(context: Context) -> Path:
    """The build's own folder (see the module)."""
    target = folder(context)
    return target.with_name(target.name + ".building")


def ready(context: Context) -> Path | None:
    """The built context model of ``context``: whole, as its build sealed it; or None."""
    return built_context_model(context)


def default_music() -> Path | None:
    return next((d for d in MUSIC_DIRS if d.is_dir()), None)


def failures(context: Context) -> list[str]:
    """Why each build in the background that died since the last one that finished
    died, oldest first."""
    try:
        record = json.loads((building(context) / FAILURES).read_text(encoding="utf-8"))
        return [str(entry["why"]) for entry in record["failures"]]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def record_failure(context: Context, why: str) -> int:
    """Count one more build that died, and why; how many have now. A folder that cannot
    be written counts nothing (the next start tries again)."""
    entries = [{"why": w} for w in failures(context)]
    entries.append({"why": why, "at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")})
    try:
        fileio.write_text_atomic(building(context) / FAILURES, json.dumps({"failures": entries}, indent=2) + "\n")
    except OSError:
        return len(entries) - 1
    return len(entries)


def clear_failures(context: Context) -> None:
    try:
        (building(context) / FAILURES).unlink(missing_ok=True)
    except OSError:  # a read-only folder: the build that follows says so
        pass


def sentences_per_intent(context: Context) -> int:
    """How many sentences of each command the context model is taught with by default:
    :data:`PER_INTENT`, or as many as make :data:`MIN_TAKES` in all."""
    return max(PER_INTENT, -(-MIN_TAKES // max(1, len(context.intents))))


def build(context: Context, *, music: Path | None = None, per_intent: int | None = None, epochs: int = EPOCHS,
          batch_size: int | None = None, max_steps: int | None = None, max_minutes: float | None = None,
          resume_every_s: float = checkpoint.EVERY_S, on_event: Callable[[TrainEvent], None] | None = None,
          on_spoken: Callable[[int, int], None] | None = None, stop: threading.Event | None = None,
          threads: int = 0, clock: Callable[[], float] = time.monotonic) -> TrainResult | None:
    """Speak the takes and train the context model of ``context`` into its folder,
    going on from where an earlier build stopped. ``music`` defaults to
    :func:`default_music`, ``per_intent`` to :func:`sentences_per_intent`. ``on_spoken(done, total)`` follows the speaking, ``on_event``
    the training; ``threads`` > 0 limits the CPU threads it takes; ``max_minutes``
    bounds the training (on ``clock``). Returns None when the model was already built;
    a result with ``finished`` False when it stopped (``stop``, Ctrl-C, ``max_minutes``)
    with its state kept for the next build. Raises :class:`StoppedSpeaking` when
    stopped while speaking."""
    target = folder(context)
    if ready(context):
        return None
    staging = building(context)
    work = paths.cache_dir() / "context-model" / target.name
    fileio.check_writable(target.parent, f"building the context model in {target.parent}")
    fileio.check_writable(work, f"speaking the context model's takes into {work}")
    with fileio.exclusive(staging / LOCK) as mine:
        if not mine:
            raise BuildBusy(f"the context model for {context.name} is being built by another djtui process",
                            "let that one finish (or quit it); a build goes on from where another stopped")
        if ready(context):  # the other process finished it meanwhile
            return None
        leftovers.clear(staging)
        manifest = _speak(context, work, per_intent or sentences_per_intent(context), on_spoken, stop)
        result = train(TrainConfig(data=manifest, output=staging / MODEL, epochs=epochs, batch_size=batch_size,
                                   max_steps=max_steps, max_minutes=max_minutes, noise_dir=music or default_music(),
                                   context=context.source, seed=SEED, threads=threads,
                                   resume_state=staging / checkpoint.RESUME, resume_every_s=resume_every_s),
                       on_event=on_event, stop=stop, clock=clock)
        if not result.finished:
            return result
        _install(staging / MODEL, target)
    shutil.rmtree(staging, ignore_errors=True)
    result.output = target
    return result


def _speak(context: Context, work: Path, per_intent: int, on_spoken: Callable[[int, int], None] | None,
           stop: threading.Event | None) -> Path:
    """The takes, spoken into the cache (resuming), stopping between two when asked."""
    from djtui.training.synth import SynthProgress, default_voices, split_voices, synthesize

    def spoken(progress: SynthProgress) -> None:
        if on_spoken:
            on_spoken(progress.done, progress.total)
        if stop is not None and stop.is_set() and progress.done < progress.total:
            raise StoppedSpeaking(f"stopped after {progress.done} of {progress.total} takes")

    voices, _ = split_voices(default_voices(), seed=0)  # the held-out voices stay unheard
    return synthesize(context, work / "takes", per_intent=per_intent, voices=voices, seed=SEED, on_progress=spoken)


def _install(model: Path, target: Path) -> None:
    """Put the trained model in its place: sealed, then renamed over whatever was there
    (a damaged model)."""
    # Whatever else belongs in the model folder is written here, before the seal: the
    # seal lists every file the folder holds when it is written.
    write_seal(model)
    shutil.rmtree(target, ignore_errors=True)
    os.replace(model, target)
