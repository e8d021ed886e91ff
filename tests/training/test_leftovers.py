"""What a killed run leaves is cleared by the next run on that output — only djtui's own
temp names, never a file of the DJ's."""

from __future__ import annotations

import os
import time

from djtui.training import leftovers


def test_only_what_killed_runs_leave_is_cleared(tmp_path):
    output = tmp_path / "models" / "mine"
    (output / ".candidate").mkdir(parents=True)
    (output / ".candidate" / "model.bin").write_bytes(b"x" * 100)
    (output / "..candidate.whisper-a1b2c3d4").mkdir()
    (output / ".vocab").mkdir()
    (output / ".checkpoint.tmp").mkdir()
    (output / ".training_report.json.k2j4h5g6.tmp").write_text("{")
    (output / ".djtui-probe-abcd1234").write_text("")
    beside = output.parent / ".mine.whisper-zz_9y8x7"
    beside.mkdir()
    old_name = output.parent / ".whisper-abcdefgh"
    old_name.mkdir()
    os.utime(old_name, (time.time() - 2 * leftovers.STALE_S,) * 2)  # a conversion takes seconds, not hours
    keep = [output / "model.bin", output / "notes.candidate", output / ".candidate-notes.txt",
            output.parent / ".mine.whisper-notes", output.parent / ".other.whisper-a1b2c3d4",
            output.parent / "my.tmp"]
    for path in keep:
        path.write_text("the DJ's")
    fresh = output.parent / ".whisper-qwertyui"  # maybe a sibling run converting right now
    fresh.mkdir()

    removed = leftovers.clear(output)
    assert sorted(removed) == sorted([output / ".candidate", output / "..candidate.whisper-a1b2c3d4",
                                      output / ".vocab", output / ".checkpoint.tmp",
                                      output / ".training_report.json.k2j4h5g6.tmp", output / ".djtui-probe-abcd1234",
                                      beside, old_name])
    assert all(path.exists() for path in keep) and fresh.exists()
    assert leftovers.clear(output) == []
