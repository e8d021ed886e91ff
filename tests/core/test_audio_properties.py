"""Any audio file — random bytes, a WAV cut short or with its header mangled, float
samples that are NaN or infinite — reads as finite 16 kHz audio or is one DjtuiError
naming the file."""

from __future__ import annotations

import io

import numpy as np
import soundfile as sf
from hypothesis import given
from hypothesis import strategies as st

from djtui.core.audio import read_audio
from djtui.core.errors import DjtuiError
from tests.fixtures.properties import clear_error_or_result


def _wav(samples: np.ndarray, rate: int = 16000, subtype: str = "PCM_16") -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, format="WAV", subtype=subtype)
    return buffer.getvalue()


TONE = _wav((0.3 * np.sin(np.arange(8000) / 3)).astype(np.float32))
FLOAT_TONE = _wav((0.3 * np.sin(np.arange(8000) / 3)).astype(np.float32), 22050, "FLOAT")
FILES = st.one_of(
    st.binary(max_size=4000),
    st.builds(lambda wav, n: wav[:n], st.sampled_from([TONE, FLOAT_TONE]), st.integers(0, 200)),  # cut short
    st.builds(lambda wav, edits: _mangle(wav, edits), st.sampled_from([TONE, FLOAT_TONE]),
              st.lists(st.tuples(st.integers(0, 60), st.integers(0, 255)), min_size=1, max_size=6)),  # header bytes
    st.lists(st.one_of(st.floats(-4, 4, width=32), st.sampled_from([np.nan, np.inf, -np.inf])), min_size=0, max_size=300)
    .map(lambda xs: _wav(np.array(xs, dtype=np.float32), subtype="FLOAT")),
)


def _mangle(wav: bytes, edits: list[tuple[int, int]]) -> bytes:
    data = bytearray(wav)
    for at, value in edits:
        data[at] = value
    return bytes(data)


@given(FILES)
def test_any_file_is_finite_audio_or_one_error_naming_it(tmp_path_factory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("audio") / "input.wav"
    path.write_bytes(data)
    audio = clear_error_or_result(lambda: read_audio(path), megabytes=64)
    if isinstance(audio, DjtuiError):
        assert "input.wav" in audio.message
    else:
        assert audio.dtype == np.float32 and audio.ndim == 1 and len(audio) and np.isfinite(audio).all()
