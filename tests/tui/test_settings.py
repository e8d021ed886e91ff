"""The Settings screen: values saved to the user's config file, bad ones refused."""

from __future__ import annotations

from textual.widgets import Input, Label, Select

from djtui.core import paths
from djtui.core.config import load_config
from djtui.themes import theme_names
from tests.tui.helpers import text_of


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
        assert note.severity == "error" and "Cooldown (ms): 'soon' is not a whole number (0 to 60000)" in note.message
    assert not paths.config_file().exists()


async def open_settings(app, pilot) -> None:
    await pilot.press("s")
    await app.workers.wait_for_complete()
    await pilot.pause()


async def test_every_tab_stop_shows_where_the_keyboard_is(make_app) -> None:
    for theme in theme_names():
        app = make_app(theme=theme)
        async with app.run_test(size=(80, 24)) as pilot:
            await open_settings(app, pilot)
            stops = []
            for _ in range(30):
                await pilot.press("tab")
                focused = app.focused
                if focused in stops:
                    break
                stops.append(focused)
                row = focused.parent
                assert row.has_class("setting"), f"{theme}: a tab stop outside the form's rows: {focused!r}"
                label = row.query_one(Label)
                assert label.styles.text_style.reverse and label.styles.text_style.bold, f"{theme}: {focused!r}"
            assert len(stops) == len(app.screen.query(".setting"))


async def test_fields_come_grouped_as_a_dj_meets_them(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_settings(app, pilot)
        form = app.screen.query_one("#settings-form")
        order = [str(w.render()) if w.has_class("section-title") else w.query_one(Label).render().plain
                 for w in form.children]
        titles = [t for t in order if t in ("Audio", "Listening", "ASR", "MIDI", "Safety", "UI")]
        assert titles == ["Audio", "Listening", "ASR", "MIDI", "Safety", "UI"]
        assert order.index("Ports") > order.index("MIDI") > order.index("Engine") > order.index("Trigger")
        assert all(i.placeholder for i in app.screen.query(Input)), "every typed field says what empty means"
        assert str(paths.config_file()) in text_of(app.screen.query_one("#settings-where"))


async def test_a_half_typed_number_is_refused_as_it_is_typed_and_never_saved(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_settings(app, pilot)
        margin = app.screen.query_one("#safety-min-margin", Input)
        margin.focus()
        margin.value = ""
        await pilot.press("0", ".")
        await pilot.pause()
        problem = text_of(app.screen.query_one("#settings-problem"))
        assert "Min margin (1st-2nd): '0.' is not a number" in problem and "0 to 1" in problem
        assert margin.has_class("-refused")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert not paths.config_file().exists()
        assert any(n.severity == "error" and "'0.'" in n.message for n in app._notifications)
        await pilot.press("5")
        await pilot.pause()
        assert not margin.has_class("-refused") and not app.screen.query_one("#settings-problem").display
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert any("[safety] min_margin 0.08 → 0.5" in n.message for n in app._notifications)
    assert load_config(paths.config_file()).safety.min_margin == 0.5


async def test_a_value_out_of_range_says_which_and_what_is_allowed(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_settings(app, pilot)
        app.screen.query_one("#vad-hangover-ms", Input).value = "5000"
        await pilot.pause()
        problem = text_of(app.screen.query_one("#settings-problem"))
        assert "Hang-over (ms): '5000' refused" in problem and "32 to 3000" in problem
        app.screen.query_one("#vad-hangover-ms", Input).value = ""
        await pilot.pause()
        assert not app.screen.query_one("#settings-problem").display  # empty: the default
