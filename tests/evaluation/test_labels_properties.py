"""Any labels file — djtui's manifest.jsonl or Picovoice's label.json, random bytes or
JSON with any values — is a list of labels inside the data folder or one DjtuiError."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from djtui.evaluation.labels import read_labels
from tests.fixtures.properties import clear_error_or_result

JSON = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=12)),
                    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
                    max_leaves=8)
NAMES = st.one_of(st.sampled_from(["a.wav", "clean/b.flac", "/etc/passwd", "../up.wav", "x/../../y.wav", ""]),
                  st.text(max_size=12))
ENTRY = st.fixed_dictionaries({"intent": st.one_of(st.just("play"), st.none(), JSON)},
                              optional={"slots": st.one_of(st.just({"deck": " 1 "}), JSON), "text": JSON})
LABEL_JSON = st.one_of(st.dictionaries(NAMES, st.one_of(ENTRY, JSON), max_size=4).map(json.dumps), JSON.map(json.dumps))
MANIFEST = st.lists(st.one_of(st.builds(lambda path, entry: json.dumps({"path": path, **entry}), NAMES, ENTRY),
                              st.text(max_size=40)), max_size=6).map("\n".join)


def _read(tmp_path_factory, name: str, data: bytes) -> None:
    folder = tmp_path_factory.mktemp("labels")
    path = folder / name
    path.write_bytes(data)
    labels = clear_error_or_result(lambda: read_labels(path), megabytes=32)
    if isinstance(labels, list):
        assert labels and all(label.path.resolve().is_relative_to(folder.resolve()) for label in labels)


@given(st.binary(max_size=2000))
def test_random_bytes_are_labels_or_one_clear_error(tmp_path_factory, data: bytes) -> None:
    _read(tmp_path_factory, "label.json", data)


@given(LABEL_JSON)
def test_label_json_with_any_values(tmp_path_factory, text: str) -> None:
    _read(tmp_path_factory, "label.json", text.encode())


@given(MANIFEST)
def test_manifest_lines_with_any_values(tmp_path_factory, text: str) -> None:
    _read(tmp_path_factory, "manifest.jsonl", text.encode())
