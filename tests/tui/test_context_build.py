"""The context model built in the background on first run, in a process of its own:
start-up does not wait, the Train screen and Home show the progress, the build pauses
while the DJ plays, a build that dies is reported and tried again up to a limit, the app
hears when it is ready, and the next live pipeline listens with it. Quitting the real
TUI in a terminal at every phase of the build exits 0 and the next start goes on."""

from __future__ import annotations

import fcntl
import os
import pty
import signal
import struct
import sys
import termios
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
import soundfile as sf
import torch
from textual.widgets import Input, Static

from djtui.core.config import Config
from djtui.training import context_model
from tests.tui.conftest import FixedHost
from tests.tui.helpers import text_of, until


class BuildingHost(FixedHost):
    background_builds = True


def tiny(music: Path, **changes) -> dict:
    """A recipe of seconds, not minutes: six takes, one a batch, a state after each step."""
    return {"music": str(music), "per_intent": 2, "epochs": 2, "batch_size": 1, "resume_every_s": 0, **changes}


def _config(small_context) -> Config:
    config = Config()
    config.resolver.context = str(small_context.source)
    return config


def _status(app) -> str:
    return text_of(app.screen.query_one("#status", Static))


@pytest.mark.slow
async def test_first_run_builds_the_context_model_in_the_background(make_app, small_context, tiny_music,
                                                                   own_cache) -> None:
    config = _config(small_context)
    app = make_app(config, host=BuildingHost())
    app.context_build.recipe = tiny(tiny_music, epochs=1)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause()
            assert app.context_build.running  # started, and the app is already answering keys
            assert any("building the context model" in n.message for n in app._notifications)
            await until(pilot, lambda: "context model (small)" in _status(app), 30, "the line on Home")
            await pilot.press("t")
            line = app.screen.query_one("#context-model", Static)
            await until(pilot, lambda: "context model (small)" in text_of(line), 30, "the progress line")
            await until(pilot, lambda: not app.context_build.running, 600, "the build")
            await pilot.pause()
            assert any("context model ready" in n.message for n in app._notifications)
            built = context_model.ready(small_context)
            assert built is not None
            await until(pilot, lambda: "ready" in text_of(line), 5, "the line saying so")
            pipeline = app.host.pipeline(app.config)
            try:
                assert "the context model for small" in pipeline.engine_description
            finally:
                pipeline.stop()
    finally:
        app.context_build.stop()

    app = make_app(config, host=BuildingHost())  # next run: nothing to build; a voice model starts from it
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("t")
        await pilot.pause()
        assert not app.context_build.running
        assert app.screen.query_one("#train-base", Input).value == str(built)


async def test_no_background_build_when_a_model_is_chosen(make_app, small_context, tmp_path) -> None:
    config = _config(small_context)
    config.asr.engine = "whisper"
    app = make_app(config, host=BuildingHost())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert not app.context_build.running and app.context_build.status == ""


async def test_turned_off_home_says_how_to_build_it_by_hand(make_app, small_context) -> None:
    config = _config(small_context).updated({"training": {"context_model": "off"}})
    app = make_app(config, host=BuildingHost())
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        assert not app.context_build.running
        await until(pilot, lambda: "build it by hand: djtui train --context-model" in _status(app), 5, "the hint")
        assert "off ([training] context_model)" in _status(app)


@pytest.fixture
def set_of_silence(tmp_path) -> Path:
    path = tmp_path / "set.wav"
    sf.write(path, np.zeros(16000 * 4, dtype=np.float32), 16000)
    return path


@pytest.mark.slow
async def test_the_build_pauses_while_you_play(make_app, small_context, tiny_music, set_of_silence,
                                              whisper_engine, own_cache) -> None:
    """Armed, or listening (from the moment it starts to), the build process is
    suspended: no CPU, no step; it goes on when the DJ stops."""
    host = BuildingHost(microphone_file=set_of_silence, engine=whisper_engine, realtime=True)
    app = make_app(_config(small_context), host=host)
    app.context_build.recipe = tiny(tiny_music, epochs=4)
    try:
        async with app.run_test(size=(120, 30)) as pilot:
            await until(pilot, lambda: "training" in app.context_build.status, 600, "training")
            child = psutil.Process(app.context_build.pid)

            await pilot.press("a")  # armed: the DJ plays
            await until(pilot, lambda: child.status() == psutil.STATUS_STOPPED, 5, "the pause")
            await until(pilot, lambda: "paused while you play" in _status(app), 5, "Home saying so")
            line, cpu = app.context_build.status, child.cpu_times()
            await pilot.pause(2.0)
            assert child.cpu_times() == cpu and app.context_build.status == line  # no CPU, no step
            await pilot.press("a")
            await until(pilot, lambda: child.status() != psutil.STATUS_STOPPED, 5, "going on")

            await pilot.press("l", "space")  # listening: paused before the models even load
            await until(pilot, lambda: child.status() == psutil.STATUS_STOPPED, 2, "the pause")
            await pilot.press("t")
            assert "paused while you play" in text_of(app.screen.query_one("#context-model", Static))
            await until(pilot, lambda: not app.session.running and not app.live_screen().starting, 120, "the set")
            await until(pilot, lambda: child.status() != psutil.STATUS_STOPPED, 5, "going on")
            moved = app.context_build.status
            await until(pilot, lambda: app.context_build.status != moved, 600, "the next step")
    finally:
        app.context_build.stop()


