"""``djtui listen`` as a DJ meets it: what a dry run shows, which time a line reports,
the list of inputs, a theme it has no use for, Ctrl-C, and a booth recording heard with
and without its reference."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from djtui.cli import main
from djtui.core.audio import SAMPLE_RATE
from djtui.core.config import Config, save_config
from tests.fixtures.booth import room, say_over, song, through

QUICK = Config().updated({"resolver": {"semantic_weight": 0.0}, "asr": {"engine": "whisper"}})
"""Grammar and sound only (no meaning model to load): the command below needs no more."""


@pytest.fixture
def play_deck_two(tmp_path: Path, speak) -> Path:
    path = tmp_path / "play.wav"
    sf.write(path, np.concatenate([speak("play the second deck"), np.zeros(SAMPLE_RATE // 2, np.float32)]),
             SAMPLE_RATE)
    return path


@pytest.fixture
def quick_config(tmp_path: Path) -> Path:
    return save_config(QUICK, tmp_path / "config.toml")


def test_a_dry_run_says_so_and_shows_what_a_disarmed_command_would_send(
        play_deck_two: Path, quick_config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(quick_config), "listen", "--input", str(play_deck_two), "--dry-run", "--json"]) == 0
    captured = capsys.readouterr()
    [line] = [json.loads(text) for text in captured.out.splitlines()]  # stdout: JSON alone
    said = captured.err.splitlines()  # what is loading, before listening starts (seconds of it)
    assert said[0].startswith("djtui: loading the speech model (whisper") and said[0].endswith(")…")
    assert said[1:4] == ["djtui: reading the pronunciation dictionary…", "djtui: loading the grammar decoder (torch, int8)…",
                         "djtui: warming up…"]
    assert said[4].startswith("djtui: listening to ")
    assert line["dry_run"] is True  # a dry run, whether or not anything was approved
    assert line["verdict"]["reason"] == "disarmed" and line["midi"] == []
    assert [(m["function"], m["channel"], m["number"]) for m in line["if_armed"]] == [("PlayPause", 1, 11)]
    # played in real time: the time the DJ feels, end of speech to verdict, after the hang-over
    assert line["said_to_done_ms"] == pytest.approx(line["stages_ms"]["vad_endpoint"] + line["total_ms"], abs=0.02)


def test_a_plain_line_in_real_time_ends_with_said_to_done(
        play_deck_two: Path, quick_config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(quick_config), "listen", "--input", str(play_deck_two), "--dry-run"]) == 0
    [line] = capsys.readouterr().out.splitlines()
    assert "rejected (disarmed)" in line and "once armed: would send PlayPause ch2 note 11=127" in line
    said_to_done = line.rsplit(" · ", 1)[1]
    assert said_to_done.startswith("said→done ") and said_to_done.endswith(" ms")
    assert int(said_to_done.split()[1]) >= QUICK.vad.hangover_ms  # never the misleading "0 ms"


def test_ctrl_c_stops_listening_with_status_130(play_deck_two: Path, quick_config: Path, tmp_path: Path) -> None:
    long_file = tmp_path / "long.wav"
    sf.write(long_file, np.zeros(SAMPLE_RATE * 120, np.float32), SAMPLE_RATE)
    child = subprocess.Popen([sys.executable, "-m", "djtui", "--config", str(quick_config), "listen", "--input",
                              str(long_file), "--dry-run"], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                             text=True, env=os.environ.copy())
    try:
        for line in child.stderr:
            if "listening to" in line:
                break
        child.send_signal(signal.SIGINT)
        assert child.wait(timeout=60) == 130
    finally:
        child.kill()
        child.wait()


def test_list_devices_explains_its_columns_and_the_star(jack_server, capsys: pytest.CaptureFixture[str]) -> None:
    done = subprocess.run([sys.executable, "-m", "djtui", "listen", "--list-devices"], capture_output=True, text=True,
                          timeout=60, env=os.environ.copy())
    assert done.returncode == 0, done.stderr
    header, columns, *devices = done.stdout.splitlines()
    assert header == "audio inputs (* = the default; --device takes an index or part of a name):"
    assert columns.split() == ["index", "name", "(host", "API,", "sample", "rate)"]
    assert any(line.startswith("*") and "system" in line and "JACK" in line for line in devices)


def test_an_unknown_theme_is_refused_with_the_themes_there_are(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--theme", "nope", "listen", "--list-devices"]) == 2
    err = capsys.readouterr().err
    assert "unknown theme 'nope'" in err and "booth, mono, stage" in err


def _not_a_model(tmp_path: Path, kind: str) -> Path:
    """What a --model that is not one looks like: an empty folder, a broken config.json,
    a plain file, a model.bin of 10 bytes."""
    path = tmp_path / kind
    if kind == "plain file":
        path.write_text("not a model")
        return path
    path.mkdir()
    if kind == "broken config":
        (path / "config.json").write_text("{not json")
    elif kind == "10-byte model.bin":
        (path / "model.bin").write_bytes(b"0123456789")
        (path / "config.json").write_text("{}")
    return path


@pytest.mark.parametrize("kind", ["empty folder", "broken config", "plain file", "10-byte model.bin"])
def test_listen_with_a_model_that_is_not_one_exits_2_with_one_message(
        kind: str, play_deck_two: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = _not_a_model(tmp_path, kind)
    assert main(["listen", "--input", str(play_deck_two), "--fast", "--dry-run", "--model", str(model)]) == 2
    captured = capsys.readouterr()
    *loading, message, hint = captured.err.strip().splitlines()  # what is wrong, then what to do
    [loading] = loading  # and nothing after: never the stock model
    assert loading.startswith("djtui: loading the speech model (")
    assert message.startswith(f"djtui: {model}") and hint.startswith("  → ") and captured.out == ""


def test_eval_with_a_model_that_is_not_one_exits_2_with_one_message(
        play_deck_two: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = _not_a_model(tmp_path, "empty folder")
    labels = tmp_path / "label.json"
    labels.write_text(json.dumps({play_deck_two.name: {"intent": "play", "slots": {"deck": "2"}}}))
    assert main(["eval", "--labels", str(labels), "--model", str(model)]) == 2
    err = capsys.readouterr().err
    assert f"djtui: {model}" in err and "not a model" in err and "Traceback" not in err


def test_an_input_past_full_scale_is_said_on_stderr_before_anything_loads(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hot = tmp_path / "hot.wav"
    sf.write(hot, 1.5 * np.sin(np.arange(SAMPLE_RATE) / 5).astype(np.float32), SAMPLE_RATE, subtype="FLOAT")
    model = _not_a_model(tmp_path, "empty folder")  # stops the run right after the input opened
    assert main(["listen", "--input", str(hot), "--dry-run", "--model", str(model)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"djtui: {hot}: peaks at 1.50× full scale (+3.5 dBFS): clipped to full scale"


@pytest.mark.parametrize("pace", ["--fast", "--realtime"])
def test_an_input_cut_short_is_refused_with_what_its_header_promised(
        pace: str, play_deck_two: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = play_deck_two.read_bytes()
    play_deck_two.write_bytes(data[: 44 + (len(data) - 44) // 2])
    assert main(["listen", "--input", str(play_deck_two), pace, "--dry-run"]) == 2
    assert f"djtui: {play_deck_two}: cut short: its header promises " in capsys.readouterr().err


@pytest.mark.slow
def test_a_booth_recording_is_understood_with_its_reference_channel(tmp_path: Path, speak,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from djtui.cli import main

    music = song("armygeddon", 40, 9)
    microphone = through(music, delay_ms=110, response=room(0.5))
    say_over(microphone, speak("kill the bass on the right", pad_s=0.0), at_s=6.0, snr_db=0.0)
    recording = tmp_path / "booth.wav"
    sf.write(recording, np.stack([microphone, music], axis=1), 16000)
    flags = ["listen", "--input", str(recording), "--fast", "--dry-run", "--json", "--asr", "whisper",
             "--set", "resolver.semantic_weight=0"]

    assert main([*flags, "--reference-channel", "2"]) == 0
    out, err = capsys.readouterr()
    assert f"reference (channel 2 of {recording}): removing the mix from the microphone" in err
    assert "ms ahead of the microphone" in err
    assert understood(out) == [("eq_kill", {"band": "low", "deck": "2"})]

    assert main(flags) == 0  # channel 1 alone: the microphone as it is
    out, err = capsys.readouterr()
    assert "reference" not in err
    assert understood(out) == []


def understood(out: str) -> list[tuple[str, dict[str, str]]]:
    """Readings confident enough to act on ([safety] min_confidence 0.8): disarmed, the
    gate sends nothing, so the reading is what is judged."""
    tops = [json.loads(line)["top5"][0] for line in out.splitlines() if json.loads(line)["top5"]]
    return [(top["intent"], top["slots"]) for top in tops if top["score"] >= 0.8]


@pytest.mark.parametrize("command", [["listen", "--input", "{recording}", "--fast", "--reference-channel", "2"],
                                     ["bench", "echo", "--booth", "101"]])
def test_without_speexdsp_a_reference_is_one_clear_error_not_a_traceback(command: list[str], tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """A machine without libspeexdsp (bootstrap installs it; a hand-made install may
    not): asked to cancel, djtui says what is missing and how to install it, and stops."""
    import ctypes

    from djtui.cli import main
    from djtui.core import echo_cancel

    real = ctypes.CDLL

    def cdll(name: str, *args: object, **kwargs: object) -> ctypes.CDLL:
        if "speexdsp" in str(name):
            raise OSError(f"{name}: cannot open shared object file: No such file or directory")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(echo_cancel, "_library", None)  # not loaded yet, as in a fresh process
    monkeypatch.setattr(ctypes, "CDLL", cdll)
    recording = tmp_path / "booth.wav"
    sf.write(recording, np.zeros((16000, 2), dtype=np.float32), 16000)

    assert main([part.format(recording=recording) for part in command]) == 2
    out, err = capsys.readouterr()
    assert err.startswith("djtui: echo cancellation needs Xiph's speexdsp library, which is not installed")
    assert "→ install it (Debian/Ubuntu: apt install libspeexdsp1; macOS: brew install speexdsp)" in err
    assert "Traceback" not in err and len(err.splitlines()) == 2
