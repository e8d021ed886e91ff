"""What listening costs: the CPU share and the real-time factor over a recent window, and
the live pipeline publishing and logging them."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from djtui.core import events
from djtui.core.audio import SAMPLE_RATE, FileSource
from djtui.core.config import Config
from djtui.core.context_file import parse_context
from djtui.core.pipeline import Pipeline
from djtui.core.sessionlog import SessionLog, read_session
from djtui.core.usage import UsageMeter, process_cpu_s
from tests.fixtures.contexts import TWO_DECKS
from tests.fixtures.models import LoudnessEngine


class Clock:
    def __init__(self) -> None:
        self.wall = self.cpu = 0.0


def test_a_reading_comes_every_two_seconds_of_audio_over_the_last_ten():
    clock = Clock()
    meter = UsageMeter(cores=2, clock=lambda: clock.wall, cpu=lambda: clock.cpu)
    readings = []
    for block in range(int(30 / 0.032)):  # 30 s of 32 ms blocks, heard in real time
        clock.wall += 0.032
        clock.cpu += 0.032 * 0.5  # half a core
        if block % 125 == 0:
            meter.busy(1.0)  # a second of work every 4 s of audio
        if (reading := meter.heard(0.032)) is not None:
            readings.append(reading)
    assert len(readings) == 14  # at 2, 4, … 28 s
    last = readings[-1]
    assert last.window_s == pytest.approx(10.0, abs=0.1) and last.cores == 2
    assert last.cpu_share == pytest.approx(0.25, abs=0.01)  # half a core of two
    assert last.realtime_factor == pytest.approx(0.25, abs=0.11) and last.keeps_up
    meter.busy(25.0)  # a backlog: more work than audio
    for _ in range(63):
        clock.wall += 0.032
        reading = meter.heard(0.032) or reading
    assert not reading.keeps_up


def test_the_cpu_counts_this_process_and_its_children():
    import subprocess
    import sys

    before = process_cpu_s()
    child = subprocess.Popen([sys.executable, "-c", "import time\nend = time.process_time() + 0.5\n"
                                                    "while time.process_time() < end: pass\ntime.sleep(30)"])
    try:
        deadline = 200
        while process_cpu_s() - before < 0.4 and deadline:
            threading.Event().wait(0.05)
            deadline -= 1
        assert process_cpu_s() - before >= 0.4
    finally:
        child.kill()
        child.wait()


def test_the_live_pipeline_publishes_what_it_costs_and_the_session_log_keeps_it(tmp_path):
    path = tmp_path / "set.wav"
    t = np.arange(int(1.0 * SAMPLE_RATE)) / SAMPLE_RATE
    tone = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    silence = np.zeros(SAMPLE_RATE, np.float32)
    sf.write(path, np.concatenate([silence, tone, silence, silence, tone, silence, silence[:8000]]), SAMPLE_RATE)
    config = Config().updated({"vad": {"engine": "energy"}, "resolver": {"semantic_weight": 0.0}})
    log = SessionLog(tmp_path / "sessions")
    pipeline = Pipeline(config, context=parse_context(TWO_DECKS), engine=LoudnessEngine(), dry_run=True,
                        session_log=log)
    seen: list[Any] = []
    pipeline.subscribe(seen.append)
    pipeline.start(FileSource(path, realtime=False))
    assert pipeline.wait(timeout=60)
    pipeline.stop()
    usage = [e for e in seen if isinstance(e, events.Usage)]
    assert len(usage) == 3  # 6.5 s of audio: at 2, 4 and 6 s
    assert all(u.cpu_share >= 0 and u.realtime_factor >= 0 and u.cores >= 1 for u in usage)
    records = read_session(log.path)
    [logged] = [r["usage"] for r in records if "usage" in r]  # one every 30 s
    assert set(logged) == {"cpu_share", "realtime_factor", "keeps_up", "window_s", "cores"}
    assert sum("transcript" in r for r in records) == 2
    assert [r["n"] for r in records if "transcript" in r] == [1, 2]  # the usage record takes no number
