"""The app as a DJ meets it: opens on Home, every screen by one key, arming, panic, themes,
and problems shown as notifications rather than tracebacks."""

from __future__ import annotations

import argparse

import pytest
from textual.widgets import Input, Static

from djtui.core import paths
from djtui.core.config import Config
from djtui.core.errors import DjtuiError
from djtui.tui.app import DjtuiApp, run_app
from djtui.tui.host import Host
from djtui.tui.keys import SCREENS
from djtui.tui.screens.home import HomeScreen
from djtui.tui.widgets.armed_banner import ArmedBanner
from tests.tui.helpers import text_of


async def test_opens_on_home_on_a_fresh_machine(make_app) -> None:
    assert not paths.config_file().exists()
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)
        status = text_of(app.screen.query_one("#status", Static))
        assert "Booth Mic" not in status and "system default · ok (2 inputs)" in status
        assert "whisper · tiny.en (bundled)" in status
        assert "defaults (no config file yet)" in status
        assert "dj · " in status and "commands" in status
        assert "DISARMED" in text_of(app.screen.query_one(ArmedBanner))


async def test_every_screen_is_one_key_away_and_back(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        for mode, (key, _) in SCREENS.items():
            await pilot.press(key)
            await pilot.pause()
            assert app.current_mode == mode, f"key {key!r} should open {mode}"
            assert app.screen.TITLE == mode
        await pilot.press("h")
        assert app.current_mode == "home"


async def test_the_palette_lists_every_screen_and_the_safety_keys(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)):
        titles = [command.title for command in app.get_system_commands(app.screen)]
        for mode, (key, _) in SCREENS.items():
            assert f"{mode.capitalize()} screen  [{key}]" in titles
        assert any(t.startswith("Arm / disarm") for t in titles)
        assert any(t.startswith("PANIC") for t in titles)


async def test_the_palette_lists_the_showing_screens_keys_and_runs_them(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("r")
        await pilot.pause()
        commands = {c.title: c for c in app.get_system_commands(app.screen)}
        assert {"Record  [space]", "Play  [p]", "Redo  [d]", "Skip  [k]"} <= set(commands)
        await pilot.press("l")
        await pilot.pause()
        commands = {c.title: c for c in app.get_system_commands(app.screen)}
        await commands["Clear  [^l]"].callback()
        assert not app.screen.query_one("#sent-log").lines


async def test_one_key_arms_and_disarms_and_every_screen_shows_it(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("a")
        assert app.armed
        assert "ARMED" in text_of(app.screen.query_one(ArmedBanner))
        assert app.screen.query_one(ArmedBanner).has_class("-armed")
        await pilot.press("l")
        await pilot.pause()
        banner = app.screen.query_one(ArmedBanner)
        assert banner.has_class("-armed") and "ARMED — spoken commands go to Rekordbox" in text_of(banner)
        await pilot.press("a")
        assert not app.armed and not banner.has_class("-armed")


async def test_panic_disarms_even_while_typing_in_a_field(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("a")
        await pilot.press("c", "slash")
        assert isinstance(app.focused, Input)
        await pilot.press("f12")
        assert not app.armed
        await pilot.press("escape", "a")
        assert app.armed
        await pilot.press("x")
        assert not app.armed
        assert any("PANIC" in n.message for n in app._notifications)


async def test_armed_at_start_comes_from_the_config(make_app) -> None:
    config = Config()
    config.safety.armed_at_start = True
    app = make_app(config)
    async with app.run_test(size=(80, 24)):
        assert app.armed


async def test_a_broken_config_file_opens_with_defaults_and_says_why(make_app, monkeypatch) -> None:
    paths.config_file().parent.mkdir(parents=True, exist_ok=True)
    paths.config_file().write_text("[audio\nbroken", encoding="utf-8")
    seen: dict[str, DjtuiApp] = {}

    def fake_run(self: DjtuiApp) -> None:
        seen["app"] = self

    monkeypatch.setattr(DjtuiApp, "run", fake_run)
    monkeypatch.setattr(Host, "background_builds", False)  # no context model built under the test
    assert run_app(argparse.Namespace(theme=None, config=None)) == 0
    app = seen["app"]
    assert app.config == Config()
    assert "not valid TOML" in app._startup_error.message
    async with app.run_test(size=(80, 24)):
        [note] = list(app._notifications)
        assert "not valid TOML" in note.message and note.severity == "error"


def test_an_unknown_theme_flag_is_one_clear_error() -> None:
    with pytest.raises(DjtuiError, match="unknown theme 'neon'") as caught:
        run_app(argparse.Namespace(theme="neon", config=None))
    assert "booth, mono, stage" in caught.value.hint


@pytest.mark.parametrize("name", ["booth", "stage", "mono"])
async def test_each_theme_applies(make_app, name: str) -> None:
    app = make_app(theme=name)
    async with app.run_test(size=(80, 24)):
        assert app.theme == name
        assert app.current_theme.variables["armed-background"]


async def test_the_theme_flag_beats_the_config(make_app) -> None:
    config = Config()
    config.ui.theme = "mono"
    app = make_app(config)
    async with app.run_test():
        assert app.theme == "mono"
    app = make_app(config, theme="stage")
    async with app.run_test():
        assert app.theme == "stage"


async def test_a_theme_file_of_ones_own(make_app, tmp_path) -> None:
    path = tmp_path / "club.toml"
    path.write_text('primary = "#ff00ff"\n', encoding="utf-8")
    app = make_app(theme=str(path))
    async with app.run_test():
        assert app.theme == "club"


async def test_an_unknown_theme_in_the_config_falls_back_with_a_warning(make_app) -> None:
    config = Config()
    config.ui.theme = "neon"
    app = make_app(config)
    async with app.run_test():
        assert app.theme == "booth"
        [note] = list(app._notifications)
        assert "unknown theme 'neon'" in note.message


async def test_a_fresh_start_without_config_says_defaults_and_nothing_else(monkeypatch) -> None:
    assert not paths.config_file().exists()
    seen: dict[str, DjtuiApp] = {}
    monkeypatch.setattr(DjtuiApp, "run", lambda self: seen.setdefault("app", self))
    monkeypatch.setattr(Host, "background_builds", False)
    assert run_app(argparse.Namespace(theme=None, config=None)) == 0
    app = seen["app"]
    assert app._startup_error is None
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert not [n for n in app._notifications if n.severity == "error"]
        assert "defaults (no config file yet)" in text_of(app.screen.query_one("#status", Static))


def test_a_config_file_named_with_the_flag_must_exist(tmp_path, monkeypatch) -> None:
    seen: dict[str, DjtuiApp] = {}
    monkeypatch.setattr(DjtuiApp, "run", lambda self: seen.setdefault("app", self))
    monkeypatch.setattr(Host, "background_builds", False)
    run_app(argparse.Namespace(theme=None, config=str(tmp_path / "nope.toml")))
    assert "no such config file" in seen["app"]._startup_error.message
