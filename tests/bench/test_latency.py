"""``djtui bench latency`` plays spoken commands into the live pipeline, early
finalisation on and off, and reports in the documented JSON shape. (Speed itself is read
from the benchmark's output, not asserted.)"""

from __future__ import annotations

import json

from djtui.cli import main


def test_bench_latency_times_the_live_pipeline_both_ways(jack_midi, capsys, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text("[resolver]\nsemantic_weight = 0.0\n", encoding="utf-8")
    code = main(["--config", str(config), "bench", "latency", "--asr", "whisper", "--clips", "2", "--threads", "1",
                 "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["engine"] == "whisper" and report["clips"] == 2 and report["vad_hangover_ms"] == 300
    assert report["midi"] == "sent on virtual port 'djtui bench'"
    on, off = report["runs"]
    assert on["early_finalize"] and not off["early_finalize"]
    assert off["finalised_early"] == 0
    for run in (on, off):
        assert run["heard"] >= 2 and run["right"] + run["wrong"] + run["missed"] == 2
        assert run["said_to_done"]["p50_ms"] >= run["total"]["p50_ms"] > 0  # the silence waited comes on top
        assert run["total_cpu"]["p50_ms"] > 0 and "safety" in run["stages"]
    if on["finalised_early"] == on["heard"]:  # finalised at the first silence: no hang-over waited
        assert on["said_to_done"]["p95_ms"] < off["said_to_done"]["p50_ms"]


def test_bench_latency_rejects_zero_clips(capsys):
    assert main(["bench", "latency", "--clips", "0"]) == 2
    assert "--clips" in capsys.readouterr().err
