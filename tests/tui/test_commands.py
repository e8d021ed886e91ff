"""The Commands screen: browse and search the context, try a phrase through the resolver."""

from __future__ import annotations

from textual.widgets import DataTable, Input, Static

from djtui.tui.widgets.candidate_bars import CandidateBars
from djtui.tui.widgets.command_detail import CommandDetail
from tests.tui.helpers import text_of, until


async def test_lists_every_intent_and_search_filters(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("c")
        await pilot.pause()
        table = app.screen.query_one(DataTable)
        context = app.host.context(app.config)
        assert table.row_count == len(context.intents)
        await pilot.press("slash")
        assert isinstance(app.focused, Input)
        await pilot.press(*"loop")
        await pilot.pause()
        names = [table.get_row_at(i)[0] for i in range(table.row_count)]
        assert names and all("loop" in " ".join(table.get_row_at(i)).lower() for i in range(table.row_count))
        assert "play" not in names


async def test_a_typed_phrase_shows_its_top_five(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("c", "e")
        await pilot.press(*"play deck two", "enter")
        bars = app.screen.query_one(CandidateBars)
        rows = await until(pilot, lambda: bars.rows, 180, "the resolver")
        assert rows[0][0] == "play(deck=2)"
        assert 1 <= len(rows) <= 5
        assert "“play deck two” means:" in text_of(app.screen.query_one("#resolve-state", Static))
        assert "1 play(deck=2)" in text_of(bars)


async def test_the_highlighted_command_shows_its_slots_and_what_rekordbox_sees(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("c")
        await pilot.pause()
        table = app.screen.query_one(DataTable)
        assert table.get_row_at(0) == ["play", "safe", "play deck one"]
        detail = app.screen.query_one(CommandDetail)
        assert "slots deck (1 2 3 4)" in text_of(detail)
        assert "sends PlayPause · note 11 on deck ch 1–4" in text_of(detail)
        for _ in range(6):
            await pilot.press("down")
        await pilot.pause()
        assert table.get_row_at(table.cursor_row)[:3] == ["loop", "safe", "loop two beats on deck one"]
        shown = " ".join(text_of(detail).split())
        assert "slots beats (1/4 1/2 1 2 4 8 16 32) · deck (1 2 3 4)" in shown
        assert "8 PAD10_BeatLoop" in shown and "notes 20–27 on deck ch 1–4" in shown  # not "8 functions"


async def test_search_finds_a_command_by_what_rekordbox_calls_it(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("c", "slash", *"pad10")
        await pilot.pause()
        table = app.screen.query_one(DataTable)
        assert [table.get_row_at(i)[0] for i in range(table.row_count)] == ["loop"]
