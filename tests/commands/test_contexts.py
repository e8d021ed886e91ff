"""``djtui contexts check`` and ``show``: the context every command would use, problems
as file:line in line order, and the exit status every command shares."""

from __future__ import annotations

from pathlib import Path

import pytest

from djtui.cli import main

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
    assert capsys.readouterr().out.startswith("the bundled DJ context: ok — 41 intents")
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
