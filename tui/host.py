"""What this machine offers the TUI: audio inputs, MIDI ports, the context, the resolver,
the pipeline, recording sessions. The one place the TUI reaches into the core.

Screens ask the app's :class:`Host` instead of importing core modules themselves, so
tests can hand the app a host with fixed device lists (deterministic snapshots) while
everything else stays real. Parts of the core that are missing from this build raise a
:class:`DjtuiError` saying "not available", which the screens show as a notification.
"""

from __future__ import annotations

import importlib
import logging
from pathlib import Path
from types import ModuleType
from typing import Any

from djtui.core import paths
from djtui.core.config import Config
from djtui.core.context import Context
from djtui.core.errors import DjtuiError

log = logging.getLogger(__name__)


def user_error(exc: BaseException, doing: str) -> DjtuiError:
    """``exc`` as the one error type the TUI shows: a :class:`DjtuiError` stays as it is;
    anything else (a library's own exception) becomes one naming what failed, so the DJ
    sees a notification and the app keeps running, never a traceback."""
    if isinstance(exc, DjtuiError):
        return exc
    log.exception("%s failed", doing)
    return DjtuiError(f"{doing} failed: {exc}", "djtui keeps running; try again, or check the settings (s)")


def _core(module: str, what: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        if exc.name and module.endswith(exc.name.split(".")[-1]):
            raise DjtuiError(f"not available: {what}", f"this build of djtui has no {module}") from None
        raise DjtuiError(f"not available: {what} ({exc})", "install djtui with all its dependencies") from None


def _attr(module: str, name: str, what: str) -> Any:
    found = getattr(_core(module, what), name, None)
    if found is None:
        raise DjtuiError(f"not available: {what}", f"{module} has no {name} in this build")
    return found


def asr_summary(config: Config) -> str:
    """The engine and model the live pipeline will use, in words, from the config alone
    (loading a model to find out would take seconds)."""
    engine, model = config.asr.engine, config.asr.model
    if engine == "auto":
        engine = "wav2vec2" if model else "whisper"
    if engine == "whisper":
        return f"whisper · {model or 'tiny.en (bundled)'}"
    return f"wav2vec2 · {model or 'facebook/wav2vec2-base-960h'}" + (" · int8" if config.asr.quantize else "")


class Host:
    """The real machine."""

    background_builds = True
    """Whether djtui may build models in the background (the context model on first run)."""

    def input_devices(self) -> list[str]:
        """Names of the sound inputs; raises :class:`DjtuiError` when PortAudio is missing."""
        list_input_devices = _attr("djtui.core.audio", "list_input_devices", "audio input")
        return [str(d["name"]) for d in list_input_devices()]

    def midi_output_ports(self) -> list[str]:
        """Existing MIDI output ports (Windows/loopMIDI set-ups; elsewhere djtui opens its own)."""
        return list(_attr("djtui.core.midi", "list_ports", "MIDI")().outputs)

    def context(self, config: Config) -> Context:
        from djtui.core.context import default_context, load_context

        return load_context(config.resolver.context) if config.resolver.context else default_context()

    def resolver(self, context: Context, config: Config) -> Any:
        """A :class:`djtui.core.resolve.Resolver` for ``context`` (slow: builds its index)."""
        resolver_class = _attr("djtui.core.resolve", "Resolver", "the command resolver")
        return resolver_class(context, config.resolver.embedding_model, config.resolver.semantic_weight)

    def pipeline(self, config: Config) -> Any:
        """A stopped :class:`djtui.core.pipeline.Pipeline` (slow: loads the models)."""
        pipeline_class = _attr("djtui.core.pipeline", "Pipeline", "the live pipeline")
        return pipeline_class(config)

    def microphone(self, config: Config, on_status: Any = None) -> Any:
        source = _attr("djtui.core.audio", "MicrophoneSource", "audio input")
        return source(config.audio.input_device, sample_rate=config.audio.sample_rate,
                      block_ms=config.audio.block_ms, on_status=on_status)

    def file_source(self, path: str | Path, realtime: bool = True) -> Any:
        source = _attr("djtui.core.audio", "FileSource", "audio files as input")
        return source(path, realtime=realtime)

    def recording_session(self, out_dir: Path, context: Context, speaker: str, **script: Any) -> Any:
        """A :class:`djtui.training.recording.RecordingSession`; ``script`` sets its
        ``takes``, ``phrasings``…"""
        session = _attr("djtui.training.recording", "RecordingSession", "recording sessions")
        return session(out_dir, context, speaker, **script)

    def clock(self) -> str:
        """Wall-clock time for logs on screen (tests fix it)."""
        import time

        return time.strftime("%H:%M:%S")

    def recordings_dir(self) -> Path:
        return paths.data_dir() / "training_data"

    def level(self, block: Any) -> tuple[float, float]:
        """(rms, peak) dBFS of an audio block."""
        level = _attr("djtui.core.audio", "level", "level meter")(block)
        return level.rms_dbfs, level.peak_dbfs

    def play(self, audio: Any, sample_rate: int = 16000) -> None:
        """Play a take back on the default output (blocking; call from a worker)."""
        sd = _core("sounddevice", "audio playback")
        try:
            sd.play(audio, sample_rate, blocking=True)
        except Exception as exc:  # noqa: BLE001 - PortAudio raises many kinds
            raise DjtuiError(f"cannot play back ({exc})", "check the audio output device") from None
