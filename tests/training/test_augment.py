"""Augmentation: SNR is what was asked for, effects keep clips usable, one seed one result."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from djtui.core.errors import DjtuiError
from djtui.core.noise import NoiseBank, rms
from djtui.training.augment import MUSIC_ALONE_S, Augmenter, AugmentConfig, MusicAlone, pitch_shift, reverb, speed_perturb

SONGS = Path("/usr/share/games/fretsonfire/data/songs/muldjord")


@pytest.fixture(scope="module")
def noise_dir(tmp_path_factory) -> Path:
    """Real songs (Debian's fretsonfire-songs-muldjord, OGG) where installed, else a WAV
    of band-limited noise."""
    if SONGS.is_dir():
        return SONGS
    folder = tmp_path_factory.mktemp("noise")
    noise = np.convolve(np.random.default_rng(0).standard_normal(16000 * 5), np.ones(8) / 8, "same")
    sf.write(folder / "crowd.wav", (0.2 * noise).astype(np.float32), 16000)
    return folder


def test_music_from_a_folder_at_snr(speak, noise_dir):
    speech = speak("sync deck one")
    bank = NoiseBank([noise_dir])
    rng = np.random.default_rng(0)
    music = bank.excerpt(len(speech), rng)
    assert len(music) == len(speech) and rms(music) > 1e-3
    mixed = bank.add_at_rms_snr(speech, 0.0, rng)
    assert rms(mixed - speech) == pytest.approx(rms(speech), rel=0.05) or np.max(np.abs(mixed)) >= 0.98


def test_effects_keep_clips_usable(speak):
    speech = speak("play deck one")
    faster = speed_perturb(speech, 1.1)
    assert len(faster) == pytest.approx(len(speech) / 1.1, rel=0.01)
    shifted = pitch_shift(speech, 2.0)
    assert len(shifted) == len(speech) and rms(shifted) > 0.3 * rms(speech)
    wet = reverb(speech, 0.5, np.random.default_rng(0))
    assert len(wet) == len(speech) and rms(wet) == pytest.approx(rms(speech), rel=1e-3)
    assert not np.allclose(wet, speech, atol=1e-3)


def test_the_augmenter_is_seeded(speak, noise_dir):
    speech = speak("start deck two")
    config = AugmentConfig(p_noise=1.0, p_speed=1.0, p_pitch=1.0, p_gain=1.0, p_reverb=1.0)
    a = [Augmenter(noise_dir, seed=5, config=config)(speech) for _ in range(2)]
    b = Augmenter(noise_dir, seed=6, config=config)(speech)
    assert np.array_equal(a[0], a[1])
    assert not (len(a[0]) == len(b) and np.allclose(a[0], b))
    assert np.max(np.abs(a[0])) <= 1.0


def test_a_noise_folder_without_audio_is_a_clear_error(tmp_path):
    (tmp_path / "notes.txt").write_text("no audio here")
    with pytest.raises(DjtuiError, match="no noise recordings"):
        Augmenter(tmp_path)
    with pytest.raises(DjtuiError, match="no such file or folder"):
        NoiseBank([tmp_path / "missing"])


def test_music_alone_is_drawn_from_the_music_folder(tmp_path):
    """With a music folder, every batch also holds music with no command (labelled with
    nothing): 1-4 s excerpts at a random level."""
    rng = np.random.default_rng(0)
    sf.write(tmp_path / "track.wav", (0.3 * rng.standard_normal(16000 * 10)).astype(np.float32), 16000)
    clips = MusicAlone(tmp_path, 2, seed=3).clips() + MusicAlone(tmp_path, 2, seed=3).clips()
    assert len(clips) == 4 and np.array_equal(clips[0], clips[2])  # seeded
    for clip in clips:
        assert MUSIC_ALONE_S[0] * 16000 <= len(clip) <= MUSIC_ALONE_S[1] * 16000 + 1
        assert -31 < 20 * np.log10(rms(clip)) < -5
