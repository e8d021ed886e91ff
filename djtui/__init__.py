"""djtui: voice control for Rekordbox from the terminal.

From Python, as small as a speech-to-intent engine should be::

    import djtui

    listener = djtui.Listener(context=djtui.load_context("my_commands.yaml"), dry_run=True)
    for frame in djtui.read_frames("take.wav"):         # 512 samples, 16 kHz mono float32
        if (outcome := listener.process(frame)) is not None:
            print(outcome.transcript, outcome.command, outcome.verdict.reason)

:class:`Listener` takes a :class:`Config` (default: the defaults; :func:`load_config`
reads the user's file); ``dry_run=False`` opens the MIDI port and sends approved
commands. Each :class:`Outcome` has the transcript, the top five readings, the safety
verdict, the MIDI sent and per-stage timings. Errors a user can fix are
:class:`DjtuiError`. The names load on first use, so ``import djtui`` costs nothing.
"""

from __future__ import annotations
from djtui.core.context_file import default_context, load_context as load

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["Config", "DjtuiError", "Listener", "Outcome", "load_config", "load_context", "read_frames"]

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    import numpy as np

    from djtui.core.config import Config, load_config
    from djtui.core.context import Context
    from djtui.core.errors import DjtuiError
    from djtui.core.events import Outcome
    from djtui.core.listener import Listener

def __getattr__(name: str) -> Any:
    # The heavy names load on first use.
    if name in ("Config", "load_config"):
        from djtui.core import config

        return getattr(config, name)
    if name == "DjtuiError":
        from djtui.core.errors import DjtuiError

        return DjtuiError
    if name == "Outcome":
        from djtui.core.events import Outcome

        return Outcome
    if name == "Listener":
        from djtui.core.listener import Listener

        return Listener
    raise AttributeError(f"module 'djtui' has no attribute {name!r}")


def load_context(path: str | Path | None = None) -> Context:
    """A context file (YAML: what can be said and what it does); ``None`` is the bundled
    DJ context. A broken file is one :class:`DjtuiError` listing every problem as
    ``file:line: what``."""

    return default_context() if path is None else load(path)


def read_frames(path: str | Path) -> Iterator[np.ndarray]:
    """A WAV/FLAC/OGG file as the frames a microphone would give: 512-sample float32
    blocks at 16 kHz mono (resampled and mixed down as needed). A missing, unreadable or
    empty file is a :class:`DjtuiError` at once, before anything else loads."""
    from djtui.core.audio import FileSource

    return FileSource(path, realtime=False).blocks()
