"""The resume state of a training run: all it needs to go on where it stopped.

A resumable run (:attr:`djtui.training.finetune.TrainConfig.resume_state`) writes its
state to one file, atomically (a crash mid-write leaves the previous state), at the end
of every epoch and every :data:`EVERY_S` seconds of training between, always at an
optimizer step's end; a run stopped by a request, Ctrl-C, SIGTERM or ``max_minutes``
writes it as it stops. It holds:

- ``plan``: what the run is (the takes and the recipe); a state of another plan is not
  resumed, the run starts over;
- ``position``: the epoch, its order of takes, the next batch in it, the step;
- ``weights``: the learning parameters' values, in the trainee's order (the frozen ones
  come from the base, as at the start), and the optimizer's and the schedule's state;
- ``random``: Python's, NumPy's and torch's generators, the shuffling generator,
  augmentation's and music alone's, as they were at that step's end;
- ``scores``: the model before training (and the stock model's), every epoch's
  validation, the losses, and the best validation so far (its weights are the model in
  the output folder, saved when that epoch was validated).

Only tensors and plain values are stored, so it loads with ``weights_only``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from djtui.core import fileio
from djtui.training.manifest import Take

RESUME = "resume.pt"
VERSION = 1
EVERY_S = 120.0
"""Seconds of training between two states written mid-epoch: a run killed without
warning loses at most this much (the state is a few hundred MB for Whisper tiny.en)."""


def plan_of(takes: Sequence[Take], recipe: dict[str, Any]) -> str:
    """A fingerprint of the run: its takes (what they say, not when they were written)
    and the recipe's settings."""
    lines = sorted(json.dumps([t.path, t.text, t.intent, t.slots, t.speaker, t.take]) for t in takes)
    payload = json.dumps({"takes": lines, "recipe": recipe}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def save(path: str | os.PathLike[str], state: dict[str, Any]) -> Path:
    """Write ``state`` (see the module) atomically."""
    import torch

    return fileio.write_atomic(path, lambda f: torch.save({"version": VERSION, **state}, f))


def load(path: str | os.PathLike[str], plan: str) -> dict[str, Any] | None:
    """The state in ``path`` when it is one of ``plan``; None when there is none, it is
    another plan's, or it cannot be read (a run then starts over)."""
    import torch

    path = Path(path)
    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - a state that cannot be read is no state: start over
        return None
    if not isinstance(state, dict) or state.get("version") != VERSION or state.get("plan") != plan:
        return None
    return state
