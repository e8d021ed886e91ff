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


def _music(path, seconds: float = 12.0) -> str:
    """A loud stand-in for music: chords on a kick, at 16 kHz."""
    import numpy as np
    import soundfile as sf

    t = np.arange(int(seconds * 16000)) / 16000
    chords = sum(np.sin(2 * np.pi * f * t) for f in (110, 165, 220, 277))
    kick = np.sin(2 * np.pi * 55 * t) * (np.mod(t, 0.5) < 0.08)
    sf.write(path, (0.1 * chords + 0.4 * kick).astype(np.float32), 16000)
    return str(path)


def test_a_command_over_music_ends_where_its_speech_ends_in_the_clean_clip():
    import numpy as np

    from djtui.bench.music import program, speech_span

    speech = np.concatenate([np.zeros(8000), 0.5 * np.sin(np.arange(16000) / 3.0), np.zeros(4000)]).astype(np.float32)
    start, end = speech_span(speech)
    assert abs(start - 0.5) < 0.011 and abs(end - 1.5) < 0.011

    class Said:
        intent, slots = "play", {"deck": "1"}

    music = np.full(16000 * 3, 0.05, np.float32)
    played = program(music, [(Said(), speech), (Said(), speech)], interval_s=4.0, snr_db=10.0)
    assert played.audio.size == 16000 * (2 * 1 + 2 * 4)  # music throughout: lead-in, two commands, lead-out
    assert played.spans == [(1.0 + start, 1.0 + end), (5.0 + start, 5.0 + end)]
    assert np.all(np.abs(played.audio) > 0) and played.said == [("play", {"deck": "1"})] * 2


def test_bench_latency_over_music_times_commands_from_the_end_of_their_speech(capsys, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text("[resolver]\nsemantic_weight = 0.0\n", encoding="utf-8")
    code = main(["--config", str(config), "bench", "latency", "--asr", "whisper", "--clips", "2", "--threads", "1",
                 "--music", _music(tmp_path / "music.wav"), "--snr", "10", "--interval", "3", "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["snr_db"] == 10 and report["interval_s"] == 3 and report["stream_s"] == 8.0
    on, off = report["runs"]
    assert on["early_finalize"] and not off["early_finalize"] and not on["hog"]
    for run in (on, off):
        assert run["commands"] == 2 and run["right"] + run["wrong"] + run["lost"] == 2
        assert run["cpu_per_stream_s"] > 0 and run["stream_s"] == 8.0
        if run["right"]:
            assert run["said_to_done"]["p50_ms"] > 0  # from the true end of speech, never before it
    assert off["finalised_early"] == 0


def test_snr_and_hog_need_music(capsys):
    assert main(["bench", "latency", "--hog"]) == 2
    assert "--music" in capsys.readouterr().err
