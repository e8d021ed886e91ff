"""The context model, built in the background on first run.

The bundled Whisper taught the active context's words by synthetic voices
(:mod:`djtui.training.context_model`) understands far more commands over music than the
stock model, but takes minutes of CPU to build. :class:`ContextModelBuild` builds it in a
thread when djtui opens and there is none for the context yet: start-up never waits, it
uses one CPU thread (the live pipeline keeps the others), ``status`` says where it is
(the Train screen shows it), and the app hears :class:`ContextModelReady` when it is
done. From then on the live pipeline's engine ``auto`` uses it each time it starts; a
set already running is never switched under the DJ's feet.
"""

from __future__ import annotations

import threading
from typing import Any

from textual.app import App
from textual.message import Message

from djtui.training.progress import Stepped, TrainEvent


class ContextModelReady(Message):
    """The context model was built (``path``), or the build failed (``error``)."""

    def __init__(self, path: Any = None, error: Any = None) -> None:
        super().__init__()
        self.path = path
        self.error = error


class ContextModelBuild:
    """At most one background build of the context model for the app."""

    def __init__(self, app: App[Any]) -> None:
        self.app = app
        self.recipe: dict[str, Any] = {}
        """Overrides of :func:`djtui.training.context_model.build`'s recipe (``per_intent``,
        ``epochs``, ``music``); empty: the measured one."""
        self.status = ""
        """Where the build is, in one line for the UI ("" before anything happened)."""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, context: Any) -> bool:
        """Build the model of ``context`` unless it is built; True when a build started."""
        from djtui.training import context_model

        if (built := context_model.ready(context)) is not None:
            self.status = f"context model ({context.name}): ready · {built}"
            return False
        if self.running:
            return False
        self._stop.clear()
        self.status = f"context model ({context.name}): starting in the background…"
        self._thread = threading.Thread(target=self._build, args=(context,), name="context-model", daemon=True)
        self._thread.start()
        return True

    def stop(self) -> None:
        """Stop at the next training step; nothing half-built is left to be used."""
        self._stop.set()

    def _build(self, context: Any) -> None:
        from djtui.training import context_model
        from djtui.tui.host import user_error

        name = context.name

        def spoken(done: int, total: int) -> None:
            self.status = f"context model ({name}): speaking synthetic takes {done}/{total}"

        def trained(event: TrainEvent) -> None:
            match event:
                case Stepped(step=step, total_steps=total, eta_s=eta_s) if total:
                    eta = f" · ETA {int(eta_s) // 60}:{int(eta_s) % 60:02d}"
                    self.status = f"context model ({name}): training {100 * step // total} %{eta}"

        try:
            result = context_model.build(context, on_spoken=spoken, on_event=trained, stop=self._stop, threads=1,
                                         **self.recipe)
        except Exception as exc:  # noqa: BLE001 - a failed build is a notification, never a crash
            self.status = f"context model ({name}): failed"
            self.app.post_message(ContextModelReady(error=user_error(exc, "building the context model")))
            return
        path = context_model.ready(context)
        if path is None:
            self.status = f"context model ({name}): stopped ({result.stopped if result else 'unknown'})"
            return
        self.status = f"context model ({name}): ready · {path}"
        self.app.post_message(ContextModelReady(path=path))
