"""CTranslate2 model files read into numpy: the weights behind the Whisper engine.

:func:`read_model_bin` parses CTranslate2's ``ModelSpec`` serialisation (binary version
6: a spec name, then every variable with its shape and type, then aliases);
:func:`float_weights` gives every variable as float32. The grammar search runs
Whisper's decoder in torch on these weights (:mod:`djtui.core.whisper_decoder`), and
fine-tuning converts them to transformers (:mod:`djtui.training.whisper_convert`).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

from djtui.core.errors import DjtuiError

MODEL_BIN = "model.bin"
BINARY_VERSION = 6
# Type ids in the order of CTranslate2's DataType enum.
DTYPES = ("float32", "int8", "int16", "int32", "float16", "bfloat16")


@dataclass(frozen=True)
class Ct2Model:
    """The contents of a ``model.bin``: the ``spec`` name ("WhisperSpec"), its
    ``revision``, every variable as a numpy array (scalars as 0-d arrays, quantised
    weights as stored) and the ``aliases`` (alias name → variable name)."""

    spec: str
    revision: int
    variables: dict[str, np.ndarray]
    aliases: dict[str, str]


def read_model_bin(path: str | Path) -> Ct2Model:
    """Parse a CTranslate2 ``model.bin`` (binary version 6, little-endian). A file that is
    not one, or is cut short, is a :class:`DjtuiError` naming it."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            return _read_spec(f)
    except FileNotFoundError:
        raise DjtuiError(f"no {MODEL_BIN} at {path}", "point at a CTranslate2 Whisper model folder") from None
    except (struct.error, UnicodeDecodeError, ValueError) as exc:
        raise DjtuiError(f"{path} is not a readable CTranslate2 model ({exc})",
                         "re-create the folder with `djtui train`, or use the bundled model") from None


def _read_spec(f: IO[bytes]) -> Ct2Model:
    def number(fmt: str) -> int:
        size = struct.calcsize(fmt)
        data = f.read(size)
        if len(data) != size:
            raise ValueError("the file ends early")
        return struct.unpack(fmt, data)[0]

    def string() -> str:
        return f.read(number("<H"))[:-1].decode("utf-8")  # length counts the NUL

    version = number("<I")
    if version != BINARY_VERSION:
        raise ValueError(f"binary version {version}, expected {BINARY_VERSION}")
    spec, revision = string(), number("<I")
    variables: dict[str, np.ndarray] = {}
    for _ in range(number("<I")):
        name = string()
        shape = tuple(number("<I") for _ in range(number("<B")))
        dtype = DTYPES[number("<B")]
        size = number("<I")
        data = f.read(size)
        if len(data) != size:
            raise ValueError(f"{name} is cut short")
        variables[name] = _array(data, dtype, shape)
    aliases = {}
    for _ in range(number("<I")):
        alias = string()
        aliases[alias] = string()
    return Ct2Model(spec, revision, variables, aliases)


def _array(data: bytes, dtype: str, shape: tuple[int, ...]) -> np.ndarray:
    if dtype == "bfloat16":  # numpy has no bfloat16: it is the top half of a float32
        return (np.frombuffer(data, dtype="<u2").astype(np.uint32) << 16).view(np.float32).reshape(shape)
    return np.frombuffer(data, dtype=np.dtype(dtype).newbyteorder("<")).reshape(shape)


def float_weights(model: Ct2Model) -> dict[str, np.ndarray]:
    """Every variable as float32 (aliases resolved), quantised weights de-quantised with
    their ``weight_scale`` (CTranslate2 stores ``round(weight * scale)``); scalars stay
    as stored."""
    out: dict[str, np.ndarray] = {}
    for name, value in model.variables.items():
        if name.endswith("/weight_scale"):
            continue
        if value.ndim == 0:
            out[name] = value
        elif value.dtype.kind in "iu":
            scale = model.variables.get(name + "_scale")
            if scale is None:
                raise DjtuiError(f"{name} is stored as {value.dtype} without a scale", "this model.bin is not supported")
            scale = np.asarray(scale, dtype=np.float32).reshape(-1, *([1] * (value.ndim - 1)))
            out[name] = value.astype(np.float32) / scale
        else:
            out[name] = value.astype(np.float32)
    for alias, target in model.aliases.items():
        out[alias] = out[target]
    return out
