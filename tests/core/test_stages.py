"""The one place stages are built from the config: what a setting changes reaches every
front end alike."""

from __future__ import annotations

import pytest

from djtui.core import stages
from djtui.core.config import Config
from djtui.core.context_file import parse_context
from tests.fixtures.contexts import GOOD
from tests.fixtures.models import LoudnessEngine


def test_a_dry_run_opens_no_port_and_false_keeps_no_log():
    built = stages.build(Config(), context=parse_context(GOOD), engine=LoudnessEngine(), dry_run=True,
                         session_log=False)
    assert built.midi_out is None and built.dry_run and built.session_log is None
    assert built.engine.name == "loudness" and built.engine_description == "hears a fixed sentence in loud audio"
    assert built.context.name == "tiny" and built.gate.context is built.context


def test_the_context_is_the_one_given_else_the_configured_one_else_the_bundled_one(tmp_path):
    mine = tmp_path / "mine.yaml"
    mine.write_text(GOOD)
    assert stages.context_for(Config()).name == "dj"
    configured = Config().updated({"resolver": {"context": str(mine)}})
    assert stages.context_for(configured).name == "tiny"
    assert stages.context_for(Config(), mine).source == mine


@pytest.mark.parametrize("trigger, open_", [("always", True), ("push_to_talk", False), ("midi_hold", False)])
def test_the_endpointer_listens_as_the_trigger_says(trigger, open_):
    config = Config().updated({"audio": {"trigger": trigger}, "vad": {"engine": "energy", "hangover_ms": 500}})
    endpointer = stages.endpointer_for(config)
    assert endpointer.listening is open_ and endpointer.hangover_ms == 500
    assert endpointer.tail_ms == stages.DRAFT_TAIL_MS


def test_the_gate_takes_the_safety_settings():
    config = Config().updated({"safety": {"min_confidence": 0.9, "armed_at_start": True}})
    gate = stages.gate_for(parse_context(GOOD), config)
    assert gate.config.min_confidence == 0.9 and gate.armed


def test_closing_closes_every_port_once_even_when_one_fails():
    built = stages.build(Config(), context=parse_context(GOOD), engine=LoudnessEngine(), dry_run=True,
                         session_log=False)
    closed: list[str] = []

    def broken() -> None:
        closed.append("broken")
        raise OSError("the MIDI system went away")

    built.closers.extend([broken, lambda: closed.append("feedback")])
    built.close()
    built.close()
    assert closed == ["broken", "feedback"]


@pytest.mark.parametrize("threads, torch_threads", [(0, stages.DECODER_THREADS), (2, 2)])
def test_the_grammar_search_decodes_on_one_thread_unless_asr_threads_says(whisper_engine, threads, torch_threads):
    import torch

    before = torch.get_num_threads()
    try:
        search = stages.grammar_search_for(parse_context(GOOD), whisper_engine, threads)
        assert torch.get_num_threads() == torch_threads and search.decoder is not None
    finally:
        torch.set_num_threads(before)


def test_building_says_each_slow_step_before_it_starts_and_numpys_blas_runs_one_thread():
    from threadpoolctl import threadpool_info

    heard: list[str] = []
    stages.build(Config(), context=parse_context(GOOD), engine=LoudnessEngine(), dry_run=True, session_log=False,
                 on_progress=heard.append)
    assert heard[:2] == ["reading the pronunciation dictionary…", "warming up…"]
    assert heard[2] == "loading the meaning model…"  # the first paraphrase would need it: loaded now
    assert all(pool["num_threads"] == stages.BLAS_THREADS for pool in threadpool_info() if pool["user_api"] == "blas")
