"""Learn from the set: what the live pipeline misheard, labelled by the DJ afterwards.

``djtui listen --save-audio`` keeps each utterance's clip beside the session log
(:mod:`djtui.core.sessionlog`). :func:`to_review` lists the utterances of a session worth a
second look, in the order they were heard:

- **rejected** for what was understood: ``out_of_grammar``, ``low_confidence``,
  ``ambiguous`` (a command refused because djtui was disarmed was understood fine);
- **low confidence**: accepted, but the best reading scored under
  :data:`LOW_CONFIDENCE` — the resolver hesitated.

The DJ labels one with :func:`label`: the right command (from the top-5) becomes a take
in the training data through :class:`~djtui.training.manifest.ManifestWriter` (clip
first, atomically, then its manifest line), ready for ``djtui train``; "not a command"
keeps the clip as a negative (``<data dir>/not_commands``) for ``djtui eval
--negatives``. Either way the utterance is not offered again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from djtui.core import fileio
from djtui.core.errors import DjtuiError
from djtui.core.audio import read_audio
from djtui.core.text import normalize_text
from djtui.training.manifest import ManifestWriter, Take, read_manifest
from djtui.training.recording import check_take

REJECTED_FOR_HEARING = ("out_of_grammar", "low_confidence", "ambiguous")
LOW_CONFIDENCE = 0.8
"""An accepted utterance whose best reading scored under this is offered for review."""
NOT_COMMANDS = "not_commands"


@dataclass(frozen=True)
class Reading:
    """One of the resolver's top-5 for an utterance: a command and the grammar sentence
    it matched."""

    intent: str
    slots: dict[str, str]
    score: float
    sentence: str

    def label(self) -> str:
        slots = ",".join(f"{k}={v}" for k, v in self.slots.items())
        return f"{self.intent}({slots})"


@dataclass(frozen=True)
class Heard:
    """An utterance of a session worth reviewing: its number ``n`` in the session, what
    was transcribed, why it was refused (``reason``; ``ok`` for a hesitant accept), the
    top-5 readings and the clip."""

    session: str
    n: int
    time: str
    transcript: str
    reason: str
    readings: tuple[Reading, ...]
    audio: Path

    @property
    def key(self) -> str:
        """Unique across sessions: ``<session>#<n>``."""
        return f"{self.session}#{self.n}"


def latest_session(directory: str | Path) -> Path | None:
    """The newest session log (``*.jsonl``) in ``directory``, or None."""
    logs = sorted(Path(directory).glob("*.jsonl"), key=lambda p: (p.stat().st_mtime, p.name))
    return logs[-1] if logs else None


def needs_review(record: dict[str, Any]) -> bool:
    """Refused for what was heard, or accepted with a best reading under
    :data:`LOW_CONFIDENCE`."""
    verdict = record.get("verdict") or {}
    top = (record.get("top5") or [{}])[0]
    if verdict.get("approved"):
        return float(top.get("score", 1.0)) < LOW_CONFIDENCE
    return verdict.get("reason") in REJECTED_FOR_HEARING


def to_review(session_log: str | Path, reviewed: set[str] = frozenset()) -> list[Heard]:
    """The utterances of ``session_log`` worth reviewing whose clip was kept, minus the
    ``reviewed`` keys (:func:`reviewed_keys`)."""
    from djtui.core.sessionlog import read_session

    path = Path(session_log)
    heard = []
    for record in read_session(path):
        if not record.get("audio") or not needs_review(record):
            continue
        item = Heard(path.stem, int(record["n"]), str(record.get("time", "")), str(record.get("transcript", "")),
                     str((record.get("verdict") or {}).get("reason", "")),
                     tuple(Reading(str(c["intent"]), {str(k): str(v) for k, v in (c.get("slots") or {}).items()},
                                   float(c.get("score", 0.0)), str(c.get("sentence", ""))) for c in record.get("top5") or []),
                     path.parent / record["audio"])
        if item.key not in reviewed and item.audio.is_file():
            heard.append(item)
    return heard


def reviewed_keys(data_dir: str | Path) -> set[str]:
    """Keys of utterances already labelled into ``data_dir`` (the training data folder)."""
    data_dir = Path(data_dir)
    keys = {"#".join(p.stem.rpartition("_")[::2]) for p in (data_dir / NOT_COMMANDS).glob("*.wav")}
    try:
        takes = read_manifest(data_dir, check_files=False)
    except DjtuiError:  # no takes yet
        takes = []
    return keys | {str(t.qc["reviewed"]) for t in takes if "reviewed" in t.qc}


def label(heard: Heard, reading: Reading | None, data_dir: str | Path, speaker: str = "me") -> Take | Path:
    """File ``heard`` under the DJ's answer. A ``reading`` (the right command) adds a take
    of its sentence by ``speaker`` to the manifest in ``data_dir`` — clip written
    atomically, then the line — and returns it; ``None`` ("not a command") writes the clip
    to ``data_dir/not_commands`` and returns its path."""
    audio = read_audio(heard.audio)
    if reading is None:
        import soundfile as sf

        path = Path(data_dir) / NOT_COMMANDS / f"{heard.session}_{heard.n}.wav"
        return fileio.write_atomic(path, lambda f: sf.write(f, audio, 16000, format="WAV", subtype="PCM_16"))
    text = normalize_text(reading.sentence)
    if not text:
        raise DjtuiError(f"{reading.label()} has no sentence to learn", "pick another reading, or 'not a command'")
    writer = ManifestWriter(data_dir, "recordings")
    take = 1 + sum(1 for t in writer.takes if (t.speaker, t.text) == (speaker, text))
    qc = {**check_take(audio).as_dict(), "reviewed": heard.key, "transcript": heard.transcript}
    return writer.add(audio, text=text, intent=reading.intent, slots=reading.slots, take=take, speaker=speaker, qc=qc)


def describe(readings: Sequence[Reading]) -> list[str]:
    """One line per reading, numbered from 1 as the keys that pick them."""
    return [f"{i} {r.label()} {r.score:.2f} “{r.sentence}”" for i, r in enumerate(readings, 1)]


def session_summary(heard: Sequence[Heard]) -> str:
    refused = sum(h.reason != "ok" for h in heard)
    return f"{len(heard)} to review: {refused} refused, {len(heard) - refused} accepted with low confidence"
