"""The Rekordbox MIDI Learn CSV: written in Rekordbox's layout, parsed back to the same
functions and MIDI codes the context sends."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from djtui.core.context import Context, default_context, parse_context
from djtui.core.errors import DjtuiError
from djtui.core.midi import MidiCommand, command_for
from djtui.core.rekordbox import HEADER, decode, export_csv, read_csv


def every_command(context: Context) -> Iterator[MidiCommand]:
    """What the context can send: every intent with every combination of slot values."""
    for intent in context.intents.values():
        if intent.action is None:
            continue
        slot_types = {s.name: s.type for e in intent.expressions for s in e.slots()}
        names = sorted(slot_types)
        for values in itertools.product(*(context.slot_types[slot_types[n]].values for n in names)):
            yield command_for(intent, dict(zip(names, values)))


def test_the_file_has_rekordboxs_layout(tmp_path: Path) -> None:
    path = export_csv(default_context(), tmp_path / "djtui.csv")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "@file,1,djtui"
    assert lines[1] == "#name,function,type,input,deck1,deck2,deck3,deck4,output,deck1,deck2,deck3,deck4,option,comment"
    assert all(len(line.split(",")) == 15 for line in lines[1:])
    assert "# Deck,,,,,,,,,,,,,," in lines and "# Global,,,,,,,,,,,,,," in lines
    assert "PlayPause,PlayPause,Button,900B,0,1,2,3,900B,0,1,2,3,Fast;Priority=50,djtui: play / pause" in lines


def test_it_parses_back_to_every_command_the_context_sends(tmp_path: Path) -> None:
    context = default_context()
    mapping = read_csv(export_csv(context, tmp_path / "djtui.csv", device_name="djtui voice"))
    assert mapping.device == "djtui voice"
    in_file = set()
    for row in mapping.rows:
        status, channel, number = decode(row.input)
        channels = [channel + int(offset) for offset in row.input_decks] if row.per_deck else [channel]
        for ch in channels:
            in_file.add((row.function, "note" if status == 0x90 else "cc", ch, number))
    assert in_file == {(c.function, c.type, c.channel, c.number) for c in every_command(context)}


def test_intents_pressing_the_same_control_share_one_row(tmp_path: Path) -> None:
    rows = read_csv(export_csv(default_context(), tmp_path / "m.csv")).rows
    functions = [r.function for r in rows]
    assert functions.count("PlayPause") == 1
    assert functions.count("EQLow") == 1
    assert len(functions) == len(set(functions))


def test_types_and_feedback(tmp_path: Path) -> None:
    rows = {r.function: r for r in read_csv(export_csv(default_context(), tmp_path / "m.csv")).rows}
    assert rows["Browse"].type == "Rotary" and rows["Browse"].input == "B440" and not rows["Browse"].per_deck
    assert rows["EQLow"].type == "KnobSlider" and rows["EQLow"].input == "B03D"
    assert rows["Cue"].type == "Button" and rows["Cue"].output == ""
    # toggles report their state back, so djtui's feedback port learns what plays
    assert rows["PlayPause"].output == "900B" and rows["PlayPause"].output_decks == ("0", "1", "2", "3")
    assert rows["FX1-1On"].output == "9446" and rows["FX1-1On"].output_decks == ("", "", "", "")


def test_two_functions_on_one_code_are_refused(tmp_path: Path) -> None:
    context = parse_context("""
context:
  slots: {deck: {"1": [one]}}
  intents:
    cue: {expressions: ["cue $deck:deck"], action: {function: Cue, number: 12, channel: deck}}
    sync: {expressions: ["sync $deck:deck"], action: {function: Sync, number: 12, channel: deck}}
""")
    with pytest.raises(DjtuiError, match="Sync and Cue both use note 12"):
        export_csv(context, tmp_path / "bad.csv")
    assert not (tmp_path / "bad.csv").exists()


def test_a_failed_export_leaves_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "djtui.csv"
    path.write_text("old", encoding="utf-8")
    with pytest.raises(DjtuiError, match="device name"):
        export_csv(default_context(), path, device_name="a,b")
    assert path.read_text(encoding="utf-8") == "old"


def test_reading_a_broken_file_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.csv"
    path.write_text("@file,1,x\n" + ",".join(HEADER) + "\nPlayPause,PlayPause,Button,900B\n", encoding="utf-8")
    with pytest.raises(DjtuiError, match=r"broken.csv:3: 4 columns, expected 15"):
        read_csv(path)
    path.write_text("name,function\n", encoding="utf-8")
    with pytest.raises(DjtuiError, match="not a Rekordbox mapping file"):
        read_csv(path)


def test_the_export_command_writes_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from djtui.cli import main

    assert main(["midi", "export-rekordbox", str(tmp_path / "out.csv"), "--device", "booth"]) == 0
    assert read_csv(tmp_path / "out.csv").device == "booth"
    assert "Rekordbox functions" in capsys.readouterr().out
    assert main(["midi", "export-rekordbox", str(tmp_path / "x.csv"), "--context", str(tmp_path / "none.yaml")]) == 2
    assert "no such file" in capsys.readouterr().err
