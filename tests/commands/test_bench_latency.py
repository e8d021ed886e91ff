"""``djtui bench latency`` plays spoken commands into the live pipeline and reports in the
documented JSON shape. (Speed itself is read from the benchmark's output, not asserted.)"""

from __future__ import annotations

import json

from djtui.cli import main


def test_bench_latency_times_the_live_pipeline_as_json(tiny_wav2vec2, jack_midi, capsys, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text("[resolver]\nsemantic_weight = 0.0\n", encoding="utf-8")
    code = main(["--config", str(config), "bench", "latency", "--asr", "wav2vec2", "--model", str(tiny_wav2vec2),
                 "--precision", "int8", "--clips", "2", "--threads", "1", "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["engine"] == "wav2vec2" and report["model"] == str(tiny_wav2vec2)
    assert report["precision"] == "int8" and report["clips"] == 2
    # Both spoken commands were heard by the VAD, and each one's ASR ran during the hang-over.
    assert report["n"] >= 2 and report["asr_ahead"] == report["n"]
    assert set(report["total"]) == {"p50_ms", "p95_ms"}
    assert {"asr", "resolve", "rescore", "safety"} <= set(report["stages"]) <= {"asr", "resolve", "rescore", "safety", "midi"}
    assert report["total"]["p95_ms"] >= report["stages"]["asr"]["p95_ms"] >= 0
    assert report["total"]["p50_ms"] > 0 and report["total_cpu"]["p50_ms"] > 0
    assert report["vad_hangover_ms"] == 300
    # The same clips with ASR started at the endpoint: the ASR is all in the total then.
    at_endpoint = report["asr_at_endpoint"]
    assert at_endpoint["n"] == 2 and at_endpoint["stages"]["asr"]["p50_ms"] > 0
    assert at_endpoint["total"]["p95_ms"] >= at_endpoint["stages"]["asr"]["p95_ms"]
    assert report["midi"] == "sent on virtual port 'djtui bench'"


def test_bench_latency_rejects_zero_clips(capsys):
    assert main(["bench", "latency", "--clips", "0"]) == 2
    assert "--clips" in capsys.readouterr().err
