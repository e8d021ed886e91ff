"""``djtui listen --input``: a booth recording heard with and without its reference."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.fixtures.booth import room, say_over, song, through


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