@pytest.mark.slow
async def test_a_build_that_dies_is_reported_and_tried_again_up_to_the_limit(make_app, small_context,
                                                                            tiny_music, own_cache) -> None:
    config = _config(small_context)
    for attempt in range(1, context_model.MAX_FAILURES + 1):
        app = make_app(config, host=BuildingHost())
        app.context_build.recipe = tiny(tiny_music)
        try:
            async with app.run_test(size=(120, 30)) as pilot:
                # the process said hello (it may be speaking takes already: the test polls)
                await until(pilot, lambda: app.context_build.where.startswith(("starting…", "speaking", "training")),
                            120, "the build process")
                os.kill(app.context_build.pid, signal.SIGKILL)  # as the OOM killer would
                await until(pilot, lambda: any("building the context model failed" in n.message
                                               for n in app._notifications), 30, "the notification")
                [note] = [n for n in app._notifications if "building the context model failed" in n.message]
                assert "killed by SIGKILL" in note.message and "djtui goes on with the bundled model" in note.message
                last = attempt == context_model.MAX_FAILURES
                assert ("will not start again by itself" if last else f"({attempt} of 3)") in note.message
                await pilot.press("t")  # the app goes on: other screens, other keys
                assert "failed" in text_of(app.screen.query_one("#context-model", Static))
        finally:
            app.context_build.stop()
        assert len(context_model.failures(small_context)) == attempt

    app = make_app(config, host=BuildingHost())
    async with app.run_test(size=(140, 30)) as pilot:
        await pilot.pause()
        assert not app.context_build.running
        await until(pilot, lambda: "its build died 3 times" in _status(app), 5, "Home saying why")
        assert "build it by hand: djtui train --context-model" in _status(app)


# --- the real TUI in a terminal ------------------------------------------------------

LAUNCH = """
import sys
from djtui.tui.context_build import ContextModelBuild
ContextModelBuild.recipe = {recipe!r}
from djtui.cli import main
sys.exit(main([]))
"""


class Terminal:
    """``djtui`` (the TUI) in a pseudo-terminal of 80×24, as a DJ starts it; the test
    stands in for the recipe alone."""

    def __init__(self, env: dict[str, str], recipe: dict) -> None:
        pid, fd = pty.fork()
        if pid == 0:  # the child: becomes djtui
            os.execve(sys.executable, [sys.executable, "-c", LAUNCH.format(recipe=recipe)], env)
        self.pid, self.fd = pid, fd
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        self.output = bytearray()
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:
                return
            if not chunk:
                return
            self.output += chunk

    def builder(self, timeout: float = 120.0) -> psutil.Process:
        """The build process djtui started."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for child in psutil.Process(self.pid).children():
                if "context_worker" in " ".join(child.cmdline()):
                    return child
            time.sleep(0.05)
        raise AssertionError(f"no build process; the screen: {self.output[-400:]!r}")

    def quit(self, timeout: float = 30.0) -> tuple[int, float]:
        """Press q: djtui's exit code, and how long its build process outlived the key."""
        builder = self.builder()
        pressed = time.monotonic()
        os.write(self.fd, b"q")
        gone = None
        deadline = pressed + timeout
        while time.monotonic() < deadline:
            if gone is None and (not builder.is_running() or builder.status() == psutil.STATUS_ZOMBIE):
                gone = time.monotonic() - pressed
            done, status = os.waitpid(self.pid, os.WNOHANG)
            if done:
                os.close(self.fd)
                if gone is None:
                    gone = time.monotonic() - pressed if not psutil.pid_exists(builder.pid) else float("inf")
                return os.waitstatus_to_exitcode(status), gone
            time.sleep(0.02)
        os.kill(self.pid, signal.SIGKILL)
        raise AssertionError(f"djtui did not exit; the screen: {self.output[-400:]!r}")


