"""The HUD's widgets on their own: what they draw for given values."""

from __future__ import annotations

from textual.app import App, ComposeResult

from djtui.themes import VARIABLE_DEFAULTS
from djtui.tui.app import WIDGET_CSS
from djtui.tui.widgets.armed_banner import ArmedBanner
from djtui.tui.widgets.big_text import big_lines, wrap_words
from djtui.tui.widgets.candidate_bars import CandidateBars
from djtui.tui.widgets.deck_state import DeckState
from djtui.tui.widgets.echo_meter import EchoMeter
from djtui.tui.widgets.latency_sparkline import LatencySparkline
from djtui.tui.widgets.ramp_line import RampLine
from djtui.tui.widgets.stage_breakdown import StageBreakdown, format_stages
from djtui.tui.widgets.usage_meter import UsageMeter
from djtui.tui.widgets.verdict_line import VerdictLine
from djtui.tui.widgets.vu_meter import VuMeter
from tests.tui.helpers import text_of


class Bench(App[None]):
    """Every widget, styled by its own stylesheet, nothing else."""

    CSS_PATH = [f"../../tui/{path}" for path in WIDGET_CSS]

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return dict(VARIABLE_DEFAULTS)

    def compose(self) -> ComposeResult:
        yield ArmedBanner()
        yield VuMeter()
        yield EchoMeter(classes="-reference")
        yield CandidateBars()
        yield VerdictLine()
        yield DeckState()
        yield LatencySparkline()
        yield StageBreakdown()
        yield UsageMeter()
        yield RampLine()


async def test_vu_meter_fills_with_the_level() -> None:
    app = Bench()
    async with app.run_test(size=(50, 20)) as pilot:
        meter = app.query_one(VuMeter)
        assert "-∞" in text_of(meter) and "█" not in text_of(meter)
        meter.rms_db, meter.peak_db = -30.0, -12.0
        await pilot.pause()
        half = text_of(meter).count("█")
        meter.rms_db = -6.0
        await pilot.pause()
        assert text_of(meter).count("█") > half > 0
        assert "-6 dB" in text_of(meter)


async def test_echo_meter_shows_the_music_removed_or_why_none_is() -> None:
    app = Bench()
    async with app.run_test(size=(90, 20)) as pilot:
        meter = app.query_one(EchoMeter)
        meter.before_db, meter.after_db, meter.erle_db = -12.0, -36.0, 25.0
        meter.state, meter.delay_ms = "cancelling", 84.0
        await pilot.pause()
        line = text_of(meter)
        assert "-12 dB before" in line and "24 dB of music removed" in line
        assert "ERLE 25 dB" in line and "delay 84 ms" in line
        meter.state = "silent"
        await pilot.pause()
        assert "reference SILENT: the microphone as it is" in text_of(meter)


async def test_candidate_bars_rank_and_scale() -> None:
    app = Bench()
    async with app.run_test(size=(60, 20)) as pilot:
        bars = app.query_one(CandidateBars)
        bars.rows = (("play(deck=1)", 0.9), ("pause(deck=1)", 0.3))
        await pilot.pause()
        first, second = (line.rstrip() for line in text_of(bars).splitlines()[:2])
        assert first.startswith("1 play(deck=1)") and first.endswith("0.90")
        assert second.startswith("2 pause(deck=1)")
        assert first.count("█") > second.count("█") > 0


async def test_armed_banner_and_deck_state() -> None:
    app = Bench()
    async with app.run_test(size=(80, 20)) as pilot:
        banner = app.query_one(ArmedBanner)
        assert "DISARMED" in text_of(banner)
        banner.armed = True
        await pilot.pause()
        assert "● ARMED" in text_of(banner) and banner.has_class("-armed")
        decks = app.query_one(DeckState)
        decks.set_deck(2, True)
        decks.set_deck(3, False)
        await pilot.pause()
        shown = text_of(decks)
        assert "2 ▶ PLAY" in shown and "3 ❚❚ PAUSE" in shown and "1 ·  ?" in shown


