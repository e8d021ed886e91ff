"""On-the-fly, seeded augmentation of training clips: what makes a model survive the booth.

DJs speak over loud music, so the main effect is background music or crowd noise from a
folder of tracks mixed in at a random SNR; speed perturbation, pitch shift, gain and
room reverb (a synthetic impulse response) vary the voice and the room. Every random
choice comes from the :class:`Augmenter`'s own generator: one seed, one sequence.

Noise is added at a whole-clip RMS ratio (:func:`djtui.core.noise.add_at_rms_snr`), not
the benchmark's peak-frame rule that ``djtui eval`` mixes by.

Beside the augmented takes, :class:`MusicAlone` draws clips of music with no command in
them, a share of every batch: a model that only ever heard commands finds them in any
music, sung lyrics above all.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from djtui.core.audio import SAMPLE_RATE
from djtui.core.noise import NoiseBank, rms


def speed_perturb(audio: np.ndarray, factor: float) -> np.ndarray:
    """Play ``factor`` times faster (tempo and pitch together, as in Kaldi's speed
    perturbation): resample by 1/factor."""
    import soxr

    if abs(factor - 1.0) < 1e-6:
        return audio
    return soxr.resample(audio, SAMPLE_RATE, SAMPLE_RATE / factor).astype(np.float32)


def pitch_shift(audio: np.ndarray, semitones: float, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Shift pitch by ``semitones`` at constant tempo (Signalsmith Stretch, the engine
    audiomentations uses)."""
    import python_stretch

    if abs(semitones) < 1e-3 or len(audio) == 0:
        return audio
    stretch = python_stretch.Signalsmith.Stretch()
    stretch.preset(1, sample_rate)
    stretch.setTransposeSemitones(float(semitones))
    shifted = stretch.process(np.ascontiguousarray(audio, dtype=np.float32)[np.newaxis, :])
    return np.asarray(shifted[0][: len(audio)], dtype=np.float32)


def synthetic_rir(rt60: float, rng: np.random.Generator, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """A room impulse response: a direct path, then exponentially decaying noise that
    falls 60 dB in ``rt60`` seconds."""
    n = max(2, int(rt60 * sample_rate))
    t = np.arange(n) / sample_rate
    tail = rng.standard_normal(n) * np.exp(-6.9078 * t / rt60)
    delay = int(rng.integers(int(0.002 * sample_rate), int(0.01 * sample_rate)))
    tail[:delay] = 0.0
    rir = tail * 0.3
    rir[0] = 1.0
    return (rir / np.sqrt(np.sum(rir**2))).astype(np.float32)


def reverb(audio: np.ndarray, rt60: float, rng: np.random.Generator) -> np.ndarray:
    """Convolve with a synthetic room; same length and loudness as the input."""
    from scipy.signal import fftconvolve

    wet = fftconvolve(audio, synthetic_rir(rt60, rng))[: len(audio)]
    level = rms(wet)
    return (wet * (rms(audio) / level) if level > 0 else wet).astype(np.float32)


@dataclass(frozen=True)
class AugmentConfig:
    """Probability and range of each effect. SNRs in dB, gains in dB, rt60 in seconds."""

    p_noise: float = 0.7
    snr_db: tuple[float, float] = (0.0, 20.0)
    p_speed: float = 0.5
    speed: tuple[float, float] = (0.9, 1.1)
    p_pitch: float = 0.2
    semitones: tuple[float, float] = (-2.0, 2.0)
    p_gain: float = 0.5
    gain_db: tuple[float, float] = (-8.0, 4.0)
    p_reverb: float = 0.3
    rt60: tuple[float, float] = (0.15, 0.6)


class Augmenter:
    """``augmenter(audio) -> audio``: a random chain of the effects in ``config``, drawn
    from its own generator seeded with ``seed``. Without ``noise_dir`` no noise is mixed."""

    def __init__(self, noise_dir: str | Path | None = None, seed: int = 0,
                 config: AugmentConfig | None = None) -> None:
        self.config = config or AugmentConfig()
        self.rng = np.random.default_rng(seed)
        self.noise = NoiseBank([noise_dir]) if noise_dir else None

    def __call__(self, audio: np.ndarray) -> np.ndarray:
        c, rng = self.config, self.rng
        out = np.asarray(audio, dtype=np.float32)
        if rng.random() < c.p_speed:
            out = speed_perturb(out, float(rng.uniform(*c.speed)))
        if rng.random() < c.p_pitch:
            out = pitch_shift(out, float(rng.uniform(*c.semitones)))
        if rng.random() < c.p_reverb:
            out = reverb(out, float(rng.uniform(*c.rt60)), rng)
        if self.noise is not None and rng.random() < c.p_noise:
            out = self.noise.add_at_rms_snr(out, float(rng.uniform(*c.snr_db)), rng)
        if rng.random() < c.p_gain:
            out = out * 10 ** (float(rng.uniform(*c.gain_db)) / 20)
        return np.clip(out, -1.0, 1.0).astype(np.float32)


MUSIC_ALONE_SHARE = 0.25
"""With a music folder, this share of every batch is music alone (1-4 s, no command),
labelled with what the stock model writes for it
(:meth:`djtui.training.trainee.Trainee.music_labels`)."""
MUSIC_ALONE_S = (1.0, 4.0)


class MusicAlone:
    """``count`` clips of music with no command per batch: 1-4 s excerpts of the tracks
    in ``folder`` at a random level (-30 to -6 dBFS RMS), seeded."""

    def __init__(self, folder: Path, count: int, seed: int = 0) -> None:
        self.bank = NoiseBank([folder])
        self.count = count
        self.rng = np.random.default_rng(seed + 1)

    def clips(self) -> list[np.ndarray]:
        out = []
        for _ in range(self.count):
            excerpt = self.bank.excerpt(int(self.rng.uniform(*MUSIC_ALONE_S) * SAMPLE_RATE), self.rng)
            level = 10 ** (float(self.rng.uniform(-30.0, -6.0)) / 20)
            out.append(np.clip(excerpt * (level / max(rms(excerpt), 1e-6)), -1.0, 1.0).astype(np.float32))
        return out
