"""The live HUD on the real pipeline, fed a spoken command from a file."""

from __future__ import annotations

import pytest
from textual.widgets import RichLog, Static

from djtui.core.config import Config
from djtui.core.events import Outcome, RampEnded
from djtui.tui.screens.live import LiveScreen
from djtui.tui.widgets.candidate_bars import CandidateBars
from djtui.tui.widgets.deck_state import DeckState
from djtui.tui.widgets.latency_sparkline import LatencySparkline
from djtui.tui.widgets.stage_breakdown import StageBreakdown
from djtui.tui.widgets.verdict_line import VerdictLine
from tests.tui.conftest import FixedHost
from tests.tui.helpers import text_of, until


def outcomes(host: FixedHost) -> list[Outcome]:
    return [e for e in host.events if isinstance(e, Outcome)]


@pytest.fixture(scope="module")
def whisper():
    from djtui.core.asr import WhisperEngine

    return WhisperEngine(threads=1)


@pytest.mark.slow  # loads Whisper and the sentence embeddings
async def test_a_spoken_command_shows_transcript_top5_verdict_and_what_was_sent(make_app, wav_of, whisper) -> None:
    host = FixedHost(microphone_file=wav_of("play deck one"), engine=whisper, decks_paused=True)
    app = make_app(Config(), host=host)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("a", "l")  # armed before listening: the pipeline starts armed
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, LiveScreen)
        await pilot.press("space")
        await until(pilot, lambda: "finished" in text_of(screen.query_one("#live-state", Static)), 120, "end of file")

        [outcome] = outcomes(host)
        assert outcome.transcript
        assert text_of(screen.query_one("#transcript", Static)).strip() == f"heard: {outcome.transcript}"
        rows = screen.query_one(CandidateBars).rows
        assert rows == tuple((c.label(), c.score) for c in outcome.candidates)
        assert 1 <= len(rows) <= 5
        assert rows[0][0] == "play(deck=1)"
        assert all(0.0 <= score <= 1.0 for _, score in rows)
        assert "1 play(deck=1)" in text_of(screen.query_one(CandidateBars))
        verdict = text_of(screen.query_one(VerdictLine))
        assert "SENT" in verdict and "play(deck=1)" in verdict
        assert screen.query_one(VerdictLine).has_class("-approved"), (verdict, outcome.verdict)
        log = "\n".join(line.text for line in screen.query_one("#sent-log", RichLog).lines)
        assert "play(deck=1) → PlayPause · note 11 ch 1" in log and "(dry run)" in log
        assert list(screen.query_one(LatencySparkline).latencies) == [outcome.said_to_done_ms]  # what the DJ feels
        assert "asr" in text_of(screen.query_one(StageBreakdown))
        assert not app.session.running
        assert screen.query_one(DeckState).playing == (True, False, False, False)
        assert "1 ▶ PLAY" in text_of(screen.query_one(DeckState))


@pytest.mark.slow  # loads Whisper and the sentence embeddings
async def test_a_spoken_fade_shows_its_ramp_and_the_tempo(make_app, wav_of, whisper) -> None:
    host = FixedHost(microphone_file=wav_of("fade in the left deck over ten seconds"), engine=whisper,
                     decks_paused=True)
    app = make_app(Config(), host=host)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("a", "l", "space")
        screen = app.screen
        await until(pilot, lambda: "finished" in text_of(screen.query_one("#live-state", Static)), 120, "end of file")
        [outcome] = outcomes(host)
        assert outcome.verdict.approved, outcome.verdict.message
        log = "\n".join(line.text for line in screen.query_one("#sent-log", RichLog).lines)
        # deck 1 paused and its fader never set: from 0, as "fade in" says, over the time said
        assert "ChannelFader deck 1 0.00 → 1.00 over 10.00 s" in log
        assert "ChannelFader deck 1 stopped at" in log and "(stopped)" in log  # listening stopped: so did the fade
        ended = [e for e in host.events if isinstance(e, RampEnded)]
        assert [e.how for e in ended] == ["stopped"]


async def test_disarmed_the_hud_says_nothing_was_sent(make_app, wav_of, whisper) -> None:
    host = FixedHost(microphone_file=wav_of("play deck one"), engine=whisper)
    app = make_app(Config(), host=host)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("l", "space")
        screen = app.screen
        await until(pilot, lambda: "finished" in text_of(screen.query_one("#live-state", Static)), 120, "end of file")
        verdict = text_of(screen.query_one(VerdictLine))
        assert "NOT SENT" in verdict and "disarmed" in verdict
        log = "\n".join(line.text for line in screen.query_one("#sent-log", RichLog).lines)
        assert "PlayPause" not in log


async def test_no_microphone_is_a_notification_and_the_app_keeps_working(make_app) -> None:
    app = make_app()  # the fixed host has no microphone file: "not found"
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("l", "space")
        screen = app.screen
        await until(pilot, lambda: "not listening" in text_of(screen.query_one("#live-state", Static)), 120,
                    "the failure")
        [note] = [n for n in app._notifications if n.severity == "error"]
        assert "audio input 'Booth Mic' not found" in note.message and "plug the microphone in" in note.message
        assert not app.session.running
        await pilot.press("h")
        assert app.current_mode == "home"


