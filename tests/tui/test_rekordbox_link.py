"""The Rekordbox line: what it tells the DJ at each stage of connecting, alone and on Home."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from textual.app import App, ComposeResult

from djtui.core.config import Config
from djtui.core.context_file import default_context
from djtui.core.decks import DeckState
from djtui.themes import VARIABLE_DEFAULTS
from djtui.tui.widgets.rekordbox_link import RekordboxLink
from tests.tui.conftest import FixedHost
from tests.tui.helpers import text_of, until


class Bench(App[None]):
    CSS_PATH = "../../tui/widgets/rekordbox_link.tcss"

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return dict(VARIABLE_DEFAULTS)

    def compose(self) -> ComposeResult:
        yield RekordboxLink()


@pytest.mark.parametrize("facts, says, style", [
    ({}, "port 'djtui' opens when listening: start djtui before Rekordbox", None),
    ({"virtual": False}, "loopMIDI port 'djtui': start loopMIDI and djtui before Rekordbox", None),
    ({"listening": True, "dry_run": True}, "dry run: no MIDI port open", None),
    ({"listening": True}, "no feedback on 'djtui' yet", "-waiting"),
    ({"listening": True, "heard": True}, "sends no report djtui knows: import the file", "-waiting"),
    ({"listening": True, "heard": True, "reporting": True}, "reports deck state on 'djtui' ✓", "-ok"),
    ({"virtual": False, "problem": "NOT FOUND: create it in loopMIDI"}, "'djtui' NOT FOUND: create it in loopMIDI",
     "-problem"),
])
async def test_the_line_says_where_the_connection_stands(facts: dict, says: str, style: str | None) -> None:
    app = Bench()
    async with app.run_test(size=(160, 4)) as pilot:
        link = app.query_one(RekordboxLink)
        for name, value in facts.items():
            setattr(link, name, value)
        await pilot.pause()
        text = " ".join(text_of(link).split())
        assert text.startswith("Rekordbox ") and says in text
        assert [c for c in ("-ok", "-waiting", "-problem") if link.has_class(c)] == ([style] if style else [])


async def test_never_heard_says_what_to_do() -> None:
    app = Bench()
    async with app.run_test(size=(80, 6)) as pilot:
        link = app.query_one(RekordboxLink)
        link.listening = True
        await pilot.pause()
        text = " ".join(text_of(link).split())
    for step in ("restart Rekordbox", "lists ports only when it starts", "djtui midi export-rekordbox",
                 "Performance mode"):
        assert step in text


@dataclass
class Listening:
    """The live pipeline as Home reads it: its deck state (real) and whether it sends."""

    deck_state: DeckState
    dry_run: bool = False

    def stop(self) -> None:
        pass


async def test_home_follows_rekordboxs_feedback(make_app) -> None:
    app = make_app(Config(), host=FixedHost())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        link = app.screen.query_one(RekordboxLink)
        assert "opens when listening" in text_of(link)
        deck_state = DeckState.for_context(default_context())
        app.session.pipeline = Listening(deck_state)
        await until(pilot, lambda: link.has_class("-waiting"), 5, "no feedback yet")
        assert "no feedback on 'djtui' yet" in text_of(link)
        deck_state.apply_feedback([0x99, 11, 127])  # Rekordbox: deck 2 plays
        await until(pilot, lambda: link.has_class("-ok"), 5, "feedback")
        assert "reports deck state" in text_of(link)
        app.session.pipeline = None


async def test_home_says_when_the_loopmidi_port_is_missing(make_app) -> None:
    config = Config()
    config.midi.virtual = False
    config.midi.output_port = "djtui"  # the test host offers only "loopMIDI Port"
    app = make_app(config, host=FixedHost())
    async with app.run_test(size=(80, 24)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        link = app.screen.query_one(RekordboxLink)
        assert link.has_class("-problem")
        assert "'djtui' NOT FOUND: create it in loopMIDI" in " ".join(text_of(link).split())
