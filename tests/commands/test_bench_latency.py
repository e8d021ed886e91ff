"""``djtui bench latency`` runs the whole path and reports in the documented JSON shape.
(Speed itself is read from the benchmark's output, not asserted here.)"""

from __future__ import annotations

import json

from djtui.cli import main


def test_bench_latency_reports_every_stage_as_json(tiny_wav2vec2, capsys, monkeypatch, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text("[resolver]\nsemantic_weight = 0.0\n", encoding="utf-8")
    code = main(["--config", str(config), "bench", "latency", "--asr", "wav2vec2", "--model", str(tiny_wav2vec2),
                 "--precision", "int8", "--clips", "2", "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["engine"] == "wav2vec2" and report["model"] == str(tiny_wav2vec2)
    assert report["precision"] == "int8" and report["n"] == 2
    assert set(report["total"]) == {"p50_ms", "p95_ms"}
    assert set(report["stages"]) == {"asr", "resolve", "rescore", "safety", "midi"}
    assert report["total"]["p95_ms"] >= report["stages"]["asr"]["p95_ms"] > 0
    assert report["vad_hangover_ms"] == 300
    assert report["total_cpu"]["p50_ms"] > 0
    assert report["midi"]


def test_bench_latency_rejects_zero_clips(capsys):
    assert main(["bench", "latency", "--clips", "0"]) == 2
    assert "--clips" in capsys.readouterr().err
