"""Reading labels: djtui's manifest and Picovoice's label.json, and what a broken file says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from djtui.core.errors import DjtuiError
from djtui.evaluation.labels import Label, read_labels


def test_label_json_trims_slot_values_and_keeps_null_intents(tmp_path: Path) -> None:
    labels_file = tmp_path / "label.json"
    labels_file.write_text(json.dumps({
        "a.flac": {"intent": "orderDrink", "slots": {"coffeeDrink": "latte", "milkAmount": " milk"}},
        "b.flac": {"intent": None, "slots": {}},
        "c.flac": {"intent": "orderDrink", "slots": {"size": "large"}, "text": "a large coffee"},
    }, indent=2))
    a, b, c = read_labels(labels_file, tmp_path / "clean")
    assert a.path == tmp_path / "clean" / "a.flac"
    assert a.slots == {"coffeeDrink": "latte", "milkAmount": "milk"}
    assert a.text is None
    assert b.intent is None and b.command() == "—"
    assert c.text == "a large coffee"


def test_manifest_paths_are_relative_to_its_folder(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.jsonl"
    lines = [
        {"path": "recordings/0001.wav", "text": "play deck one", "intent": "play", "slots": {"deck": "1"}, "take": 1},
        {"path": "recordings/0002.wav", "text": "", "intent": None, "slots": {}},
    ]
    manifest.write_text("\n".join(json.dumps(line) for line in lines) + "\n\n")
    first, second = read_labels(manifest)
    assert first == Label(tmp_path / "recordings/0001.wav", "play", {"deck": "1"}, "play deck one")
    assert second.path == tmp_path / "recordings/0002.wav" and second.intent is None and second.text is None


@pytest.mark.parametrize("name, words", [("/abs/0002.wav", "absolute path"), ("../up.wav", "climbs out")])
def test_label_paths_must_stay_in_the_data_folder(tmp_path: Path, name: str, words: str) -> None:
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text(json.dumps({"path": "a.wav", "intent": "play"}) + "\n" + json.dumps({"path": name, "intent": "play"}))
    with pytest.raises(DjtuiError, match=rf"manifest.jsonl:2: .*{words}"):
        read_labels(manifest)
    labels = tmp_path / "label.json"
    labels.write_text(json.dumps({name: {"intent": "play"}}))
    with pytest.raises(DjtuiError, match=words):
        read_labels(labels)


def test_a_one_line_manifest_without_the_jsonl_suffix_is_still_a_manifest(tmp_path: Path) -> None:
    manifest = tmp_path / "labels.txt"
    manifest.write_text(json.dumps({"path": "x.wav", "intent": "play", "slots": {}}))
    assert read_labels(manifest)[0].path == tmp_path / "x.wav"


@pytest.mark.parametrize("text, words", [
    ("{not json", "not valid JSON"),
    ('{"a.flac": {"slots": {}}}', "needs an 'intent'"),
    ('{"a.flac": {"intent": "x", "slots": ["latte"]}}', "'slots' must be a mapping"),
    ("{}", "no labelled files"),
])
def test_broken_label_files_are_one_clear_error(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "label.json"
    path.write_text(text)
    with pytest.raises(DjtuiError, match=words):
        read_labels(path)


def test_a_broken_manifest_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "manifest.jsonl"
    path.write_text('{"path": "a.wav", "intent": "play"}\n{"path": "b.wav"}\n')
    with pytest.raises(DjtuiError, match=r"manifest.jsonl:2: each line needs 'path' and 'intent'"):
        read_labels(path)


def test_the_two_halves_split_the_files_the_same_way_every_time(tmp_path: Path) -> None:
    from djtui.evaluation.labels import half

    labels = [Label(tmp_path / f"{n:03d}.wav", "play", {}) for n in range(200)]
    fit, report = half(labels, "fit"), half(labels, "report")
    assert sorted(fit + report, key=lambda label: label.path) == labels
    assert not {label.path for label in fit} & {label.path for label in report}
    assert 70 < len(fit) < 130  # about half
    assert half(list(reversed(labels)), "fit") == list(reversed(fit))  # by name, not by position
    with pytest.raises(ValueError):
        half(labels, "train")
