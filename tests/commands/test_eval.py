"""``djtui eval``: clear errors for what it can't measure, and a run end to end on spoken
commands through the real listener (bundled Whisper tiny.en)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf


def _write_labels(tmp_path: Path, entries: dict[str, dict]) -> Path:
    path = tmp_path / "label.json"
    path.write_text(json.dumps(entries))
    return path


def test_eval_refuses_snrs_without_noise_and_missing_audio(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from djtui.cli import main

    assert main(["eval"]) == 2
    assert "nothing to measure" in capsys.readouterr().err
    labels = _write_labels(tmp_path, {"gone.wav": {"intent": "play", "slots": {}}})
    assert main(["eval", "--labels", str(labels), "--snr", "6"]) == 2
    assert "--snr needs noise" in capsys.readouterr().err
    assert main(["eval", "--labels", str(labels)]) == 2
    assert "labelled audio file(s) not found" in capsys.readouterr().err
    sf.write(tmp_path / "gone.wav", np.zeros(1600, np.float32), 16000)
    coffee = _write_labels(tmp_path, {"gone.wav": {"intent": "orderDrink", "slots": {}}})
    assert main(["eval", "--labels", str(coffee)]) == 2  # the default DJ context has no orderDrink
    assert "intents context 'dj' does not have: orderDrink" in capsys.readouterr().err


TINY_CONTEXT = """\
context:
  name: tiny
  slots:
    deck:
      "1": [one]
      "2": [two]
  intents:
    play:
      expressions: ["play deck $deck:deck"]
    stop:
      expressions: ["stop deck $deck:deck"]
    load:
      expressions: ["load the next track"]
"""


@pytest.mark.slow
def test_djtui_eval_end_to_end_on_spoken_commands(tmp_path: Path, speak, capsys: pytest.CaptureFixture[str]) -> None:
    """The real recognizer (bundled Whisper tiny.en, resolver, rescoring) on espeak
    commands, clean and in noise, with a music-free negative file for false accepts."""
    from djtui.cli import main

    context = tmp_path / "tiny.yaml"
    context.write_text(TINY_CONTEXT)
    data = tmp_path / "audio"
    data.mkdir()
    said = {"a.wav": ("play deck one", "play", {"deck": "1"}), "b.wav": ("stop deck two", "stop", {"deck": "2"}),
            "c.wav": ("load the next track", "load", {})}
    for name, (text, _, _) in said.items():
        sf.write(data / name, speak(text), 16000)
    sf.write(data / "silence.wav", np.zeros(16000, np.float32), 16000)
    labels = _write_labels(tmp_path, {
        **{name: {"intent": intent, "slots": slots, "text": text} for name, (text, intent, slots) in said.items()},
        "silence.wav": {"intent": None, "slots": {}},
    })
    rng = np.random.default_rng(0)
    noise = tmp_path / "noise.wav"
    sf.write(noise, (0.1 * rng.standard_normal(16000 * 5)).astype(np.float32), 16000)
    report, plot = tmp_path / "report.json", tmp_path / "plot.png"

    code = main(["eval", "--context", str(context), "--labels", str(labels), "--data", str(data),
                 "--noise", str(noise), "--snr", "20", "--negatives", str(noise), "--segment", "windows",
                 "--json", str(report), "--plot", str(plot)])

    assert code == 0
    result = json.loads(report.read_text())
    assert result["n"] == 8 and list(result["by_snr"]) == ["clean", "20"]
    assert result["by_snr"]["clean"]["accuracy"] >= 0.75  # espeak is clear; tiny.en gets most of it
    assert result["false_accepts"] == 0  # silence is never a command
    assert result["wer"] is not None and result["negatives"]["utterances"] == 3
    assert result["false_accepts_per_hour"] is not None
    assert result["latency"]["p50"] > 0 and "asr" in result["latency"]["stages"]
    assert result["engine"].startswith("whisper")
    assert result["top1_accuracy"] >= result["by_snr"]["clean"]["accuracy"] / 2
    assert plot.read_bytes()[:4] == b"\x89PNG"
    out = capsys.readouterr().out
    assert "command acceptance" in out and "20 dB" in out


def _cut_short(path: Path) -> None:
    """Keep the full header and half of the data, as a recording cut off by a crash."""
    data = path.read_bytes()
    path.write_bytes(data[: 44 + (len(data) - 44) // 2])


@pytest.mark.slow
def test_a_file_that_cannot_be_read_is_a_skipped_trial_and_every_measurement_stays(
        tmp_path: Path, speak, capsys: pytest.CaptureFixture[str]) -> None:
    """2 good files, an empty one, one cut short and one with a gain of a million: the
    bad three are named, skipped and in no figure; the two are measured and reported."""
    from djtui.cli import main

    context = tmp_path / "tiny.yaml"
    context.write_text(TINY_CONTEXT)
    data = tmp_path / "audio"
    data.mkdir()
    sf.write(data / "a.wav", speak("play deck one"), 16000)
    sf.write(data / "b.wav", speak("stop deck two"), 16000)
    (data / "empty.wav").write_bytes(b"")
    sf.write(data / "cut.wav", speak("load the next track"), 16000, subtype="PCM_16")
    _cut_short(data / "cut.wav")
    sf.write(data / "loud.wav", speak("load the next track") * 1e6, 16000, subtype="FLOAT")
    labels = _write_labels(tmp_path, {
        "a.wav": {"intent": "play", "slots": {"deck": "1"}}, "empty.wav": {"intent": "load", "slots": {}},
        "cut.wav": {"intent": "load", "slots": {}}, "b.wav": {"intent": "stop", "slots": {"deck": "2"}},
        "loud.wav": {"intent": "load", "slots": {}},
    })
    report = tmp_path / "report.json"

    code = main(["eval", "--context", str(context), "--labels", str(labels), "--data", str(data),
                 "--json", str(report), "--set", "resolver.semantic_weight=0"])

    captured = capsys.readouterr()
    assert code == 1  # problems found; the report was still written
    result = json.loads(report.read_text())
    assert result["n"] == 2 and {t["file"] for t in result["trials"]} == {"a.wav", "b.wav"}
    skipped = {Path(s["file"]).name: s["reason"] for s in result["skipped"]}
    assert set(skipped) == {"empty.wav", "cut.wav", "loud.wav"}
    assert "cut short: its header promises" in skipped["cut.wav"] and "the file holds" in skipped["cut.wav"]
    assert "full scale" in skipped["loud.wav"]
    assert f"{data / 'cut.wav'}: skipped, not measured: cut short" in captured.out
    assert "command acceptance" in captured.out and "3 files skipped" in captured.err
