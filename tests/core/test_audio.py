"""Audio in: file blocks, resampling, levels, and clear errors for bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import soundfile as sf

from djtui.core.audio import BLOCK, SAMPLE_RATE, SILENCE_DBFS, FileSource, level, read_audio
from djtui.core.errors import DjtuiError


def sine(freq: float, seconds: float, rate: int, amplitude: float) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_level_of_known_signals() -> None:
    full_square = np.where(np.arange(BLOCK) % 2 == 0, 1.0, -1.0).astype(np.float32)
    assert level(full_square).rms_dbfs == pytest.approx(0.0, abs=1e-6)
    assert level(full_square).peak_dbfs == pytest.approx(0.0, abs=1e-6)

    half_sine = sine(1000, BLOCK / SAMPLE_RATE, SAMPLE_RATE, 0.5)  # exactly 32 periods
    assert level(half_sine).peak_dbfs == pytest.approx(20 * math.log10(0.5), abs=0.01)
    assert level(half_sine).rms_dbfs == pytest.approx(20 * math.log10(0.5 / math.sqrt(2)), abs=0.01)

    silent = np.zeros(BLOCK, dtype=np.float32)
    assert level(silent) == level(np.zeros(0, dtype=np.float32))
    assert level(silent).rms_dbfs == SILENCE_DBFS


def test_file_source_yields_fixed_blocks_and_keeps_the_signal(tmp_path, speak) -> None:
    speech = speak("play deck two")
    path = tmp_path / "command.wav"
    sf.write(path, speech, SAMPLE_RATE)

    blocks = list(FileSource(path, realtime=False).blocks())

    assert all(b.shape == (BLOCK,) and b.dtype == np.float32 for b in blocks)
    assert len(blocks) == math.ceil(len(speech) / BLOCK)
    joined = np.concatenate(blocks)
    np.testing.assert_allclose(joined[: len(speech)], speech, atol=1e-4)  # 16-bit wav
    assert not joined[len(speech) :].any()  # the last block is padded with silence


def test_file_source_resamples_and_mixes_to_mono(tmp_path) -> None:
    tone = sine(440, 1.0, 44100, 0.5)
    path = tmp_path / "stereo.flac"
    sf.write(path, np.stack([tone, tone], axis=1), 44100)

    audio = read_audio(path)

    assert abs(len(audio) - SAMPLE_RATE) <= BLOCK
    middle = audio[2000:14000]
    assert level(middle).peak_dbfs == pytest.approx(20 * math.log10(0.5), abs=0.1)
    spectrum = np.abs(np.fft.rfft(middle))
    assert np.argmax(spectrum) * SAMPLE_RATE / len(middle) == pytest.approx(440, abs=3)


def test_file_source_in_real_time_takes_as_long_as_the_file(tmp_path) -> None:
    import time

    path = tmp_path / "half.wav"
    sf.write(path, np.zeros(SAMPLE_RATE // 2, dtype=np.float32), SAMPLE_RATE)
    started = time.monotonic()
    list(FileSource(path, realtime=True).blocks())
    assert time.monotonic() - started == pytest.approx(0.5, abs=0.15)


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "no such audio file"), (b"", "not a readable audio file"), (b"RIFF\x00garbage" * 10, "not a readable audio file")],
)
def test_bad_files_are_one_clear_error(tmp_path, content, message) -> None:
    path = tmp_path / "bad.wav"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DjtuiError, match=message) as error:
        FileSource(path)
    assert error.value.hint


def test_empty_wav_is_one_clear_error(tmp_path) -> None:
    path = tmp_path / "empty.wav"
    sf.write(path, np.zeros(0, dtype=np.float32), SAMPLE_RATE)
    with pytest.raises(DjtuiError, match="holds no audio"):
        FileSource(path)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_file_with_nan_or_inf_samples_is_one_clear_error_naming_it(tmp_path, bad) -> None:
    audio = sine(440, 2.0, SAMPLE_RATE, 0.3)
    audio[SAMPLE_RATE + 10] = bad
    path = tmp_path / "broken.wav"
    sf.write(path, audio, SAMPLE_RATE, subtype="FLOAT")
    with pytest.raises(DjtuiError, match=r"broken.wav: holds NaN or infinite samples \(the first at 1.0 s\)") as error:
        FileSource(path)
    assert "16-bit" in error.value.hint
    sf.write(path, np.nan_to_num(audio, posinf=0, neginf=0), SAMPLE_RATE, subtype="FLOAT")
    assert len(read_audio(path)) >= len(audio)  # the same file, mended, reads


def test_a_missing_input_device_is_one_clear_error() -> None:
    from djtui.core.audio import MicrophoneSource

    with pytest.raises(DjtuiError, match="not found") as error:
        MicrophoneSource("no such microphone anywhere")
    assert "input_device" in error.value.hint or "no input devices" in error.value.hint


LISTENER = r"""
import sys
from djtui.core.audio import MicrophoneSource
source = MicrophoneSource("system", on_status=lambda m, h: print("status:", m, "|", h, flush=True), stall_s=0.5)
print("rate", source.device_rate, flush=True)
for n, block in enumerate(source.blocks()):
    assert block.shape == (512,)
    if n == 20:
        print("listening", flush=True)
"""


def test_losing_the_device_mid_set_is_reported_not_a_crash() -> None:
    """A 48 kHz JACK server (so the stream is resampled) is killed under a listening
    source: the source reports the loss, with what to do, and waits; no traceback. In a
    child process: PortAudio cannot shut down cleanly once its JACK server is gone."""
    import os
    import shutil
    import subprocess
    import sys
    import time
    import uuid

    if shutil.which("jackd") is None:
        if os.environ.get("CI"):
            pytest.fail("jackd is required in CI")
        pytest.skip("jackd not found (Debian: apt install jackd2)")
    env = {**os.environ, "JACK_DEFAULT_SERVER": f"djtui-loss-{uuid.uuid4().hex[:8]}", "JACK_NO_START_SERVER": "1",
           "JACK_NO_AUDIO_RESERVATION": "1"}
    server = subprocess.Popen(["jackd", "--no-realtime", "-d", "dummy", "-r", "48000", "-p", "1024"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    listener = None
    try:
        deadline = time.monotonic() + 10
        while subprocess.run(["jack_lsp"], env=env, capture_output=True).returncode != 0:
            assert time.monotonic() < deadline and server.poll() is None, "jackd did not start"
            time.sleep(0.05)
        listener = subprocess.Popen([sys.executable, "-c", LISTENER], env=env, text=True,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert listener.stdout.readline().split() == ["rate", "48000"]
        assert listener.stdout.readline().strip() == "listening"  # resampled 48k -> 16k blocks
        server.terminate()
        server.wait(timeout=10)
        status = listener.stdout.readline()
        assert status.startswith("status: audio input lost: system |")
        assert "JACK server stopped" in status
        assert listener.poll() is None  # still there, waiting
    finally:
        if listener is not None:
            listener.kill()
            assert "Traceback" not in listener.communicate(timeout=10)[1]
        if server.poll() is None:
            server.terminate()
            server.wait(timeout=10)
