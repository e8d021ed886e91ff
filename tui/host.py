"""What this machine offers the TUI: audio inputs, MIDI ports, the context, the resolver,
the pipeline, recording sessions. The one place the TUI reaches into the core.

Screens ask the app's :class:`Host` instead of importing core modules themselves, so
tests can hand the app a host with fixed device lists (deterministic snapshots) while
everything else stays real. Stages are built by :mod:`djtui.core.stages`, as for every
other front end; heavy modules are imported when a method first needs them.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from djtui.core import paths
from djtui.core.config import Config
from djtui.core.context import Context
from djtui.core.errors import DjtuiError
from djtui.core.midi_ports import list_ports

log = logging.getLogger(__name__)


def user_error(exc: BaseException, doing: str) -> DjtuiError:
    """``exc`` as the one error type the TUI shows: a :class:`DjtuiError` stays as it is;
    anything else (a library's own exception) becomes one naming what failed, so the DJ
    sees a notification and the app keeps running, never a traceback."""
    if isinstance(exc, DjtuiError):
        return exc
    log.exception("%s failed", doing)
    return DjtuiError(f"{doing} failed: {exc}", "djtui keeps running; try again, or check the settings (s)")


def asr_summary(config: Config, context: Context | None = None) -> str:
    """The engine and model the live pipeline will use, in words, from the config and the
    files on disk alone (loading a model to find out would take seconds): the choice of
    :func:`djtui.core.asr.choose_engine`, or why there is none."""
    from djtui.core.asr import choose_engine

    try:
        choice = choose_engine(config.asr, context)
    except DjtuiError as exc:
        return f"not usable: {exc.message}"
    quantized = " · int8" if choice.engine == "wav2vec2" and config.asr.quantize else ""
    return choice.summary() + quantized + _uncalibrated(choice)


def _uncalibrated(choice: Any) -> str:
    """What the Home screen adds for a Whisper model without its own confidence calibration."""
    from djtui.core import calibration_file

    if choice.engine != "whisper":
        return ""
    try:
        calibrated = calibration_file.for_choice(choice.model).calibrated
    except DjtuiError as exc:
        return f" · calibration unreadable: {exc.message}"
    return "" if calibrated else " · no calibration: conservative confidence (djtui calibrate)"


def input_problem(devices: list[str] | DjtuiError, wanted: str | None) -> DjtuiError | None:
    """Why there is no microphone to record from, given the machine's inputs (or the
    error listing them) and the configured ``[audio] input_device``; ``None`` when the
    input is there (or ``wanted`` is empty and there is any)."""
    if isinstance(devices, DjtuiError):
        return DjtuiError(f"no microphone: {devices.message}", devices.hint)
    if not devices:
        return DjtuiError("no microphone: this machine has no audio input",
                          "plug one in (a USB headset will do), then press space again")
    if wanted and not any(wanted.lower() in d.lower() for d in devices):
        return DjtuiError(f"no microphone: the input {wanted!r} is not connected ({len(devices)} other inputs)",
                          "plug it in, or choose another input in Settings (s)")
    return None


class Host:
    """The real machine."""

    background_builds = True
    """Whether djtui may build models in the background (the context model on first run)."""

    def input_devices(self) -> list[str]:
        """Names of the sound inputs; raises :class:`DjtuiError` when PortAudio is missing."""
        from djtui.core.audio import list_input_devices

        return [str(d["name"]) for d in list_input_devices()]

    def midi_output_ports(self) -> list[str]:
        """Existing MIDI output ports (Windows/loopMIDI set-ups; elsewhere djtui opens its own)."""

        return list(list_ports().outputs)

    def context(self, config: Config) -> Context:
        from djtui.core.stages import context_for

        return context_for(config)

    def resolver(self, context: Context, config: Config) -> Any:
        """A :class:`djtui.core.resolve.Resolver` for ``context`` (slow: builds its index)."""
        from djtui.core.stages import resolver_for

        return resolver_for(context, config)

    def pipeline(self, config: Config) -> Any:
        """A stopped :class:`djtui.core.pipeline.Pipeline` (slow: loads the models)."""
        from djtui.core.pipeline import Pipeline

        return Pipeline(config)

    def microphone(self, config: Config, on_status: Any = None) -> Any:
        """The ``[audio]`` input, echo-cancelled when a reference is set
        (:func:`djtui.core.stages.microphone_for`)."""
        from djtui.core.stages import microphone_for

        return microphone_for(config, on_status=on_status)

    def file_source(self, path: str | Path, realtime: bool = True) -> Any:
        from djtui.core.audio import FileSource

        return FileSource(path, realtime=realtime)

    def recording_session(self, out_dir: Path, context: Context, speaker: str, **script: Any) -> Any:
        """A :class:`djtui.training.recording.RecordingSession`; ``script`` sets its
        ``takes``, ``phrasings``…"""
        from djtui.training.recording import RecordingSession

        return RecordingSession(out_dir, context, speaker, **script)

    def clock(self) -> str:
        """Wall-clock time for logs on screen (tests fix it)."""
        import time

        return time.strftime("%H:%M:%S")

    def recordings_dir(self) -> Path:
        return paths.data_dir() / "training_data"

    def level(self, block: Any) -> tuple[float, float]:
        """(rms, peak) dBFS of an audio block."""
        from djtui.core.audio import level

        measured = level(block)
        return measured.rms_dbfs, measured.peak_dbfs

    def play(self, audio: Any, sample_rate: int = 16000) -> None:
        """Play a take back on the default output (blocking; call from a worker)."""
        from djtui.core.audio import play

        play(audio, sample_rate)