def _until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def _started_at(log: Path, offset: int, timeout: float = 300.0) -> int:
    """The step the build started from, as its log says (what it wrote after ``offset``)."""
    import json

    def found() -> int | None:
        for line in log.read_bytes()[offset:].decode(errors="replace").splitlines():
            if '"type": "Started"' in line:
                return json.loads(line.split(" ", 2)[2])["step"]
        return None

    _until(lambda: found() is not None, timeout, "the build's start")
    return found()


@pytest.mark.slow
def test_quitting_the_tui_at_every_phase_of_the_build_exits_0_and_the_next_start_goes_on(small_context, tiny_music,
                                                                                         tmp_path, monkeypatch):
    home = tmp_path / "home"
    (home / "config").mkdir(parents=True)
    (home / "config" / "config.toml").write_text(f'[resolver]\ncontext = "{small_context.source}"\n')
    env = {**os.environ, "DJTUI_HOME": str(home), "DJTUI_CACHE_DIR": str(tmp_path / "cache"),
           "TERM": "xterm-256color"}
    recipe = tiny(tiny_music, per_intent=4, epochs=3)  # twelve takes: speaking lasts long enough to quit in it
    monkeypatch.setenv("DJTUI_HOME", str(home))  # where this test looks for what the build left
    takes = tmp_path / "cache" / "context-model" / context_model.folder(small_context).name / "takes" / "manifest.jsonl"
    building = context_model.building(small_context)
    state, log = building / "resume.pt", building / context_model.LOG

    def spoken() -> int:
        return len(takes.read_text().splitlines()) if takes.is_file() else 0

    def saving() -> bool:
        return any(building.glob(".resume.pt.*.tmp")) or any(building.glob(".model.whisper-*")) \
            or (building / "model" / ".candidate").exists()

    tui = Terminal(env, recipe)  # speaking the takes
    _until(lambda: spoken() >= 1, 300, "the first take")
    assert spoken() < 12
    code, outlived = tui.quit()
    assert code == 0 and outlived <= 2.5, (code, outlived)
    print(f"quit while speaking: exit {code}, the build gone {outlived:.2f} s after q")

    tui = Terminal(env, recipe)  # training
    offset = log.stat().st_size
    _until(state.is_file, 600, "the first training state")
    assert spoken() == 12
    assert _started_at(log, offset) == 0
    code, outlived = tui.quit()
    assert code == 0 and outlived <= 2.5, (code, outlived)
    print(f"quit while training: exit {code}, the build gone {outlived:.2f} s after q")
    at = torch.load(state, weights_only=True)["position"]["step"]
    assert at >= 1

    tui = Terminal(env, recipe)  # saving: a state, a candidate or a checkpoint being written
    offset = log.stat().st_size
    assert _started_at(log, offset) == at  # the next start goes on from the state, not from 0
    _until(saving, 600, "a save")
    code, outlived = tui.quit()
    assert code == 0 and outlived <= 2.5, (code, outlived)
    print(f"quit while saving: exit {code}, the build gone {outlived:.2f} s after q")

    tui = Terminal(env, recipe)
    offset = log.stat().st_size
    assert _started_at(log, offset) >= at
    code, _ = tui.quit()
    assert code == 0


async def test_a_damaged_context_model_is_named_and_built_again(make_app, small_context, tiny_music,
                                                               own_cache) -> None:
    import shutil

    from djtui.core.asr import bundled_whisper_path
    from djtui.core.seal import write_seal

    built = context_model.folder(small_context)
    built.mkdir(parents=True)
    shutil.copy(bundled_whisper_path() / "model.bin", built / "model.bin")
    write_seal(built)
    with open(built / "model.bin", "r+b") as f:
        f.truncate(4096)
    app = make_app(_config(small_context), host=BuildingHost())
    app.context_build.recipe = tiny(tiny_music)
    try:
        async with app.run_test(size=(120, 30)) as pilot:
            await pilot.pause()
            assert app.context_build.running  # built again
            [note] = [n for n in app._notifications if "building the context model" in n.message]
            assert "the context model is damaged (model.bin is 4,096 bytes" in note.message
            assert "tiny.en (bundled)" in _status(app)  # the bundled model listens meanwhile
    finally:
        app.context_build.stop()