async def test_push_to_talk_opens_and_closes_the_mic(make_app, wav_of, whisper) -> None:
    config = Config()
    config.audio.trigger = "push_to_talk"
    host = FixedHost(microphone_file=wav_of("play deck one"), engine=whisper, realtime=True)
    app = make_app(config, host=host)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("l", "space")
        state = app.screen.query_one("#live-state", Static)
        await until(pilot, lambda: "mic closed — p: talk" in text_of(state), 120, "listening")
        assert not app.session.pipeline.listening
        await pilot.press("p")
        await until(pilot, lambda: "MIC OPEN" in text_of(state), 10, "the mic to open")
        assert app.session.pipeline.listening
        await pilot.press("p")
        await until(pilot, lambda: "mic closed" in text_of(state), 10, "the mic to close")
        await pilot.press("space")
        assert not app.session.running


async def test_push_to_talk_without_listening_explains_itself(make_app) -> None:
    config = Config()
    config.audio.trigger = "push_to_talk"
    app = make_app(config)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("l", "p")
        [note] = list(app._notifications)
        assert "not listening" in note.message


def footer_keys(app) -> set[str]:
    return {key.description for key in app.screen.query("FooterKey")}


async def test_talk_is_in_the_footer_only_with_push_to_talk_and_p_says_why_otherwise(make_app) -> None:
    app = make_app()  # trigger "always"
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("l")
        await pilot.pause()
        assert "Talk" not in footer_keys(app) and "PANIC" in footer_keys(app)
        await pilot.press("p")
        [note] = list(app._notifications)
        assert "p does nothing with trigger 'always'" in note.message and "push-to-talk in Settings" in note.message
        app.config = app.config.updated({"audio": {"trigger": "push_to_talk"}})
        await pilot.press("h", "l")  # back on Live after Settings changed the trigger
        await pilot.pause()
        assert "Talk" in footer_keys(app)


def sent_log(screen) -> str:
    return "\n".join(line.text for line in screen.query_one("#sent-log", RichLog).lines)


async def test_the_sent_log_names_the_command_and_what_rekordbox_will_do(make_app) -> None:
    from tests.tui.test_snapshots import outcome_of

    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("l")
        await pilot.pause()
        app.screen.handle(outcome_of("loop", {"beats": "8", "deck": "2"}))
        app.screen.handle(outcome_of("play", {"deck": "1"}))
        await pilot.pause()
        log = sent_log(app.screen)
        assert "#1  loop(beats=8 deck=2) → PAD10_BeatLoop · note 25 ch 2" in log  # the CSV's row, not "BeatLoop"
        assert "#1  play(deck=1) → PlayPause · note 11 ch 1" in log


async def test_lost_audio_is_counted_in_blocks_and_seconds(make_app) -> None:
    from djtui.core.events import Dropped
    from djtui.tui.live_session import PipelineEvent

    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("l")
        await pilot.pause()
        app.post_message(PipelineEvent(Dropped("audio", 273, 273, "the audio input overran")))
        app.post_message(PipelineEvent(Dropped("utterance", 1, 1, "still busy")))
        await pilot.pause()
        shown = text_of(app.screen.query_one("#dropped", Static))
        assert "lost since listening started: 1 utterance, 273 audio blocks (8.7 s of audio)" in shown
        assert any("273 audio blocks (8.7 s of audio) lost" in n.message for n in app._notifications)


class BoothHost(FixedHost):
    """The microphone is a booth recording (channel 1 the microphone, 2 the mix) played
    in real time, echo-cancelled as [audio] reference_channel = 2 would have it."""

    def microphone(self, config: Config, on_status: object = None) -> object:
        from djtui.core.audio import FileSource
        from djtui.core.echo_cancel import CancellingSource

        assert config.audio.reference_channel == 2
        return CancellingSource(FileSource(self.microphone_file, realtime=True, channel=1, reference_channel=2),
                                reference="input 2 of the booth recording")


@pytest.mark.slow  # loads Whisper; plays 10 s in real time
async def test_with_a_reference_the_hud_shows_the_music_removed_and_home_says_it_matches(make_app, whisper,
                                                                                         tmp_path) -> None:
    import numpy as np
    import soundfile as sf

    from djtui.tui.widgets.echo_meter import EchoMeter
    from tests.fixtures.booth import room, song, through

    music = song("chaos_god", 50, 10)
    booth = tmp_path / "booth.wav"
    sf.write(booth, np.stack([through(music, 120, room(0.5)), music], axis=1), 16000)
    host = BoothHost(microphone_file=booth, engine=whisper)
    app = make_app(Config().updated({"audio": {"reference_channel": 2}}), host=host)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("l", "space")
        screen = app.screen
        meter = screen.query_one(EchoMeter)
        assert meter.display
        await until(pilot, lambda: "dB of music removed" in text_of(meter) and meter.erle_db, 120, "cancelling")
        assert meter.before_db - meter.after_db >= 15
        await pilot.press("h")
        await pilot.pause()
        status = " ".join(text_of(app.screen.query_one("#status", Static)).split())  # as read, unwrapped
        assert "input 2 of the microphone's interface (one clock)" in status
        assert "carries the music the microphone hears · delay 120 ms" in status, status
