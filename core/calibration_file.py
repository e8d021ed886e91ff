"""A model's confidence calibration: the file beside its weights, and the built-in ones.

The confidence (:mod:`djtui.core.confidence`) is a logistic model of the evidence; its
weights say how far this model's evidence can be trusted, and that differs from model to
model: a model fine-tuned on a DJ's voice hears that voice surely and is wrong with the
same assurance. So every model carries its own, fitted on audio it did not train on
(:mod:`djtui.training.calibrate`), in ``calibration.json`` beside its ``model.bin``::

    {"format": "djtui-calibration", "version": 1,
     "model": "tiny.en (bundled)",
     "features": ["gap", "text", ...], "weights": {"gap": 0.19, ...}, "bias": 1.68,
     "token_bonus": 1.0, "pace": 2.6,
     "fitted": {"method": "...", "prior": "...", "data": [{"what": ..., "path": ..., ...}],
                "created": "2026-12-03T12:00:00Z"},
     "numbers": {"utterances": 1234, "ece": 0.03, ...}}

A feature the file does not name weighs 0, so a file written before a feature existed
still reads. The bundled tiny.en and Whisper base have theirs inside djtui
(``core/calibrations/``: their folders live in other packages); a model without one
listens with :func:`conservative`, and says so (:attr:`ModelCalibration.summary`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from djtui.core.confidence import FEATURES, Calibration
from djtui.core.errors import DjtuiError

FILE = "calibration.json"
FORMAT = "djtui-calibration"
VERSION = 1
BUILT_IN = ("tiny.en", "base")
"""Named models whose calibration ships with djtui (``core/calibrations/NAME.json``)."""

UNCALIBRATED_SHIFT = 2.0
"""Log-odds taken off the stock calibration for a model that has none of its own: a 0.95
becomes 0.72, a 0.99 0.93. A fine-tuned model's readings are more often right than the
stock model's, but when they are wrong they are wrong as surely (README, "Calibration"),
so the stock weights over-trust it; shifted, only what is far above the thresholds gets
through until ``djtui calibrate`` fits the model's own."""


@dataclass(frozen=True)
class ModelCalibration:
    """The confidence model a recognizer uses, and where it came from: ``path`` (the file,
    or ``None`` for the fallback), ``model`` (what it was fitted for), ``fitted`` (how and
    on what) and ``numbers`` (what the fit measured)."""

    calibration: Calibration
    path: Path | None
    model: str
    fitted: dict[str, Any] = field(default_factory=dict)
    numbers: dict[str, Any] = field(default_factory=dict)

    @property
    def calibrated(self) -> bool:
        """Fitted for this model (not the conservative fallback)."""
        return self.path is not None

    @property
    def summary(self) -> str:
        """One line for the UI and reports."""
        if not self.calibrated:
            return "no calibration for this model: a conservative default (djtui calibrate fits one)"
        created = str(self.fitted.get("created", ""))[:10]
        n = self.numbers.get("utterances")
        return f"calibrated for {self.model}" + (f" on {n} utterances" if n else "") + (f", {created}" if created else "")

    def to_dict(self) -> dict[str, Any]:
        """The file's contents."""
        c = self.calibration
        return {"format": FORMAT, "version": VERSION, "model": self.model, "features": list(FEATURES),
                "weights": {name: round(w, 6) for name, w in zip(FEATURES, c.weights)}, "bias": round(c.bias, 6),
                "token_bonus": c.token_bonus, "pace": c.pace, "fitted": self.fitted, "numbers": self.numbers}