async def test_verdict_latency_and_stages() -> None:
    app = Bench()
    async with app.run_test(size=(80, 20)) as pilot:
        verdict = app.query_one(VerdictLine)
        verdict.show(False, "not sure enough of what was said", "play(deck=1)")
        spark = app.query_one(LatencySparkline)
        for ms in (80, 120, 100):
            spark.add(ms)
        app.query_one(StageBreakdown).show({"asr": 61.4, "resolve": 7.2}, 70.0)
        await pilot.pause()
        assert "✘ NOT SENT · play(deck=1) · not sure enough" in text_of(verdict)
        assert verdict.has_class("-rejected")
        assert "last 100 ms · p50 100 · p95 118 · n=3" in text_of(spark.query_one("#latency-summary"))
        assert spark.query_one("#latency-spark").data == [80, 120, 100]
        assert "asr 61 · resolve 7 = 70 ms" in text_of(app.query_one(StageBreakdown))


async def test_ramp_line_shows_each_ramp_with_its_target_or_where_knob_values_come_from() -> None:
    app = Bench()
    async with app.run_test(size=(120, 20)) as pilot:
        line = app.query_one(RampLine)
        line.tempo = "no tempo: bars and beats refused, seconds work"
        await pilot.pause()
        idle = text_of(line)
        assert "knobs: none moving · no tempo" in idle and "djtui's last value" in idle
        assert not line.has_class("-moving")
        line.ramps = (("ChannelFader deck 2", 0.25, 1.0, 0.25), ("CrossFader", None, 0.0, 1.0))
        await pilot.pause()
        moving = text_of(line)
        assert "↝ ChannelFader deck 2 0.25 → 1.00 ██░░░░░░ 25%" in moving
        assert "↝ CrossFader ? → 0.00 ████████ 100%" in moving
        assert line.has_class("-moving")


def test_big_text_wraps_at_words_and_falls_back_when_too_narrow() -> None:
    rows = big_lines("play deck one", 40)  # 10 letters a line
    assert len(rows) == 7 and rows[3] == ""
    assert rows[0].startswith("┌─╮ ╷   ╭─╮ ╷ ╷")  # P L A Y
    assert all(len(row) <= 40 for row in rows)
    assert wrap_words("play deck one", 9) == ["play deck", "one"]
    assert big_lines("synchronise", 20) is None  # 11 letters need 44 columns


def test_stage_format() -> None:
    assert format_stages({}) == "stages: —"
    assert format_stages({"asr": 10.0, "midi": 0.4}) == "asr 10 · midi 0 = 10 ms"
    assert format_stages({"vad_endpoint": 300.0, "asr": 10.0}, 11.0) == "asr 10 = 11 ms (+300 hang-over)"


def test_stage_format_gives_way_to_fit_the_line() -> None:
    stages = {"vad_endpoint": 300.0, "asr": 62.5, "search": 21.0, "resolve": 6.1, "rescore": 14.0, "safety": 0.1,
              "midi": 0.3}
    full = format_stages(stages, 104.0)
    assert full == "asr 62 · search 21 · resolve 6 · rescore 14 · safety 0 · midi 0 = 104 ms (+300 hang-over)"
    assert format_stages(stages, 104.0, 78) == "asr 62 · search 21 · resolve 6 · rescore 14 = 104 ms (+300 hang-over)"
    assert format_stages(stages, 104.0, 40) == "104 ms (+300 hang-over)"


async def test_a_long_reading_and_verdict_are_shown_whole_at_80_columns() -> None:
    app = Bench()
    async with app.run_test(size=(80, 20)) as pilot:
        label = "beat_jump(beats=2 deck=1 direction=back)"
        app.query_one(CandidateBars).rows = ((label, 0.93), ("pause(deck=1)", 0.1))
        verdict = app.query_one(VerdictLine)
        verdict.show(False, "waiting for 'confirm': deck 1 is playing (say confirm within 3 s)", label)
        await pilot.pause()
        assert f"1 {label}" in text_of(app.query_one(CandidateBars))
        shown = " ".join(text_of(verdict).split())
        assert label in shown and "(say confirm within 3 s)" in shown


async def test_usage_meter_says_the_cpu_share_and_warns_when_djtui_falls_behind() -> None:
    app = Bench()
    async with app.run_test(size=(90, 20)) as pilot:
        meter = app.query_one(UsageMeter)
        assert "measured while listening" in text_of(meter)
        meter.cores, meter.cpu_share, meter.realtime_factor = 2, 0.14, 0.22
        await pilot.pause()
        assert "CPU 14 % of 2 cores" in text_of(meter) and "0.22 s work per s of audio · keeps up" in text_of(meter)
        assert not meter.has_class("-behind")
        meter.realtime_factor = 1.3
        await pilot.pause()
        assert "FALLING BEHIND" in text_of(meter) and meter.has_class("-behind")
