"""The README's commands and code are run as written: its Python example runs here."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import soundfile as sf

README = Path(__file__).resolve().parents[1] / "README.md"

MY_COMMANDS = """\
context:
  name: booth
  slots:
    deck: {"1": [one, left], "2": [two, right]}
  intents:
    play:
      expressions: ["play (deck) $deck:deck"]
      action: {function: PlayPause, type: note, number: 11, channel: deck, toggle: playing, sets: true}
"""


def python_example() -> str:
    section = README.read_text(encoding="utf-8").split("## Use from Python", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_use_from_python_example_runs_as_written(tmp_path, monkeypatch, speak):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my_commands.yaml").write_text(MY_COMMANDS)
    sf.write(tmp_path / "take.wav", speak("play deck two", pad_s=0.6), 16000)
    code = python_example()
    assert len([line for line in code.splitlines() if line.strip()]) == 5  # as small as promised

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, "README.md", "exec"), {})

    [line] = printed.getvalue().splitlines()
    assert "→ disarmed play(deck=2)" in line  # heard and understood; nothing sent until armed
