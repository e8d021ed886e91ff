"""The Train screen: a tiny from-scratch model trained on synthetic takes, live plots,
the before/after table, and "use this model" switching the live engine."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Checkbox, DataTable, Input, ProgressBar, RichLog, Select, Sparkline, Static

from djtui.core import paths
from djtui.core.config import load_config
from djtui.training.manifest import ManifestWriter
from tests.tui.helpers import text_of, until


def synthetic_takes(folder: Path, speak) -> Path:
    writer = ManifestWriter(folder)
    for text, intent, slots in (("play deck one", "play", {"deck": "1"}), ("sync deck two", "sync", {"deck": "2"}),
                                ("pause deck one", "pause", {"deck": "1"})):
        for take, rate in ((1, 150), (2, 190)):
            writer.add(speak(text, rate=rate), text=text, intent=intent, slots=slots, take=take, speaker="espeak")
    return writer.manifest


async def test_training_shows_progress_then_before_after_and_switches_the_live_engine(make_app, tmp_path, speak) -> None:
    manifest = synthetic_takes(tmp_path / "takes", speak)
    output = tmp_path / "model"
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("t")
        await pilot.pause()
        screen = app.screen
        screen.query_one("#train-data", Input).value = str(manifest)
        screen.query_one("#train-output", Input).value = str(output)
        screen.query_one("#train-scratch", Select).value = "tiny"
        screen.query_one("#train-epochs", Input).value = "2"
        screen.query_one("#train-batch", Input).value = "2"
        screen.query_one("#train-augment", Checkbox).value = False
        await pilot.pause()
        assert screen.query_one("#train-base", Input).disabled
        await pilot.press("g")
        state = text_of(screen.query_one("#train-state", Static))
        assert "training" in state or "done" in state  # a quiet machine can finish 6 takes at once
        await pilot.press("c", "t")  # the UI stays responsive while it trains
        assert app.current_mode == "train"

        table = screen.query_one("#before-after", DataTable)
        await until(pilot, lambda: table.row_count == 2, 600, "the end of training")
        assert [table.get_row_at(i)[0] for i in range(2)] == ["before", "after"]
        assert all("%" in cell or cell == "n/a" for cell in table.get_row_at(1)[1:])
        assert screen.query_one("#loss-plot", Sparkline).data
        assert len(screen.query_one("#wer-plot", Sparkline).data) >= 2  # before + each epoch
        bar = screen.query_one(ProgressBar)
        assert bar.total and bar.progress == bar.total
        log = "\n".join(line.text for line in screen.query_one(RichLog).lines)
        assert "before training: WER" in log and "epoch 1: WER" in log
        assert (output / "config.json").exists()

        await pilot.press("u")
        await pilot.pause()
    config = load_config(paths.config_file())
    assert (config.asr.engine, config.asr.model) == ("wav2vec2", str(output))


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
