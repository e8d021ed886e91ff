"""The context model: the bundled Whisper tiny.en taught the active context's words by
synthetic voices and music, built on this machine, offline.

Nobody records anything: :func:`build` speaks :data:`PER_INTENT` sentences of every
command with the training split of the TTS voices (:func:`djtui.training.synth.split_voices`),
then fine-tunes it (:mod:`djtui.training.whisper`'s defaults) for :data:`EPOCHS` epochs
with music mixed in (and music alone, labelled as the stock model hears it) from the
first of :data:`MUSIC_DIRS` that is installed. On voices it never heard, over music, it understands far more commands
than the stock model (README, "Train a model on your voice").

It lives in ``paths.context_model_dir(context)``: one folder per context text, so editing
the context means building again. The folder appears whole — training writes beside it
and it is renamed into place — and ``load_engine`` (engine ``auto``, no model set) uses
it from then on. The synthetic takes are kept in the cache (rebuildable; a stopped build
resumes speaking where it was).
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

from djtui.core import paths
from djtui.core.asr import is_whisper_folder
from djtui.core.context import Context
from djtui.training.finetune import TrainConfig, TrainResult, train
from djtui.training.progress import TrainEvent

PER_INTENT = 20
EPOCHS = 3
SEED = 0
MUSIC_DIRS = (Path("/usr/share/games/fretsonfire/data/songs"),)
"""Music to mix in when nothing else is given: Debian's fretsonfire songs (bootstrap.sh
installs them)."""


def folder(context: Context) -> Path:
    return paths.context_model_dir(context.name, context.text)


def ready(context: Context) -> Path | None:
    """The built context model of ``context``, or None."""
    built = folder(context)
    return built if is_whisper_folder(built) else None


def default_music() -> Path | None:
    return next((d for d in MUSIC_DIRS if d.is_dir()), None)


def build(context: Context, *, music: Path | None = None, per_intent: int = PER_INTENT, epochs: int = EPOCHS,
          on_event: Callable[[TrainEvent], None] | None = None, on_spoken: Callable[[int, int], None] | None = None,
          stop: threading.Event | None = None, threads: int = 0) -> TrainResult | None:
    """Speak the takes and train the context model of ``context`` into its folder.
    ``music`` defaults to :func:`default_music`. ``on_spoken(done, total)`` follows the
    speaking, ``on_event`` the training; ``threads`` > 0 limits the CPU threads it takes.
    Returns None when the model was already built; a stopped build leaves no model."""
    from djtui.training.synth import default_voices, split_voices, synthesize

    target = folder(context)
    if ready(context):
        return None
    work = paths.cache_dir() / "context-model" / target.name
    voices, _ = split_voices(default_voices(), seed=0)  # the held-out voices stay unheard
    manifest = synthesize(context, work / "takes", per_intent=per_intent, voices=voices, seed=SEED,
                          on_progress=(lambda p: on_spoken(p.done, p.total)) if on_spoken else None)
    staging = target.with_name(target.name + ".building")
    shutil.rmtree(staging, ignore_errors=True)
    result = train(TrainConfig(data=manifest, output=staging, epochs=epochs, noise_dir=music or default_music(),
                               context=context.source, seed=SEED, threads=threads), on_event=on_event, stop=stop)
    if result.stopped not in ("epochs", "early stopping"):
        shutil.rmtree(staging, ignore_errors=True)
        return result
    shutil.rmtree(target, ignore_errors=True)  # a folder without a model in it
    os.replace(staging, target)
    result.output = target
    return result
