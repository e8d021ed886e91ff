"""Labelled audio: what each recording says, in djtui's manifest or Picovoice's layout."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from djtui.core.errors import DjtuiError


@dataclass(frozen=True)
class Label:
    """What one audio file says: ``intent`` with ``slots``, or ``intent=None`` for audio
    that holds no command and must be rejected. ``text`` is the transcript when known."""

    path: Path
    intent: str | None
    slots: dict[str, str] = field(default_factory=dict)
    text: str | None = None

    def command(self) -> str:
        return command_label(self.intent, self.slots)


HALVES = ("fit", "report")


def half(labels: list[Label], which: str) -> list[Label]:
    """The ``"fit"`` or ``"report"`` half of ``labels``, split by a hash of each file's
    name: stable across runs and machines, so constants fitted on one half are reported
    on the other (djtui's confidence model was fitted on the ``fit`` half of its
    development data)."""
    import zlib

    if which not in HALVES:
        raise ValueError(f"half must be one of {HALVES}, not {which!r}")
    keep = HALVES.index(which)
    return [label for label in labels if zlib.crc32(label.path.name.encode()) % 2 == keep]


def command_label(intent: str | None, slots: dict[str, str]) -> str:
    """``orderDrink(size=large roast=dark roast)``; ``—`` for no command."""
    if intent is None:
        return "—"
    inner = " ".join(f"{k}={v}" for k, v in sorted(slots.items()))
    return f"{intent}({inner})" if inner else intent


def normalize_slots(slots: dict[str, Any] | None) -> dict[str, str]:
    """Slot values compared as the benchmark does: surrounding white space trimmed (its
    labels say ``' milk'``), inner runs of white space collapsed."""
    return {str(k).strip(): " ".join(str(v).split()) for k, v in (slots or {}).items()}


def read_labels(path: str | Path, data_dir: str | Path | None = None) -> list[Label]:
    """Read djtui's ``manifest.jsonl`` or Picovoice's ``label.json``, by content.

    Audio paths in the labels are relative to ``data_dir`` (default: the labels file's
    folder) and must stay inside it (see :func:`djtui.core.paths.within`)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DjtuiError(f"{path}: no such labels file", "give label.json or manifest.jsonl with --labels") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DjtuiError(f"{path}: cannot read the labels ({exc})", "check the file") from None
    base = Path(data_dir) if data_dir else path.parent
    if path.suffix == ".jsonl" or _is_json_lines(text):
        labels = parse_manifest(text, base, str(path))
    else:
        labels = parse_label_json(text, base, str(path))
    if not labels:
        raise DjtuiError(f"{path}: no labelled files in it", "each entry needs a file and its intent")
    return labels


def _is_json_lines(text: str) -> bool:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return exc.msg == "Extra data"  # several objects: one per line
    return isinstance(data, dict) and "path" in data  # a one-line manifest


def parse_label_json(text: str, data_dir: Path, where: str = "label.json") -> list[Label]:
    """Picovoice's layout: ``{file: {"intent": …, "slots": {…}, "text": …}}``."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DjtuiError(f"{where}:{exc.lineno}: not valid JSON ({exc.msg})", "fix the file") from None
    if not isinstance(data, dict):
        raise DjtuiError(f"{where}: expected a mapping of file name to its label", 'like {"a.flac": {"intent": "orderDrink", "slots": {}}}')
    labels = []
    for name, entry in data.items():
        if not isinstance(entry, dict) or "intent" not in entry:
            raise DjtuiError(f"{where}: entry {name!r} needs an 'intent' (null for audio to reject)", 'like {"intent": "orderDrink", "slots": {}}')
        labels.append(_label(_audio_path(data_dir, name, f"{where}: {name!r}"), entry, f"{where}: {name!r}"))
    return labels


def parse_manifest(text: str, data_dir: Path, where: str = "manifest.jsonl") -> list[Label]:
    """djtui's manifest: one JSON object a line with ``path``, ``text``, ``intent``, ``slots``."""
    labels = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DjtuiError(f"{where}:{number}: not valid JSON ({exc.msg})", "fix or delete the line") from None
        if not isinstance(entry, dict) or "path" not in entry or "intent" not in entry:
            raise DjtuiError(f"{where}:{number}: each line needs 'path' and 'intent'", "see README, 'Training data'")
        labels.append(_label(_audio_path(data_dir, str(entry["path"]), f"{where}:{number}"), entry, f"{where}:{number}"))
    return labels


def _audio_path(data_dir: Path, name: str, where: str) -> Path:
    from djtui.core.paths import within

    try:
        return within(data_dir, name)
    except ValueError as exc:
        raise DjtuiError(f"{where}: {exc}", "keep the audio under the labels' folder (or --data)") from None


def _label(path: Path, entry: dict[str, Any], where: str) -> Label:
    intent = entry.get("intent")
    slots = entry.get("slots") or {}
    if intent is not None and not isinstance(intent, str):
        raise DjtuiError(f"{where}: 'intent' must be a name or null", "fix the label")
    if not isinstance(slots, dict):
        raise DjtuiError(f"{where}: 'slots' must be a mapping of slot to value", "fix the label")
    text = entry.get("text")
    return Label(path, intent.strip() if intent else None, normalize_slots(slots), str(text) if text else None)
