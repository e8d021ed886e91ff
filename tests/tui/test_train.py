"""The Train screen: a tiny Whisper fine-tune on synthetic takes with live plots, the
stock/before/after table, and "use this model" switching the engine the running live
pipeline uses; the wav2vec2 route; clear messages for bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from textual.widgets import Checkbox, DataTable, Input, ProgressBar, RichLog, Select, Sparkline, Static

from djtui.core import paths
from djtui.core.config import load_config
from djtui.training.manifest import ManifestWriter
from tests.tui.conftest import FixedHost
from tests.tui.helpers import text_of, until


def synthetic_takes(folder: Path, speak) -> Path:
    """Two takes of each of three commands (one of each is held back for validation)."""
    writer = ManifestWriter(folder)
    for text, intent, slots in (("play deck one", "play", {"deck": "1"}), ("sync deck two", "sync", {"deck": "2"}),
                                ("pause deck one", "pause", {"deck": "1"})):
        for take, rate in ((1, 150), (2, 190)):
            writer.add(speak(text, rate=rate), text=text, intent=intent, slots=slots, take=take, speaker="espeak")
    return writer.manifest


def fill(screen, **fields: str) -> None:
    for widget_id, value in fields.items():
        screen.query_one(f"#train-{widget_id}", Input).value = value


@pytest.mark.slow  # loads the live pipeline and fine-tunes Whisper for two steps
async def test_use_this_model_switches_the_engine_of_the_running_live_pipeline(make_app, tmp_path, speak) -> None:
    manifest = synthetic_takes(tmp_path / "takes", speak)
    output = tmp_path / "model"
    silence = tmp_path / "room.wav"  # the live microphone: ten minutes of a quiet room, in real time
    sf.write(silence, np.zeros(16000 * 600, dtype=np.float32), 16000)
    app = make_app(host=FixedHost(microphone_file=silence, realtime=True))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("l", "space")
        await until(pilot, lambda: app.session.running, 300, "the live pipeline")
        assert "tiny.en (bundled)" in app.session.pipeline.engine_description

        await pilot.press("t")
        await pilot.pause()
        screen = app.screen
        assert screen.query_one("#train-model", Select).value == "whisper"  # the default: offline
        fill(screen, data=str(manifest), output=str(output), epochs="2", batch="3")
        screen.query_one("#train-augment", Checkbox).value = False
        await pilot.press("g")
        await pilot.press("c", "t")  # the UI stays responsive while it trains
        assert app.current_mode == "train"

        table = screen.query_one("#before-after", DataTable)
        await until(pilot, lambda: table.row_count == 2, 600, "the end of training")
        assert [table.get_row_at(i)[0] for i in range(2)] == ["before", "after"]
        assert all("%" in cell for cell in table.get_row_at(1)[1:])
        assert len(screen.query_one("#loss-plot", Sparkline).data) == 2  # one point per step
        assert len(screen.query_one("#accuracy-plot", Sparkline).data) == 3  # before + each epoch
        assert "stock" in text_of(screen.query_one("#accuracy-label", Static))
        bar = screen.query_one(ProgressBar)
        assert bar.total and bar.progress == bar.total
        log = "\n".join(line.text for line in screen.query_one(RichLog).lines)
        assert "before training: commands" in log and "epoch 1: commands" in log
        assert (output / "model.bin").is_file()

        old = app.session.pipeline
        await pilot.press("u")
        await until(pilot, lambda: app.session.running and app.session.pipeline is not old, 300, "the switch")
        assert str(output) in app.session.pipeline.engine_description
        await pilot.press("l", "space")  # stop listening
    config = load_config(paths.config_file())
    assert (config.asr.engine, config.asr.model) == ("whisper", str(output))


async def test_the_wav2vec2_route_trains_from_scratch(make_app, tmp_path, speak) -> None:
    manifest = synthetic_takes(tmp_path / "takes", speak)
    output = tmp_path / "model"
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("t")
        await pilot.pause()
        screen = app.screen
        screen.query_one("#train-model", Select).value = "tiny"
        fill(screen, data=str(manifest), output=str(output), epochs="2", batch="2")
        screen.query_one("#train-augment", Checkbox).value = False
        await pilot.pause()
        assert screen.query_one("#train-base", Input).disabled
        await pilot.press("g")
        table = screen.query_one("#before-after", DataTable)
        await until(pilot, lambda: table.row_count == 2, 600, "the end of training")
        assert (output / "config.json").exists()
        await pilot.press("u")
        await pilot.pause()
    config = load_config(paths.config_file())
    assert (config.asr.engine, config.asr.model) == ("wav2vec2", str(output))


async def test_choosing_wav2vec2_offers_its_hub_base(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("t")
        await pilot.pause()
        screen = app.screen
        base = screen.query_one("#train-base", Input)
        assert base.value == "" and "tiny.en" in base.placeholder and "bundled tiny.en" in str(base.tooltip)
        screen.query_one("#train-model", Select).value = "wav2vec2"
        await pilot.pause()
        assert base.value == "facebook/wav2vec2-base-960h"
        assert screen.query_one("#train-epochs", Input).placeholder == "30"
        screen.query_one("#train-model", Select).value = "whisper"
        await pilot.pause()
        assert base.value == ""


async def test_missing_takes_are_a_clear_message(make_app, tmp_path) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("t")
        await pilot.pause()
        app.screen.query_one("#train-data", Input).value = str(tmp_path / "nothing.jsonl")
        await pilot.press("g")
        [note] = list(app._notifications)
        assert "no takes at" in note.message and "Record screen" in note.message


async def test_a_bad_number_is_a_clear_message(make_app, tmp_path) -> None:
    (tmp_path / "manifest.jsonl").write_text("", encoding="utf-8")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("t")
        await pilot.pause()
        app.screen.query_one("#train-data", Input).value = str(tmp_path / "manifest.jsonl")
        app.screen.query_one("#train-epochs", Input).value = "many"
        await pilot.press("g")
        [note] = list(app._notifications)
        assert "epochs must be a number" in note.message
