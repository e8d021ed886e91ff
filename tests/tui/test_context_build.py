"""The context model built in the background on first run: start-up does not wait, the
Train screen shows the progress, the app hears when it is ready, and the next live
pipeline listens with it."""

from __future__ import annotations

from textual.widgets import Input, Static

from djtui.core.config import Config
from djtui.training import context_model
from tests.tui.conftest import FixedHost
from tests.tui.helpers import text_of, until


class BuildingHost(FixedHost):
    background_builds = True


async def test_first_run_builds_the_context_model_in_the_background(make_app, small_context) -> None:
    config = Config()
    config.resolver.context = str(small_context.source)
    app = make_app(config, host=BuildingHost())
    app.context_build.recipe = {"per_intent": 2, "epochs": 1}  # a tiny recipe: the real one takes minutes
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.context_build.running  # started, and the app is already answering keys
        assert any("building the context model" in n.message for n in app._notifications)
        await pilot.press("t")
        line = app.screen.query_one("#context-model", Static)
        await until(pilot, lambda: "context model (small)" in text_of(line), 30, "the progress line")
        await until(pilot, lambda: not app.context_build.running, 600, "the build")
        await pilot.pause()
        assert any("context model ready" in n.message for n in app._notifications)
        built = context_model.ready(small_context)
        assert built is not None
        await until(pilot, lambda: "ready" in text_of(line), 5, "the line saying so")
        pipeline = app.host.pipeline(app.config)
        try:
            assert "the context model for small" in pipeline.engine_description
        finally:
            pipeline.stop()

    app = make_app(config, host=BuildingHost())  # next run: nothing to build; a voice model starts from it
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("t")
        await pilot.pause()
        assert not app.context_build.running
        assert app.screen.query_one("#train-base", Input).value == str(built)


async def test_no_background_build_when_a_model_is_chosen(make_app, small_context, tmp_path) -> None:
    config = Config()
    config.resolver.context = str(small_context.source)
    config.asr.engine = "whisper"
    app = make_app(config, host=BuildingHost())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert not app.context_build.running and app.context_build.status == ""
