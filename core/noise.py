"""Noise to mix with speech: music and crowd recordings, and the two ways of mixing them.

- :func:`mix_at_peak_snr`: the benchmark's rule (Picovoice's speech-to-intent benchmark,
  which ``djtui eval`` follows): the SNR compares the loudest 2048-sample frame of speech
  with the loudest frame of the noise segment.
- :func:`add_at_rms_snr`: training augmentation's rule: power over the whole clips.

A :class:`NoiseBank` holds the recordings and hands out random excerpts, reading only
the excerpt it needs, so hour-long mixes cost nothing up front.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from djtui.core.audio import SAMPLE_RATE, to_model_rate
from djtui.core.errors import DjtuiError

PEAK_FRAME = 2048
"""Frame length (samples) over which the benchmark measures speech and noise energy."""
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".mp3", ".aiff", ".aif")


def rms(audio: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if len(audio) else 0.0


def peak_frame_energy(audio: np.ndarray, frame_length: int = PEAK_FRAME) -> float:
    """Energy (sum of squares) of the loudest whole ``frame_length`` frame; audio shorter
    than one frame counts as one frame."""
    audio = np.asarray(audio, dtype=np.float64)
    n = audio.size // frame_length
    if n == 0:
        return float(np.sum(audio**2))
    frames = audio[: n * frame_length].reshape(n, frame_length)
    return float(np.max(np.sum(frames**2, axis=1)))


def peak_snr_db(speech: np.ndarray, noise: np.ndarray, frame_length: int = PEAK_FRAME) -> float:
    """The benchmark's SNR: loudest speech frame against loudest noise frame, in dB."""
    return 10.0 * math.log10(peak_frame_energy(speech, frame_length) / peak_frame_energy(noise, frame_length))


def scale_to_peak_snr(speech: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """``noise`` scaled so :func:`peak_snr_db` of speech against it is ``snr_db``."""
    noise_energy = peak_frame_energy(noise)
    if noise_energy <= 0.0:
        raise DjtuiError("the noise segment is silent", "give a noise recording with sound throughout")
    scale = math.sqrt(peak_frame_energy(speech) / (noise_energy * 10.0 ** (snr_db / 10.0)))
    return (noise * scale).astype(np.float32)


def mix_at_peak_snr(speech: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """``speech`` plus ``noise`` (as long as it) at the benchmark's ``snr_db``. Only if the
    sum would clip is it scaled down (both parts alike, so the SNR holds)."""
    mixed = np.asarray(speech, dtype=np.float32) + scale_to_peak_snr(speech, noise, snr_db)
    peak = float(np.max(np.abs(mixed))) if mixed.size else 0.0
    return mixed / peak if peak > 1.0 else mixed


def add_at_rms_snr(speech: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """``speech`` plus ``noise`` (as long as it) scaled so that speech power over noise
    power, over the whole clips, is ``snr_db``. If the mix would clip, both are scaled
    down together, which keeps the SNR. Silent speech or noise leaves the speech as it is."""
    speech = np.asarray(speech, dtype=np.float32)
    speech_rms, noise_rms = rms(speech), rms(noise)
    if speech_rms == 0.0 or noise_rms == 0.0:
        return speech.copy()
    mixed = speech + (speech_rms / (noise_rms * 10 ** (snr_db / 20))) * np.asarray(noise, dtype=np.float32)
    peak = float(np.max(np.abs(mixed)))
    return (mixed / peak * 0.99 if peak > 0.99 else mixed).astype(np.float32)


def audio_files(paths: Iterable[str | Path]) -> list[Path]:
    """Audio files named, or found (recursively) in the folders named, sorted."""
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file()))
        elif path.is_file():
            found.append(path)
        else:
            raise DjtuiError(f"{path}: no such file or folder", "give audio files or folders of them")
    return found


class NoiseBank:
    """Noise recordings (files, or folders of them) to take random excerpts from.

    :meth:`excerpt` picks a recording, then a stretch of it, both from the caller's
    generator (one seed, one sequence), as 16 kHz mono; a recording shorter than the
    stretch is looped. Files that can't be read, or whose stretch is silent, are passed
    over; when none can be read that is a :class:`DjtuiError`.
    """

    def __init__(self, paths: Iterable[str | Path]) -> None:
        self.files = audio_files(paths)
        if not self.files:
            raise DjtuiError("no noise recordings found", "give music or crowd recordings (wav, flac, ogg, mp3)")

    @property
    def names(self) -> list[str]:
        return [f"{p.parent.name}/{p.name}" for p in self.files]

    def excerpt(self, samples: int, rng: np.random.Generator) -> np.ndarray:
        import soundfile as sf

        for _ in range(max(3, len(self.files))):
            path = self.files[int(rng.integers(len(self.files)))]
            try:
                with sf.SoundFile(str(path)) as f:
                    rate = f.samplerate
                    need = int(math.ceil(samples * rate / SAMPLE_RATE)) + 1
                    if f.frames > need:
                        f.seek(int(rng.integers(0, f.frames - need + 1)))
                    chunk = f.read(need, dtype="float32", always_2d=True)
            except (OSError, RuntimeError, sf.LibsndfileError):
                continue
            chunk = to_model_rate(chunk, rate)
            if chunk.size == 0 or not np.all(np.isfinite(chunk)) or rms(chunk) < 1e-5:
                continue
            if chunk.size < samples:
                chunk = np.tile(chunk, samples // chunk.size + 1)
            return np.ascontiguousarray(chunk[:samples], dtype=np.float32)
        raise DjtuiError(f"none of the {len(self.files)} noise recordings could be read (or all were silent)",
                         "give recordings with sound in them (wav, flac, ogg, mp3)")

    def mix_at_peak_snr(self, speech: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
        """``speech`` with a random excerpt at the benchmark's SNR (see the module)."""
        return mix_at_peak_snr(speech, self.excerpt(len(speech), rng), snr_db)

    def add_at_rms_snr(self, speech: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
        """``speech`` with a random excerpt at a whole-clip RMS SNR (augmentation)."""
        return add_at_rms_snr(speech, self.excerpt(len(speech), rng), snr_db)
