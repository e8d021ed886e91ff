"""``djtui bench echo``: the echo canceller alone on a simulated booth, with and without
a second clock. One booth keeps it to a few seconds; the README's numbers are 101-108."""

from __future__ import annotations

import json

from djtui.cli import main


def test_one_booth_on_one_clock_and_on_two(capsys) -> None:
    assert main(["bench", "echo", "--booth", "101", "--drift", "0", "100", "--json"]) == 0
    one, two = json.loads(capsys.readouterr().out)
    assert (one["booth"], one["drift_ppm"], two["drift_ppm"]) == (101, 0.0, 100.0)
    assert one["steady_db"] >= 20 and one["after_jump_db"] >= 20  # one clock: the music is removed
    assert two["steady_db"] < one["steady_db"]  # two clocks apart: speexdsp cannot follow, and says so
    assert 0 < one["cpu_percent"] < 5
    assert len(one["curve"]) == 50  # ERLE per half second over the 25 s


def test_the_table_and_its_summary(capsys) -> None:
    assert main(["bench", "echo", "--booth", "101"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("one clock:\n| booth |")
    assert "| 101 |" in out and "ERLE median" in out and "latency 16 ms" in out
