"""The Settings screen: values saved to the user's config file, bad ones refused."""

from __future__ import annotations

from textual.widgets import Input, Select

from djtui.core import paths
from djtui.core.config import load_config


async def test_saved_settings_are_read_at_the_next_start(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("s")
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.screen
        devices = screen.query_one("#audio-input-device", Select)
        assert [str(label) for label, _ in devices._options] == ["(system default)", "Booth Mic", "USB Audio CODEC"]
        devices.value = "USB Audio CODEC"
        screen.query_one("#audio-trigger", Select).value = "push_to_talk"
        screen.query_one("#safety-min-confidence", Input).value = "0.75"
        screen.query_one("#vad-hangover-ms", Input).value = "250"
        screen.query_one("#ui-theme", Select).value = "stage"
        await pilot.pause()
        assert app.theme == "stage"  # previewed at once
        await pilot.press("ctrl+s")
        await pilot.pause()
    config = load_config(paths.config_file())
    assert config.audio.input_device == "USB Audio CODEC"
    assert config.audio.trigger == "push_to_talk"
    assert config.safety.min_confidence == 0.75
    assert config.vad.hangover_ms == 250
    assert config.ui.theme == "stage"
    assert config.asr.model is None  # an empty field stays unset

    app = make_app(config)
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.theme == "stage"
        await pilot.press("s")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.screen.query_one("#safety-min-confidence", Input).value == "0.75"
        assert app.screen.query_one("#audio-input-device", Select).value == "USB Audio CODEC"


async def test_a_bad_value_is_refused_and_nothing_is_written(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("s")
        await pilot.pause()
        app.screen.query_one("#safety-cooldown-ms", Input).value = "soon"
        await pilot.press("ctrl+s")
        await pilot.pause()
        [note] = list(app._notifications)
        assert note.severity == "error" and "Settings: [safety] cooldown_ms = 'soon'" in note.message and "valid integer" in note.message
    assert not paths.config_file().exists()
