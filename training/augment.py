"""On-the-fly, seeded augmentation of training clips: what makes a model survive the booth.

DJs speak over loud music, so the main effect is background music or crowd noise from a
folder of tracks mixed in at a random SNR; speed perturbation, pitch shift, gain and
room reverb (a synthetic impulse response) vary the voice and the room. Every random
choice comes from the :class:`Augmenter`'s own generator: one seed, one sequence.

(The evaluation benchmark has its own mixer in ``core/``; this one serves training.)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from djtui.core.errors import DjtuiError

SAMPLE_RATE = 16000


def rms(audio: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if len(audio) else 0.0


def mix_at_snr(speech: np.ndarray, noise: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """``speech`` plus ``noise`` scaled so that speech power / noise power is ``snr_db``.

    The noise is looped or cut (at a random offset) to the speech's length. Power is
    measured over the whole clips. If the mix would clip, both are scaled down together,
    which keeps the SNR.
    """
    speech = np.asarray(speech, dtype=np.float32)
    noise = np.asarray(noise, dtype=np.float32)
    if len(speech) == 0 or len(noise) == 0:
        return speech.copy()
    if len(noise) < len(speech):
        noise = np.tile(noise, int(np.ceil(len(speech) / len(noise))))
    start = int(rng.integers(0, len(noise) - len(speech) + 1))
    noise = noise[start:start + len(speech)]
    speech_rms, noise_rms = rms(speech), rms(noise)
    if speech_rms == 0.0 or noise_rms == 0.0:
        return speech.copy()
    gain = speech_rms / (noise_rms * 10 ** (snr_db / 20))
    mixed = speech + gain * noise
    peak = float(np.max(np.abs(mixed)))
    return (mixed / peak * 0.99 if peak > 0.99 else mixed).astype(np.float32)


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


def audio_files(folder: str | Path) -> list[Path]:
    """Every file under ``folder`` that libsndfile can decode (WAV, FLAC, OGG, MP3…)."""
    import soundfile as sf

    folder = Path(folder)
    if not folder.is_dir():
        raise DjtuiError(f"noise folder {folder} does not exist", "give --noise-dir a folder of music or crowd recordings")
    extensions = {f".{e.lower()}" for e in sf.available_formats()} | {".oga", ".wave", ".aif", ".mp3"}
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in extensions)
    if not files:
        raise DjtuiError(f"no audio files in {folder}", "put music or crowd recordings (wav, flac, ogg, mp3) there")
    return files


class NoiseBank:
    """Random excerpts of the tracks in a folder, as 16 kHz mono. Reads only the excerpt
    it needs, so hour-long mixes cost nothing up front. Unreadable files are skipped."""

    def __init__(self, folder: str | Path) -> None:
        self.files = audio_files(folder)

    def excerpt(self, seconds: float, rng: np.random.Generator) -> np.ndarray:
        import soundfile as sf

        for _ in range(len(self.files)):
            path = self.files[int(rng.integers(len(self.files)))]
            try:
                with sf.SoundFile(str(path)) as f:
                    rate = f.samplerate
                    need = int(seconds * rate) + 1
                    if f.frames > need:
                        f.seek(int(rng.integers(0, f.frames - need)))
                    chunk = f.read(need, dtype="float32", always_2d=True).mean(axis=1)
            except (OSError, RuntimeError, sf.LibsndfileError):
                continue
            if rms(chunk) < 1e-4:
                continue
            if rate != SAMPLE_RATE:
                import soxr

                chunk = soxr.resample(chunk, rate, SAMPLE_RATE).astype(np.float32)
            return chunk
        raise DjtuiError(f"none of the {len(self.files)} noise files could be read",
                         "check the --noise-dir folder holds real audio")


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
        self.noise = NoiseBank(noise_dir) if noise_dir else None

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
            noise = self.noise.excerpt(len(out) / SAMPLE_RATE, rng)
            out = mix_at_snr(out, noise, float(rng.uniform(*c.snr_db)), rng)
        if rng.random() < c.p_gain:
            out = out * 10 ** (float(rng.uniform(*c.gain_db)) / 20)
        return np.clip(out, -1.0, 1.0).astype(np.float32)
