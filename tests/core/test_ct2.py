"""CTranslate2's model.bin read into numpy: every type it stores, quantised weights
de-quantised, and one clear error for a file that is not one or is cut short."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from djtui.core.asr import bundled_whisper_path
from djtui.core.ct2 import BINARY_VERSION, DTYPES, MODEL_BIN, float_weights, read_model_bin
from djtui.core.errors import DjtuiError


def _string(text: str) -> bytes:
    data = text.encode() + b"\0"  # the length counts the NUL
    return struct.pack("<H", len(data)) + data


def model_bin(variables: dict[str, np.ndarray], aliases: dict[str, str] | None = None, *,
              spec: str = "TestSpec", revision: int = 3, version: int = BINARY_VERSION) -> bytes:
    """A ``model.bin`` as CTranslate2 writes it (binary version 6, little-endian)."""
    out = struct.pack("<I", version) + _string(spec) + struct.pack("<I", revision) + struct.pack("<I", len(variables))
    for name, value in variables.items():
        dtype = "bfloat16" if value.dtype == np.dtype("V2") else value.dtype.name
        data = value.tobytes()
        out += _string(name) + struct.pack("<B", value.ndim) + b"".join(struct.pack("<I", d) for d in value.shape)
        out += struct.pack("<B", DTYPES.index(dtype)) + struct.pack("<I", len(data)) + data
    aliases = aliases or {}
    out += struct.pack("<I", len(aliases))
    for alias, target in aliases.items():
        out += _string(alias) + _string(target)
    return out


def test_every_variable_comes_back_with_its_shape_type_and_aliases(tmp_path):
    weights = np.arange(6, dtype=np.float16).reshape(2, 3)
    path = tmp_path / MODEL_BIN
    path.write_bytes(model_bin({"decoder/w": weights, "decoder/step": np.array(7, dtype=np.int32)},
                               {"decoder/tied": "decoder/w"}))
    model = read_model_bin(path)
    assert (model.spec, model.revision) == ("TestSpec", 3)
    assert model.variables["decoder/w"].dtype == np.float16 and np.array_equal(model.variables["decoder/w"], weights)
    assert model.variables["decoder/step"].shape == () and int(model.variables["decoder/step"]) == 7
    assert model.aliases == {"decoder/tied": "decoder/w"}
    floats = float_weights(model)
    assert floats["decoder/w"].dtype == np.float32 and floats["decoder/tied"] is floats["decoder/w"]


def test_quantised_weights_are_divided_by_their_scale(tmp_path):
    weight = np.array([[0.5, -1.0], [0.25, 0.125]], dtype=np.float32)
    scale = np.array([100.0, 400.0], dtype=np.float32)  # one per output row, as CTranslate2 keeps them
    stored = np.round(weight * scale[:, None]).astype(np.int8)
    path = tmp_path / MODEL_BIN
    path.write_bytes(model_bin({"w": stored, "w_scale": scale}))
    assert np.allclose(float_weights(read_model_bin(path))["w"], weight, atol=1 / 100)


def test_bfloat16_is_the_top_half_of_a_float32(tmp_path):
    values = np.array([1.5, -2.0, 0.15625], dtype=np.float32)
    top = (values.view(np.uint32) >> 16).astype("<u2").view("V2")
    path = tmp_path / MODEL_BIN
    path.write_bytes(model_bin({"b": top}))
    assert np.array_equal(read_model_bin(path).variables["b"], values)


def test_a_quantised_weight_without_a_scale_is_refused(tmp_path):
    path = tmp_path / MODEL_BIN
    path.write_bytes(model_bin({"w": np.ones((2, 2), dtype=np.int8)}))
    with pytest.raises(DjtuiError, match="without a scale"):
        float_weights(read_model_bin(path))


@pytest.mark.parametrize("damage", ["cut", "version", "missing"])
def test_a_file_that_is_not_a_model_or_is_cut_short_is_one_error_naming_it(tmp_path, damage):
    path = tmp_path / MODEL_BIN
    whole = model_bin({"w": np.ones((4, 4), dtype=np.float16)})
    if damage == "cut":
        path.write_bytes(whole[:-10])
    elif damage == "version":
        path.write_bytes(model_bin({}, version=5))
    with pytest.raises(DjtuiError) as raised:
        read_model_bin(path)
    assert str(path) in raised.value.message


def test_the_bundled_whisper_reads_as_a_whisper_spec():
    model = read_model_bin(bundled_whisper_path() / MODEL_BIN)
    assert model.spec == "WhisperSpec" and len(model.variables) > 100
    assert all(np.isfinite(w).all() for w in float_weights(model).values() if w.ndim)
