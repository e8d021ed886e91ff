"""The Record screen on a real recording session, a wav file standing in for the mic."""

from __future__ import annotations

from textual.widgets import Static

from djtui.core.context_file import default_context
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


class NoInputs(FixedHost):
    """A machine with no audio input at all (what Home shows as "NO INPUT DEVICE found")."""

    def input_devices(self) -> list[str]:
        return []


async def test_without_a_microphone_space_says_so_at_once_with_no_countdown(make_app) -> None:
    app = make_app(host=NoInputs())
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_record(app, pilot)
        screen.countdown_s = 3
        await pilot.press("space")
        state = text_of(screen.query_one("#record-state", Static))
        assert "no microphone: this machine has no audio input" in state and "plug one in" in state
        assert screen._countdown is None and not screen.recording  # no 3-2-1 to nowhere
        [note] = [n for n in app._notifications if n.severity == "error"]
        assert "no microphone" in note.message


async def test_a_configured_input_that_is_not_plugged_in_is_named_at_once(make_app) -> None:
    from djtui.core.config import Config

    config = Config()
    config.audio.input_device = "Shure SM58"
    app = make_app(config)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_record(app, pilot)
        screen.countdown_s = 3
        await pilot.press("space")
        state = text_of(screen.query_one("#record-state", Static))
        assert "the input 'Shure SM58' is not connected (2 other inputs)" in state and "Settings (s)" in state
        assert screen._countdown is None


async def test_takes_whose_manifest_was_lost_come_back_and_the_screen_says_so(make_app) -> None:
    import numpy as np

    from djtui.core import paths
    from djtui.training.recording import RecordingSession
    from djtui.tui.screens.record import SPEAKER, TAKES_PER_COMMAND

    folder = paths.data_dir() / "training_data"
    earlier = RecordingSession(folder, default_context(), SPEAKER,  # what the screen opens
                               takes=TAKES_PER_COMMAND, phrasings=1)
    tone = (0.3 * np.sin(np.arange(16000) / 5)).astype(np.float32)
    for prompt in earlier.prompts[:2]:
        earlier.writer.add(tone, text=prompt.text, intent=prompt.intent, slots=prompt.slots, take=prompt.take,
                           speaker=SPEAKER)
    wavs = {p.name: p.read_bytes() for p in folder.rglob("*.wav")}
    (folder / "recordings" / "someone-else_play_0123456789_t1.wav").write_bytes(b"RIFF")
    earlier.manifest.unlink()

    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_record(app, pilot)
        assert screen.session.progress()[0] == 2
        [note] = [n for n in app._notifications if n.title.startswith("Record")]
        assert note.severity == "warning"
        assert "2 takes without a manifest line re-described" in note.message
        assert f"1 file no line describes moved to {folder / 'set-aside'}" in note.message
    assert {p.name: p.read_bytes() for p in (folder / "recordings").glob("*.wav")} == wavs
    assert (folder / "set-aside" / "someone-else_play_0123456789_t1.wav").read_bytes() == b"RIFF"
