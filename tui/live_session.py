"""The running pipeline as the TUI sees it.

The pipeline calls its subscribers on its own threads; :class:`LiveSession` turns each
event into a :class:`PipelineEvent` message for the app with ``post_message`` (thread-safe,
never waits for the UI). Level events arrive ~30 times a second: only the latest is kept,
and the HUD reads it on its own refresh timer, so a busy screen can never hold up the
audio or the ASR. The echo canceller's before/after levels are kept the same way; its
reference status is kept (for Home) and posted.
"""

from __future__ import annotations

from typing import Any

from textual.app import App
from textual.message import Message

from djtui.core.errors import DjtuiError
from djtui.core.events import EchoLevels, Event, ReferenceStatus
from djtui.core.records import Level


def lost_words(what: str, n: int) -> str:
    """What was lost, in the DJ's units: ``"273 audio blocks (8.7 s of audio)"``,
    ``"1 utterance"`` (``what`` as in :class:`~djtui.core.events.Dropped`)."""
    if what == "audio":
        from djtui.core.audio import BLOCK, SAMPLE_RATE

        return f"{n} audio block{'s' if n != 1 else ''} ({n * BLOCK / SAMPLE_RATE:.1f} s of audio)"
    return f"{n} {what}{'s' if n != 1 else ''}"


class PipelineEvent(Message):
    """One event from the core pipeline (:mod:`djtui.core.events`)."""

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event


class LiveSession:
    """Owns at most one pipeline; start it from a worker thread (loading models is slow)."""

    def __init__(self, app: App[Any]) -> None:
        self.app = app
        self.pipeline: Any = None
        self.level: tuple[float, float] | None = None
        """Latest (rms, peak) dBFS, written by the pipeline's thread, read by the HUD."""
        self.echo: EchoLevels | None = None
        """Latest microphone before and after the echo canceller (with a reference)."""
        self.reference: ReferenceStatus | None = None
        """What the echo canceller last said it does with the reference."""

    @property
    def running(self) -> bool:
        return self.pipeline is not None

    def start(self, pipeline: Any, source: Any, armed: bool) -> None:
        """Subscribe to ``pipeline`` and start it on ``source``; arm it if the UI is armed."""
        self.stop()
        pipeline.subscribe(self._on_event)
        try:
            (pipeline.arm if armed else pipeline.disarm)()
            pipeline.start(source)
        except BaseException:
            pipeline.stop()  # closes the MIDI port it opened
            raise
        self.pipeline = pipeline

    def stop(self) -> None:
        pipeline, self.pipeline = self.pipeline, None
        self.level = None
        self.echo = self.reference = None
        if pipeline is not None:
            pipeline.stop()

    def arm(self, armed: bool) -> None:
        if self.pipeline is not None:
            (self.pipeline.arm if armed else self.pipeline.disarm)()

    def panic(self) -> None:
        if self.pipeline is not None:
            self.pipeline.panic()

    def set_listening(self, listening: bool) -> None:
        if self.pipeline is None:
            raise DjtuiError("not listening", "start the live pipeline first (Live screen, space)")
        self.pipeline.set_listening(listening)

    def _on_event(self, event: Event) -> None:
        if isinstance(event, Level):
            self.level = (event.rms_dbfs, event.peak_dbfs)
            return
        if isinstance(event, EchoLevels):  # as often as Level: kept, read on the HUD's timer
            self.echo = event
            return
        if isinstance(event, ReferenceStatus):
            self.reference = event
        self.app.post_message(PipelineEvent(event))

