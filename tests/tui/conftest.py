"""The TUI under test: a host with fixed devices (deterministic screens), a file as the
microphone, and the real core everywhere else."""

from __future__ import annotations

import asyncio
import inspect
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from djtui.core.config import Config
from djtui.core.errors import DjtuiError
from djtui.tui.app import DjtuiApp
from djtui.tui.host import Host

SNAPSHOT_HOME = Path("/tmp/djtui-tui-snapshots")
"""A fixed DJTUI_HOME for snapshots: paths shown on screen must be the same every run."""


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run ``async def`` tests (Textual's Pilot is async) on a fresh event loop."""
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    arguments = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    asyncio.run(pyfuncitem.obj(**arguments))
    return True


class FixedHost(Host):
    """The machine as tests want it: two inputs, one MIDI port, a wav file as the
    microphone, the pipeline in dry-run mode (no MIDI port) with no session log, and no
    model built in the background."""

    background_builds = False

    def __init__(self, microphone_file: Path | None = None, engine: Any = None, decks_paused: bool = False,
                 realtime: bool = False) -> None:
        self.microphone_file = microphone_file
        self.realtime = realtime
        self.engine = engine
        self.decks_paused = decks_paused
        """Pretend Rekordbox reported every deck paused (else deck state is unknown)."""
        self.played: list[np.ndarray] = []
        self.events: list[Any] = []
        """Every event of the pipelines this host built, to compare with what the HUD shows."""

    def input_devices(self) -> list[str]:
        return ["Booth Mic", "USB Audio CODEC"]

    def midi_output_ports(self) -> list[str]:
        return ["loopMIDI Port"]

    def microphone(self, config: Config, on_status: Any = None) -> Any:
        if self.microphone_file is None:
            raise DjtuiError("audio input 'Booth Mic' not found", "plug the microphone in (test host)")
        return self.file_source(self.microphone_file, realtime=self.realtime)

    def pipeline(self, config: Config) -> Any:
        from djtui.core.pipeline import Pipeline

        pipeline = Pipeline(config, engine=self.engine, dry_run=True, session_log=False)
        pipeline.subscribe(self.events.append)
        if self.decks_paused:
            for channel in range(4):
                pipeline.deck_state.set("playing", channel, False, source="feedback")
        return pipeline

    def clock(self) -> str:
        return "21:30:00"

    def play(self, audio: Any, sample_rate: int = 16000) -> None:
        self.played.append(audio)


@pytest.fixture
def host() -> FixedHost:
    return FixedHost()


@pytest.fixture
def make_app(host: FixedHost):
    def _make(config: Config | None = None, **kwargs: Any) -> DjtuiApp:
        return DjtuiApp(config or Config(), host=kwargs.pop("host", host), **kwargs)

    return _make


@pytest.fixture
def wav_of(tmp_path: Path, speak):
    """``wav_of("play deck one")`` -> path of a 16 kHz wav of it, with silence after; ``None``
    gives a second of silence. Piper by default: Whisper tiny.en hears it best."""

    def _wav(text: str | None, name: str = "mic.wav", engine: str = "piper") -> Path:
        audio = speak(text, engine=engine) if text else np.zeros(16000, dtype=np.float32)
        path = tmp_path / name
        sf.write(path, np.concatenate([audio, np.zeros(8000, dtype=np.float32)]), 16000)
        return path

    return _wav


@pytest.fixture
def snapshot_home(monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.rmtree(SNAPSHOT_HOME, ignore_errors=True)
    monkeypatch.setenv("DJTUI_HOME", str(SNAPSHOT_HOME))
    yield SNAPSHOT_HOME
    shutil.rmtree(SNAPSHOT_HOME, ignore_errors=True)
