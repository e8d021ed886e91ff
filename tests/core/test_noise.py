"""Noise mixing: the benchmark's peak-frame SNR, augmentation's RMS SNR, and the bank of
recordings excerpts come from."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from djtui.core import noise
from djtui.core.errors import DjtuiError
from djtui.core.noise import NoiseBank


def _tone_burst(seconds: float = 1.5) -> np.ndarray:
    t = np.arange(int(seconds * 16000)) / 16000
    envelope = np.clip(np.sin(np.pi * t / seconds), 0, None) ** 2  # loud in the middle
    return (0.3 * envelope * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


@pytest.mark.parametrize("snr_db", [0.0, 6.0, 12.5, 24.0])
def test_mixed_noise_has_the_asked_peak_frame_snr(snr_db: float) -> None:
    speech = _tone_burst()
    segment = np.random.default_rng(1).normal(0, 0.05, speech.size).astype(np.float32)
    part = noise.scale_to_peak_snr(speech, segment, snr_db)
    assert noise.peak_snr_db(speech, part) == pytest.approx(snr_db, abs=1e-3)
    # the mix is exactly these parts, scaled down as a whole only where the sum would clip
    mixed = noise.mix_at_peak_snr(speech, segment, snr_db)
    assert np.allclose(mixed, (speech + part) / max(1.0, np.max(np.abs(speech + part))), atol=1e-6)


def test_a_loud_mix_is_scaled_as_a_whole_and_never_clips() -> None:
    speech = _tone_burst()
    segment = np.random.default_rng(2).uniform(-1, 1, speech.size).astype(np.float32)
    mixed = noise.mix_at_peak_snr(speech, segment, -12.0)
    part = noise.scale_to_peak_snr(speech, segment, -12.0)
    peak = np.max(np.abs(speech + part))
    assert peak > 1.0 and np.max(np.abs(mixed)) <= 1.0
    assert np.allclose(mixed, (speech + part) / peak, atol=1e-6)  # both parts keep their ratio


def test_silent_noise_is_refused_for_the_benchmark_and_ignored_for_augmentation() -> None:
    speech = _tone_burst(1.0)
    with pytest.raises(DjtuiError, match="silent"):
        noise.scale_to_peak_snr(speech, np.zeros(speech.size, np.float32), 6.0)
    assert np.array_equal(noise.add_at_rms_snr(speech, np.zeros(speech.size, np.float32), 6.0), speech)


@pytest.mark.parametrize("snr_db", [0.0, 10.0, 20.0])
def test_augmentation_mixes_at_a_whole_clip_rms_ratio(snr_db: float) -> None:
    speech = 0.1 * _tone_burst()
    segment = np.random.default_rng(3).normal(0, 0.01, speech.size).astype(np.float32)
    mixed = noise.add_at_rms_snr(speech, segment, snr_db)
    added = mixed - speech
    assert 20 * np.log10(noise.rms(speech) / noise.rms(added)) == pytest.approx(snr_db, abs=0.01)


def test_the_bank_reads_seeded_excerpts_of_its_recordings(tmp_path: Path) -> None:
    for name, seconds in (("long.wav", 5.0), ("short.flac", 0.2)):
        sf.write(tmp_path / name, np.random.default_rng(len(name)).normal(0, 0.2, int(seconds * 8000)), 8000)
    bank = NoiseBank([tmp_path])
    assert [p.name for p in bank.files] == ["long.wav", "short.flac"]
    a = bank.excerpt(16000, np.random.default_rng(5))
    assert a.dtype == np.float32 and a.size == 16000  # 8 kHz resampled to 16 kHz; a short file is looped
    assert np.array_equal(a, bank.excerpt(16000, np.random.default_rng(5)))
    assert not np.array_equal(a, bank.excerpt(16000, np.random.default_rng(6)))


def test_a_bank_of_nothing_readable_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DjtuiError, match="no such file or folder"):
        NoiseBank([tmp_path / "missing"])
    (tmp_path / "broken.wav").write_bytes(b"RIFF not really")
    sf.write(tmp_path / "silent.wav", np.zeros(8000, np.float32), 16000)
    with pytest.raises(DjtuiError, match="could be read"):
        NoiseBank([tmp_path]).excerpt(1000, np.random.default_rng(0))
