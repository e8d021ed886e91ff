"""``djtui resolve`` on a paraphrase: says on stderr what it loads while the DJ waits,
keeps stdout for the answer."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def test_a_paraphrase_says_what_is_loading_on_stderr_and_answers_on_stdout() -> None:
    done = subprocess.run([sys.executable, "-m", "djtui", "resolve", "could you get the music going on the left one",
                           "--json"], capture_output=True, text=True, timeout=300, env=os.environ.copy())
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)  # stdout holds the answer alone
    assert answer["candidates"]
    said = done.stderr.splitlines()
    assert said[0] == "djtui: reading the pronunciation dictionary…"
    assert "djtui: loading the meaning model…" in said  # the seconds a paraphrase costs
