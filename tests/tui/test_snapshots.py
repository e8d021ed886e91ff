"""Every screen at 80×24 (SSH into the DJ laptop) and 120×40, and the states where a
line is longest (the help, a refused setting, a command in full, a long reading), compared
with the SVGs in ``__snapshots__``. Regenerate after a deliberate change with
``pytest tests/tui/test_snapshots.py --snapshot-update`` and look at the report.

Deterministic by construction: fixed devices (the test host), a fixed DJTUI_HOME so the
paths on screen never change, no clock, and the HUD fed real event objects built here."""

from __future__ import annotations

import pytest

from djtui.core.config import Config
from djtui.core.context import command_for
from djtui.core.context_file import default_context
from djtui.core.events import Outcome, SpeechStarted, Usage
from djtui.core.records import Candidate, Verdict
from djtui.tui.app import DjtuiApp
from djtui.tui.keys import SCREENS
from tests.tui.conftest import FixedHost

SIZES = [(80, 24), (120, 40)]


async def settle(pilot) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("mode", list(SCREENS))
def test_screen(snap_compare, snapshot_home, mode: str, size: tuple[int, int]) -> None:
    app = DjtuiApp(Config(), host=FixedHost())

    async def open_screen(pilot) -> None:
        await pilot.press(SCREENS[mode][0])
        await settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=open_screen)


def outcome_of(intent: str, slots: dict[str, str], stages_ms: dict[str, float] | None = None) -> Outcome:
    """The Outcome of one utterance understood as ``intent(slots)``, approved and sent."""
    context = default_context()
    best = Candidate(intent, slots, 0.93, context.render(intent, slots))
    runner_up = Candidate("pause", {"deck": "1"}, 0.12, "pause deck one")
    command = command_for(context.intents[intent], slots)
    verdict = Verdict(True, "ok", "approved and sent", best, (command,))
    return Outcome(number=1, transcript=best.sentence, candidates=(best, runner_up), verdict=verdict,
                   sent=(command,), dry_run=False, total_ms=83.0, engine="whisper", model="tiny.en",
                   speech_s=(1.2, 2.1), stages_ms=stages_ms or {"asr": 62.5, "resolve": 6.1})


def utterance_events() -> list:
    """One utterance, "play deck one", approved and sent: the events the pipeline publishes."""
    context = default_context()
    top = [Candidate("play", {"deck": "1"}, 0.91, "play deck one"),
           Candidate("pause", {"deck": "1"}, 0.32, "pause deck one"),
           Candidate("play", {"deck": "4"}, 0.18, "play deck four"),
           Candidate("cue", {"deck": "1"}, 0.07, "cue deck one")]
    command = command_for(context.intents["play"], {"deck": "1"})
    verdict = Verdict(True, "ok", "approved and sent", top[0], (command,))
    return [
        SpeechStarted(1.2),
        Outcome(number=1, transcript="play deck one", candidates=tuple(top), verdict=verdict, sent=(command,),
                dry_run=False, total_ms=83.0, engine="whisper", model="tiny.en", speech_s=(1.2, 2.1),
                stages_ms={"vad_endpoint": 300.0, "asr": 62.5, "resolve": 6.1, "rescore": 14.0, "safety": 0.1,
                           "midi": 0.3}),
        Usage(cpu_share=0.14, realtime_factor=0.22, window_s=10.0, cores=2),
    ]


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_live_hud_after_a_command(snap_compare, snapshot_home, size: tuple[int, int]) -> None:
    app = DjtuiApp(Config(), host=FixedHost())

    async def feed(pilot) -> None:
        await pilot.press("l")
        await settle(pilot)
        app.armed = True
        for event in utterance_events():
            app.screen.handle(event)
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=feed)


@pytest.mark.parametrize("theme", ["stage", "mono"])
def test_home_in_each_theme(snap_compare, snapshot_home, theme: str) -> None:
    app = DjtuiApp(Config(), host=FixedHost(), theme=theme)
    assert snap_compare(app, terminal_size=(80, 24), run_before=settle)


def test_live_hud_after_a_long_command_fits_80x24(snap_compare, snapshot_home) -> None:
    """The longest reading and the full stage line, whole at 80 columns."""
    app = DjtuiApp(Config(), host=FixedHost())

    async def feed(pilot) -> None:
        await pilot.press("l")
        await settle(pilot)
        app.armed = True
        app.screen.handle(outcome_of("beat_jump", {"beats": "2", "deck": "1", "direction": "back"},
                                     {"vad_endpoint": 300.0, "asr": 62.5, "search": 21.0, "resolve": 6.1,
                                      "rescore": 14.0, "safety": 0.1, "midi": 0.3}))
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=feed)


def test_help_screen_fits_80x24(snap_compare, snapshot_home) -> None:
    app = DjtuiApp(Config(), host=FixedHost())

    async def open_help(pilot) -> None:
        await pilot.press("l")
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=open_help)


@pytest.mark.parametrize("theme", ["booth", "mono"])
def test_settings_shows_focus_and_a_refused_value(snap_compare, snapshot_home, theme: str) -> None:
    """The focused row stands out, and a half-typed "0." is marked and named."""
    app = DjtuiApp(Config(), host=FixedHost(), theme=theme)

    async def type_half_a_number(pilot) -> None:
        await pilot.press("s")
        await settle(pilot)
        margin = app.screen.query_one("#safety-min-margin")
        margin.cursor_blink = False  # a blinking cursor is a coin toss for a snapshot
        margin.focus()
        margin.value = ""
        await pilot.press("0", ".")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=type_half_a_number)


def test_commands_show_the_highlighted_commands_slots_and_sends(snap_compare, snapshot_home) -> None:
    app = DjtuiApp(Config(), host=FixedHost())

    async def highlight_loop(pilot) -> None:
        await pilot.press("c")
        await settle(pilot)
        for _ in range(6):
            await pilot.press("down")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=highlight_loop)
