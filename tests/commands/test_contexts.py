"""``djtui contexts check`` and ``show``: the context every command would use, problems
as file:line in line order, and the exit status every command shares."""

from __future__ import annotations

from pathlib import Path

import pytest

from djtui.cli import main
from djtui.core.context_file import default_context

BROKEN = """\
context:
  name: broken
  slots:
    deck:
      "1": [one]
  intents:
    play:
      expressions: ["play deck $deck:deck"]
      action: {function: PlayPause, type: note, number: 11, channel: deck}
    stop:
      expressions:
        - "stop $nope:deck"
        - "stop [a, ]"
      action: {function: Cue, type: note, number: 300, channel: deck}
    cue:
      expressions: ["cue $deck:deck"]
      action: {function: Cue, type: nota, number: 12, channel: deck}
    play:
      expressions: ["go"]
"""


def test_check_without_a_file_checks_the_context_show_would_list(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["contexts", "check"]) == 0
    assert capsys.readouterr().out.startswith(f"the bundled DJ context: ok — {len(default_context().intents)} intents")
    broken = tmp_path / "broken.yaml"
    broken.write_text(BROKEN)
    config = tmp_path / "config.toml"
    config.write_text(f'[resolver]\ncontext = "{broken}"\n')
    assert main(["--config", str(config), "contexts", "check"]) == 1  # the configured one, as show reads it
    assert capsys.readouterr().out.startswith(f"{broken}:12: ")


def test_problems_are_listed_in_line_order_and_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN)
    assert main(["contexts", "check", str(path)]) == 1
    captured = capsys.readouterr()
    lines = [int(line.split(":")[1]) for line in captured.out.splitlines()]
    assert lines == sorted(lines) == [12, 13, 14, 17, 18]
    assert captured.err.strip() == "5 problems"


def test_a_file_that_is_not_there_could_not_be_checked_exit_2(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["contexts", "check", str(tmp_path / "none.yaml")]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "none.yaml: no such file" in captured.err


def test_show_lists_what_to_say_the_slots_and_the_messages_each_command_sends(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("COLUMNS", "240")
    assert main(["contexts", "show"]) == 0
    rows: dict[str, list[str]] = {}
    for line in capsys.readouterr().out.splitlines():
        if line.count("│") != 6:
            continue
        name, *cells = [cell.strip() for cell in line.split("│")[1:-1]]
        if name:
            rows[last := name] = cells
        else:  # a cell folded onto the next line
            rows[last] = [f"{a} {b}".strip() for a, b in zip(rows[last], cells)]
    assert rows["play"] == ["safe", "play deck one", "deck (1 2 3 4)", "PlayPause · note 11 on deck ch 1–4"]
    assert rows["beat_jump"][1] == "jump forward two beats on deck one"  # not "jump back one beats on deck two"
    assert "8 PAD10_BeatLoop" in rows["loop"][3] and rows["loop"][3].endswith("notes 20–27 on deck ch 1–4")
    assert rows["arm"][3] == "nothing to Rekordbox: djtui's own arm"
    assert not any("functions" in sends for *_, sends in rows.values())  # the messages, not "8 functions"


def test_show_lists_every_slot_type_with_its_values_and_words(monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("COLUMNS", "240")
    assert main(["contexts", "show"]) == 0
    out = capsys.readouterr().out
    slots = out[out.index("slot types: each value, and the words that say it"):]
    cells = [[cell.strip() for cell in line.split("│")[1:-1]] for line in slots.splitlines() if line.count("│") == 4]
    assert ["deck", "1", "one, left, a, first"] in cells and ["side", "a", "a, left"] in cells
    assert cells[cells.index(["side", "a", "a, left"]) + 2] == ["", "b", "b, right"]  # the type named once
