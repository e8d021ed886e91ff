"""Any manifest — random bytes, JSON lines with any values, paths that try to leave the
folder — is read as valid takes or one DjtuiError naming file and line; and opening a
writer on any folder deletes nothing: every file and every line survives somewhere."""

from __future__ import annotations

import io
import json

import numpy as np
import soundfile as sf
from hypothesis import given
from hypothesis import strategies as st

from djtui.training.manifest import MANIFEST, REJECTED, ManifestWriter, Take, clip_name, read_manifest
from tests.fixtures.properties import clear_error_or_result

JSON = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=12)),
                    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
                    max_leaves=8)
PATHS = st.one_of(st.sampled_from(["recordings/a.wav", "/etc/passwd", "../up.wav", "recordings/../../x.wav", "",
                                   "recordings/\x00.wav", "C:\\\\x.wav", "recordings/" + clip_name("ana", "play", "play", 1)]),
                  st.text(max_size=20))
VALID = {"path": "recordings/" + clip_name("ana", "play", "play deck one", 1), "text": "play deck one",
         "intent": "play", "slots": {"deck": "1"}, "take": 1, "duration": 0.05, "sample_rate": 16000,
         "speaker": "ana", "created_at": "2026-11-30T00:00:00+00:00", "qc": {}}


def _mangled(changes: dict, path: str, dropped: list[str]) -> dict:
    row = {**VALID, **changes, "path": path}
    return {k: v for k, v in row.items() if k not in dropped}


# A valid line with a few keys changed or dropped: most are near misses, some are valid.
ROWS = st.builds(_mangled, st.dictionaries(st.sampled_from([k for k in VALID if k != "path"]), JSON, max_size=2),
                 st.one_of(st.just(VALID["path"]), PATHS), st.lists(st.sampled_from(list(VALID)), max_size=1))
LINES = st.lists(st.one_of(ROWS.map(lambda r: json.dumps(r).encode()), st.binary(max_size=80)), max_size=8)
MANIFESTS = st.one_of(st.binary(max_size=2000), LINES.map(lambda lines: b"\n".join(lines)))


def _wav() -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, np.full(800, 0.1, np.float32), 16000, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


WAV = _wav()


@given(MANIFESTS)
def test_any_manifest_is_takes_or_one_error_naming_the_line(tmp_path_factory, data: bytes) -> None:
    folder = tmp_path_factory.mktemp("data")
    (folder / MANIFEST).write_bytes(data)
    takes = clear_error_or_result(lambda: read_manifest(folder, check_files=False), megabytes=32)
    if isinstance(takes, list):
        assert takes and all(isinstance(t, Take) for t in takes)
        assert all((folder / t.path).resolve().is_relative_to(folder.resolve()) for t in takes)
    else:
        assert str(folder / MANIFEST) in takes.message or "manifest" in takes.message


@given(MANIFESTS, st.lists(st.sampled_from([clip_name("ana", "play", "play deck one", 1), "x.wav", ".y.wav.tmp",
                                            "notes.txt", clip_name("ana", "play", "play deck one", 2)]),
                           unique=True, max_size=4))
def test_opening_a_writer_on_any_folder_deletes_nothing(tmp_path_factory, data: bytes, names: list[str]) -> None:
    folder = tmp_path_factory.mktemp("data")
    (folder / "recordings").mkdir()
    for name in names:
        (folder / "recordings" / name).write_bytes(WAV if name.endswith(".wav") else b"text")
    (folder / MANIFEST).write_bytes(data)
    before = {p.read_bytes() for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST}
    lines = {line.rstrip(b"\r") for line in data.split(b"\n") if line.strip()}

    writer = clear_error_or_result(lambda: ManifestWriter(folder), megabytes=32)
    if not isinstance(writer, ManifestWriter):
        return  # one clear error (a manifest too big, say): then nothing was touched
    after = {p.read_bytes() for p in folder.rglob("*") if p.is_file() and p.name not in (MANIFEST, REJECTED)}
    assert before <= after  # every file still there, by content
    kept = set((folder / MANIFEST).read_bytes().split(b"\n")) if (folder / MANIFEST).exists() else set()
    rejected = set((folder / REJECTED).read_bytes().split(b"\n")) if (folder / REJECTED).exists() else set()
    assert lines <= kept | rejected  # every line still there, as it was
    assert all((folder / t.path).is_file() for t in writer.takes)
    listed = {(folder / t.path).resolve() for t in writer.takes}
    assert all(p.resolve() in listed for p in (folder / "recordings").iterdir())  # every file has its line
