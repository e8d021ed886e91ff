"""The Record screen on a real recording session, a wav file standing in for the mic."""

from __future__ import annotations

from textual.widgets import Static

from djtui.training.manifest import read_manifest
from tests.tui.conftest import FixedHost
from tests.tui.helpers import text_of, until


async def open_record(app, pilot):
    await pilot.press("r")
    screen = app.screen
    await until(pilot, lambda: screen.prompt is not None, 60, "the first prompt")
    screen.countdown_s = 0
    return screen


async def test_a_good_take_is_kept_and_the_next_prompt_comes_up(make_app, wav_of) -> None:
    host = FixedHost(microphone_file=wav_of("play deck one"))
    app = make_app(host=host)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_record(app, pilot)
        first = screen.prompt
        done, total = screen.session.progress()
        intents = len(app.host.context(app.config).intents)
        assert done == 0 and total == 3 * intents  # one phrasing of every command, three takes each
        assert {p.take for p in screen.session.prompts} == {1, 2, 3}
        assert len({p.text for p in screen.session.prompts}) == intents
        assert screen.query_one("#prompt").text == first.text
        assert "╭" in text_of(screen.query_one("#prompt"))  # large letters
        assert f"take 1 of {total}" in text_of(screen.query_one("#record-progress-label", Static))

        await pilot.press("space")
        qc = screen.query_one("#qc", Static)
        await until(pilot, lambda: "good take" in text_of(qc), 60, "the quality check")
        assert screen.prompt != first
        assert f"take 2 of {total}" in text_of(screen.query_one("#record-progress-label", Static))
        [take] = read_manifest(screen.session.manifest)
        assert (take.text, take.intent, take.take) == (first.text, first.intent, first.take)

        await pilot.press("p")
        await app.workers.wait_for_complete()
        assert len(host.played) == 1 and len(host.played[0]) > 16000

        second = screen.prompt
        await pilot.press("d")  # redo the kept take: the new one replaces it
        await until(pilot, lambda: screen.last_prompt == first and not screen.recording, 60, "the redo")
        [take] = read_manifest(screen.session.manifest)
        assert take.text == first.text
        assert screen.prompt == second

    app = make_app(host=host)  # a new session on the same folder resumes
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_record(app, pilot)
        assert f"resumed: 1 of {total}" in text_of(screen.query_one("#qc", Static))
        assert (screen.prompt.text, screen.prompt.take) != (first.text, first.take)


async def test_silence_fails_the_check_and_can_be_redone_or_skipped(make_app, wav_of) -> None:
    host = FixedHost(microphone_file=wav_of(None))
    app = make_app(host=host)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_record(app, pilot)
        first = screen.prompt
        await pilot.press("space")
        qc = screen.query_one("#qc", Static)
        await until(pilot, lambda: "no speech heard" in text_of(qc), 60, "the quality check")
        assert qc.has_class("-failed")
        assert screen.prompt == first and screen.session.progress()[0] == 0

        await pilot.press("space")  # again: the same prompt
        await until(pilot, lambda: "no speech heard" in text_of(qc), 60, "the second check")
        assert screen.prompt == first

        await pilot.press("k")
        assert screen.prompt != first
        assert screen.session.progress()[0] == 0


async def test_no_microphone_is_a_notification(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_record(app, pilot)
        await pilot.press("space")
        await until(pilot, lambda: "not recorded" in text_of(screen.query_one("#record-state", Static)), 30, "failure")
        [note] = [n for n in app._notifications if n.severity == "error"]
        assert "not found" in note.message