def read(path: str | Path) -> ModelCalibration:
    """The calibration in ``path``; a :class:`DjtuiError` naming the file when it is not one."""
    path = Path(path)
    hint = "fit it again: djtui calibrate --model FOLDER (or delete it: djtui then says the model has none)"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DjtuiError(f"{path}: cannot read the calibration ({exc.strerror or exc})", hint) from None
    except json.JSONDecodeError as exc:
        raise DjtuiError(f"{path}: not a calibration file (not JSON: {exc})", hint) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise DjtuiError(f"{path}: not a calibration file (no \"format\": \"{FORMAT}\")", hint)
    if not isinstance(data.get("version"), int) or data["version"] > VERSION:
        raise DjtuiError(f"{path}: calibration version {data.get('version')!r}; this djtui reads up to {VERSION}",
                         "upgrade djtui, or fit it again with this one: djtui calibrate --model FOLDER")
    weights = data.get("weights")
    if not isinstance(weights, dict) or not all(isinstance(w, (int, float)) and math.isfinite(w)
                                                for w in weights.values()):
        raise DjtuiError(f"{path}: \"weights\" must map feature names to numbers", hint)
    if unknown := sorted(set(weights) - set(FEATURES)):
        raise DjtuiError(f"{path}: unknown feature(s) {', '.join(unknown)} (this djtui knows {', '.join(FEATURES)})",
                         "upgrade djtui, or fit it again with this one: djtui calibrate --model FOLDER")
    numbers = {k: data.get(k, d) for k, d in (("bias", 0.0), ("token_bonus", 1.0), ("pace", 2.6))}
    if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in numbers.values()):
        raise DjtuiError(f"{path}: bias, token_bonus and pace must be numbers", hint)
    calibration = Calibration(token_bonus=float(numbers["token_bonus"]), pace=float(numbers["pace"]),
                              weights=tuple(float(weights.get(name, 0.0)) for name in FEATURES),
                              bias=float(numbers["bias"]))
    return ModelCalibration(calibration, path, str(data.get("model", "")), dict(data.get("fitted") or {}),
                            dict(data.get("numbers") or {}))


def write(where: str | Path, calibration: ModelCalibration) -> Path:
    """The calibration, atomically, into ``where``: a model's folder (as its
    ``calibration.json``) or a file's path."""
    from djtui.core.fileio import write_problem, write_text_atomic

    path = Path(where) / FILE if Path(where).is_dir() else Path(where)
    try:
        return write_text_atomic(path, json.dumps(calibration.to_dict(), indent=2) + "\n")
    except OSError as exc:
        raise write_problem(exc, f"writing the calibration {path}") from None


def built_in(name: str) -> Path:
    """Where the calibration of a named model (:data:`BUILT_IN`) ships."""
    return Path(str(resources.files("djtui.core") / "calibrations" / f"{name}.json"))


def stock() -> Calibration:
    """The bundled tiny.en's calibration (the prior of every fine-tuned model's fit)."""
    path = built_in("tiny.en")
    return read(path).calibration if path.is_file() else Calibration()


def conservative() -> ModelCalibration:
    """What a model without a calibration listens with: :func:`stock`, its log-odds
    lowered by :data:`UNCALIBRATED_SHIFT`."""
    c = stock()
    return ModelCalibration(Calibration(c.token_bonus, c.pace, c.weights, c.bias - UNCALIBRATED_SHIFT), None,
                            "none (the stock calibration, shifted down)")


def for_model(folder: str | Path | None, name: str | None = None) -> ModelCalibration:
    """The calibration of the model in ``folder``, or of the named model ``name`` (one of
    :data:`BUILT_IN`); :func:`conservative` when it has none."""
    path = built_in(name) if name in BUILT_IN else Path(folder) / FILE if folder is not None else None
    if path is not None and path.is_file():
        return read(path)
    return conservative()


def for_choice(model: str | Path | None) -> ModelCalibration:
    """The calibration of a Whisper model as ``[asr] model`` names it: ``None`` (the
    bundled tiny.en), one of :data:`BUILT_IN`, or a folder (the bundled model's own folder
    counts as tiny.en)."""
    if model is None or str(model) in BUILT_IN:
        return for_model(None, str(model or "tiny.en"))
    from djtui.core.asr import bundled_whisper_path

    folder = Path(model).expanduser()
    try:
        bundled = folder.resolve() == bundled_whisper_path().resolve()
    except DjtuiError:
        bundled = False
    return for_model(None, "tiny.en") if bundled else for_model(folder)


def for_engine(engine: Any) -> ModelCalibration | None:
    """The calibration of the engine that listens; ``None`` for an engine whose
    confidence does not come from it (wav2vec2: acoustic rescoring)."""
    if getattr(engine, "name", None) != "whisper":
        return None
    return for_choice(getattr(engine, "named", None) or getattr(engine, "model_dir", None))
