"""Finding the keys: a footer that fits 80 columns, the help screen (? or F1) listing
every screen's keys, and the command palette finding actions by the words a DJ types."""

from __future__ import annotations

from textual.widgets import Select

from djtui.core import paths
from djtui.core.config import load_config
from djtui.tui.keys import SCREENS
from djtui.tui.palette import DjtuiCommands
from djtui.tui.screens.help import HelpScreen, key_sections
from tests.tui.helpers import text_of


async def test_every_footer_fits_80_columns_with_panic_and_quit(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        for mode, (key, _) in SCREENS.items():
            await pilot.press(key)
            await pilot.pause()
            keys = list(app.screen.query("FooterKey"))
            palette = [k for k in keys if k.has_class("-command-palette")]
            assert palette, "the palette key is where the footer's room ends"
            edge = palette[0].region.x if palette else 80
            shown = {k.description: k.region for k in keys if k not in palette}
            assert {"PANIC", "Quit", "Keys"} <= set(shown), f"{mode}: {sorted(shown)}"
            cut = [d for d, region in shown.items() if region.right > edge]
            assert not cut, f"{mode}: footer keys cut off at 80 columns: {cut}"


async def test_question_mark_and_f1_list_every_key_of_every_screen(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        for key in ("question_mark", "f1"):
            await pilot.press("l", key)
            await pilot.pause()
            assert isinstance(app.screen, HelpScreen)
            await pilot.press("escape")
            await pilot.pause()
            assert app.current_mode == "live" and not isinstance(app.screen, HelpScreen)
        await pilot.press("question_mark")
        await pilot.pause()
        shown = "\n".join(text_of(w) for w in app.screen.query(".help-keys"))
        titles = [text_of(w).strip() for w in app.screen.query(".section-title")]
        assert titles == ["Everywhere", "Live", "Record", "Train", "Review", "Commands", "Settings"]
        for line in ("space  ", "^l", "Record: record your voice", "x, F12", "?, F1", "^s", "1–5", "^p"):
            assert line in shown, line
        assert "Copy selected text" not in shown  # Textual's own screen keys are not djtui's


def test_the_help_and_the_readme_list_the_same_keys() -> None:
    """README's key table ("The TUI") names every key the help screen lists."""
    from pathlib import Path

    from djtui.tui.app import DjtuiApp

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    table = readme.split("## The TUI", 1)[1].split("\n\n- **Home**", 1)[0]
    app = DjtuiApp()
    for section, rows in key_sections(app):
        for keys, _ in rows:
            for key in keys.replace(",", " ").split():
                assert f"`{key}`" in table, f"README's key table lacks `{key}` ({section})"


async def hits(app, query: str) -> list[str]:
    return [str(hit.text) async for hit in DjtuiCommands(app.screen).search(query)]


async def test_the_palette_finds_actions_by_the_words_a_dj_types(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)):
        assert "Live screen  [l]" in await hits(app, "listen")
        shown = [hit.prompt.plain async for hit in DjtuiCommands(app.screen).search("listen")]
        assert "Live screen  [l]" in shown  # the key as written, not eaten as markup
        shown = [hit.prompt.plain async for hit in DjtuiCommands(app.screen).discover()]
        assert "PANIC  [x, F12]" in shown and "Arm / disarm  [a]" in shown
        assert "Live: Listen on/off  [l, then space]" in await hits(app, "listen")
        started = await hits(app, "start")
        assert "Live: Listen on/off  [l, then space]" in started and "Train: Go/Stop  [t, then g]" in started
        assert "Settings: Save  [s, then ^s]" in await hits(app, "save")
        assert "PANIC  [x, F12]" in await hits(app, "panic")
        assert all("[" in title for title in await hits(app, "e") if not title.startswith("Theme"))


async def test_the_palette_themes_are_djtuis_and_a_pick_is_kept(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("s")
        await pilot.pause()
        themes = [t for t in await hits(app, "theme") if t.startswith("Theme")]
        assert themes == ["Theme: booth (in use)", "Theme: mono", "Theme: stage"]
        [stage] = [c for c in app.get_system_commands(app.screen) if c.title == "Theme: stage"]
        stage.callback()
        await pilot.pause()
        assert app.theme == "stage" and app.screen.query_one("#ui-theme", Select).value == "stage"
        await pilot.press("h")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "theme stage" in " ".join(text_of(app.screen.query_one("#status")).split())
    assert load_config(paths.config_file()).ui.theme == "stage"


async def test_a_palette_pick_does_what_its_key_does(make_app) -> None:
    app = make_app()  # trigger "always": p explains itself
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("l")
        await pilot.pause()
        talk = [c for c in app.get_system_commands(app.screen) if c.title == "Talk  [p]"]
        assert len(talk) == 1
        await talk[0].callback()
        await pilot.pause()
        assert any("p does nothing with trigger 'always'" in n.message for n in app._notifications)
        await pilot.press("h")
        await pilot.pause()
        [clear] = [c for c in app.get_system_commands(app.screen) if c.title == "Live: Clear  [l, then ^l]"]
        await clear.callback()
        await pilot.pause()
        assert app.current_mode == "live" and not app.screen.query_one("#sent-log").lines
