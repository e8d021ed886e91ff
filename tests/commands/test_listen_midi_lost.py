"""``djtui listen --armed --json`` over JACK MIDI when the JACK server dies mid-set and
comes back: "MIDI lost" once, no send claimed that did not happen, and djtui's port back
without a restart. The JACK server is killed for real (SIGKILL) and started again."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from djtui.core.audio import SAMPLE_RATE
from djtui.core.config import Config, save_config
from tests.fixtures.jack import KillableJack


def _lines(stream, into: queue.Queue) -> None:
    for line in stream:
        into.put(line.rstrip("\n"))
    into.put(None)


@pytest.mark.jack
@pytest.mark.slow
def test_a_jack_server_that_dies_is_said_once_sends_nothing_and_its_port_comes_back(
        killable_jack: KillableJack, speak, tmp_path: Path) -> None:
    command = speak("go back")  # browse_back: safe, no deck state, sent at once when armed
    pause = [np.zeros(int(SAMPLE_RATE * s), np.float32) for s in (8, 8, 14, 2)]
    set_file = tmp_path / "set.wav"
    sf.write(set_file, np.concatenate([part for gap in pause for part in (command, gap)]), SAMPLE_RATE)
    config = save_config(Config().updated({"resolver": {"semantic_weight": 0.0}}), tmp_path / "config.toml")
    env = {k: v for k, v in killable_jack.env.items() if k != "DJTUI_MIDI_API"}  # JACK reachable, ALSA not: JACK
    child = subprocess.Popen([sys.executable, "-m", "djtui", "--config", str(config), "listen", "--armed", "--json",
                              "--input", str(set_file)], env=env, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out: queue.Queue[str | None] = queue.Queue()
    err: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_lines, args=(child.stdout, out), daemon=True).start()
    threading.Thread(target=_lines, args=(child.stderr, err), daemon=True).start()
    before, lost, after, said = [], [], [], []
    try:
        before.append(json.loads(out.get(timeout=240)))  # the first utterance, with the server up
        assert "djtui:djtui" in killable_jack.ports()
        killable_jack.kill()
        while (line := out.get(timeout=60)) is not None:
            lost.append(json.loads(line))
            if lost[-1]["verdict"]["reason"] == "midi_lost" or len(lost) == 2:
                break
        killable_jack.start()
        deadline = time.monotonic() + 30
        while not any("MIDI back" in line for line in said):
            said.append(err.get(timeout=max(0.1, deadline - time.monotonic())) or "")
        assert "djtui:djtui" in killable_jack.ports()  # re-created on the server that came back
        after = [json.loads(line) for line in iter(lambda: out.get(timeout=120), None)]
        assert child.wait(timeout=60) == 0
    finally:
        child.kill()
        child.wait()
    said += [line for line in iter(err.get, None)]
    assert [line for line in said if "MIDI lost" in line] == [
        "djtui: MIDI lost: the JACK server stopped; nothing is sent until it is back, then djtui opens its ports "
        "again by itself"]  # once, however many ports and utterances
    assert not [line for line in said if line.startswith(("ALSA lib", "Cannot ", "Server is not running"))]
    assert before[0]["midi"] and not before[0]["dry_run"]
    assert lost and all(o["midi"] == [] for o in lost)  # nothing claimed sent while the server was gone
    assert any(o["verdict"]["reason"] == "midi_lost" and "not sent" in o["verdict"]["message"] for o in lost)
    assert after and after[-1]["midi"] == [{"function": "Back", "type": "note", "channel": 4, "number": 89,
                                            "value": 127}]
