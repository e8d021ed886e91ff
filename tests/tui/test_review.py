"""The Review screen on a session log the live pipeline wrote: list what it refused, play
one, label it with a key, and the take lands in the training data at once."""

from __future__ import annotations

import shutil

from textual.widgets import DataTable, Static

from djtui.core import paths
from djtui.training.manifest import read_manifest
from tests.tui.conftest import FixedHost
from tests.tui.helpers import text_of


def copy_session(log) -> None:
    """Put the session log and its clips where djtui keeps sessions."""
    sessions = paths.sessions_dir()
    sessions.mkdir(parents=True, exist_ok=True)
    shutil.copy(log, sessions / log.name)
    shutil.copytree(log.parent / log.stem, sessions / log.stem)


async def test_a_reviewed_utterance_lands_in_the_training_data(make_app, heard_set) -> None:
    copy_session(heard_set)
    host = FixedHost()
    app = make_app(host=host)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("v")
        await pilot.pause()
        screen = app.screen
        table = screen.query_one("#review-list", DataTable)
        assert table.row_count == 2
        assert "2 to review: 2 refused" in text_of(screen.query_one("#review-session", Static))
        first = screen.heard[0]
        readings = text_of(screen.query_one("#review-readings", Static))
        assert readings.startswith(f"1 {first.readings[0].label()}")

        await pilot.press("p")
        await app.workers.wait_for_complete()
        assert len(host.played) == 1 and len(host.played[0]) > 8000

        await pilot.press("2")  # it was the second reading of the top 5
        [take] = read_manifest(host.recordings_dir())
        second = first.readings[1]
        assert (take.intent, take.slots, take.qc["reviewed"]) == (second.intent, second.slots, first.key)
        assert (host.recordings_dir() / take.path).is_file()
        assert table.row_count == 1 and "added to the training takes" in text_of(screen.query_one("#review-state", Static))

        await pilot.press("n")  # the other one was chatter
        assert table.row_count == 0 and len(read_manifest(host.recordings_dir())) == 1
        assert len(list((host.recordings_dir() / "not_commands").glob("*.wav"))) == 1
        assert "nothing to review" in text_of(screen.query_one("#review-readings", Static))

    app = make_app(host=host)  # the next visit does not offer them again
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("v")
        await pilot.pause()
        assert app.screen.query_one("#review-list", DataTable).row_count == 0


async def test_no_session_yet_says_how_to_get_one(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("v")
        await pilot.pause()
        assert "--save-audio" in text_of(app.screen.query_one("#review-session", Static))
