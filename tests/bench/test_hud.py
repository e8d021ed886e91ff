"""``djtui bench hud`` runs the full app beside headless listening and exits cleanly."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_bench_hud_compares_both_sides_and_leaves_nothing_running(tmp_path):
    """Run as its own process: a pipeline or a background context-model build left running
    when the app closes aborts the interpreter at exit ("terminate called without an
    active exception"), which only the exit status shows; the build would also train
    beside the measurement."""
    config = tmp_path / "config.toml"
    config.write_text("[resolver]\nsemantic_weight = 0.0\n[asr]\nthreads = 1\n", encoding="utf-8")
    cache = tmp_path / "cache"  # where a context-model build would start its work
    done = subprocess.run([sys.executable, "-m", "djtui", "--config", str(config), "bench", "hud", "--clips", "1",
                           "--rounds", "1", "--json"], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "HF_HUB_OFFLINE": "1", "DJTUI_CACHE_DIR": str(cache)})
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["headless"]["n"] == report["hud"]["n"] == 1
    assert report["ratio_p50"] > 0
    assert not (cache / "context-model").exists()  # no model was built beside the measurement
