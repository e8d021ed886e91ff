"""``djtui train`` under real faults: a read-only folder (as nobody), a full disk (a
file-size limit on a real process, and a real tmpfs where root may mount one), SIGTERM
and SIGKILL from outside; and the context model, damaged or cut short by
``--max-minutes``."""

from __future__ import annotations

import contextlib
import io
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from djtui.cli import main
from djtui.core.asr import bundled_whisper_path
from djtui.core.seal import write_seal
from djtui.training import context_model
from tests.fixtures.faults import full_tmpfs, read_only_as_nobody


def _djtui(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def _as_nobody(folder: Path, argv: list[str], blocked: list[str]) -> tuple[int, str, str]:
    """``djtui ARGV`` with ``folder`` read-only. ``djtui BLOCKED`` runs first, as root,
    writing where a file is in the way: a child running as nobody cannot read the
    interpreter's own library, so what the command imports lazily on its way to the
    check must be imported before the fork."""
    (folder / "blocked").write_text("a file, not a folder")
    assert _djtui(*blocked)[0] == 2
    (folder / "blocked").unlink()
    outcome = read_only_as_nobody(lambda: _djtui(*argv), folder)
    assert outcome.error is None, outcome
    return outcome.value


def _one_line(err: str) -> None:
    """What djtui says on stderr is one line of what failed and one of what to do."""
    assert "Traceback" not in err and len(err.strip().splitlines()) <= 2, err


def test_a_read_only_output_is_one_line_before_any_work(public_tmp):
    output = public_tmp / "models" / "mine"
    output.parent.mkdir()
    train = ["train", "--data", "takes/manifest.jsonl", "--output"]
    code, _, err = _as_nobody(public_tmp, [*train, str(output)], [*train, str(public_tmp / "blocked" / "mine")])
    assert code == 2 and "training into" in err and "the folder is read-only" in err
    _one_line(err)
    assert not output.exists()


def test_a_read_only_data_folder_stops_the_context_model_before_any_work(public_tmp, small_context, monkeypatch):
    context = shutil.copy(small_context.source, public_tmp / "small.yaml")
    build = ["train", "--context-model", "--context", str(context)]
    monkeypatch.delenv("DJTUI_CACHE_DIR")
    monkeypatch.setenv("DJTUI_HOME", str(public_tmp / "blocked"))
    (public_tmp / "blocked").write_text("a file, not a folder")
    assert _djtui(*build)[0] == 2
    (public_tmp / "blocked").unlink()
    monkeypatch.setenv("DJTUI_HOME", str(public_tmp / "home"))
    (public_tmp / "home").mkdir()
    outcome = read_only_as_nobody(lambda: _djtui(*build), public_tmp)
    assert outcome.error is None, outcome
    code, _, err = outcome.value
    assert code == 2 and "building the context model in" in err and "the folder is read-only" in err
    _one_line(err)


def test_eval_checks_where_its_report_goes_before_measuring(public_tmp, synthetic_set, monkeypatch):
    monkeypatch.setenv("DJTUI_HOME", str(public_tmp / "home"))  # a home nobody may read
    data = shutil.copytree(synthetic_set.parent, public_tmp / "takes")
    evaluate = ["eval", "--labels", str(data / "manifest.jsonl"), "--json"]
    code, out, err = _as_nobody(public_tmp, [*evaluate, str(public_tmp / "reports" / "eval.json")],
                                [*evaluate, str(public_tmp / "blocked" / "eval.json")])
    assert code == 2 and "writing the report to" in err and "the folder is read-only" in err
    _one_line(err)
    assert "commands" not in out  # nothing was measured


def test_training_onto_a_nearly_full_disk_is_refused_before_any_work(synthetic_set, tmp_path):
    """A real 4 MB file system with 1 MB left: the folder takes a file, the model does
    not fit, and that is said before a model is loaded, with what is free and needed."""
    with full_tmpfs(tmp_path / "disk", 4 * 2**20, leave_bytes=2**20) as disk:
        code, out, err = _djtui("train", "--data", str(synthetic_set), "--output", str(disk / "mine"), "--epochs", "1")
        left = sorted(p.name for p in (disk / "mine").iterdir()) if (disk / "mine").exists() else []
    assert code == 2 and "training into" in err and "the disk is full" in err and "MB are needed" in err, err
    _one_line(err)
    assert left == [] and "before:" not in out


def test_a_disk_that_fills_while_eval_measures_keeps_the_figures_on_screen(synthetic_set, tmp_path):
    """The folder takes a file when eval starts (the check passes: a full tmpfs still
    makes an empty file), the report does not fit when it ends: one line, exit 2, the
    figures printed, no half-written report left."""
    with full_tmpfs(tmp_path / "disk", 2**20) as disk:
        code, out, err = _djtui("eval", "--labels", str(synthetic_set), "--limit", "2",
                                "--json", str(disk / "eval.json"))
        left = sorted(p.name for p in disk.iterdir() if p.name != "filler")
    assert code == 2 and f"writing the report to {disk / 'eval.json'}" in err and "the disk is full" in err, err
    assert "Traceback" not in err and err.strip().splitlines()[-1].strip().startswith("→ free some space")
    assert "commands" in out and left == []


def _train_process(*argv: str, file_size_limit: int | None = None) -> subprocess.Popen[str]:
    def limit() -> None:  # a write past the limit fails with EFBIG, as one fails with ENOSPC on a full disk
        if file_size_limit is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, resource.RLIM_INFINITY))

    return subprocess.Popen([sys.executable, "-m", "djtui", "train", *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=limit)


@pytest.mark.slow
@pytest.mark.parametrize("limit", [1_000_000, 20_000_000], ids=["tokenizer", "model.bin"])
def test_a_full_disk_while_saving_whisper_is_one_line(synthetic_set, tmp_path, limit):
    """1 MB: the tokenizer's save fails first (its own 'No space left' text); 20 MB:
    CTranslate2's writer of model.bin."""
    output = tmp_path / "mine"
    run = _train_process("--data", str(synthetic_set), "--output", str(output), "--epochs", "1",
                         file_size_limit=limit)
    out, err = run.communicate(timeout=900)
    assert run.returncode == 2, (out, err)
    assert "the disk is full" in err and "free some space" in err
    _one_line(err)
    assert not [p.name for p in output.iterdir()] and not list(tmp_path.glob(".mine.whisper-*"))


def _wait_for(path: Path, run: subprocess.Popen[str], timeout: float = 600.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert run.poll() is None, run.communicate()
        assert time.monotonic() < deadline, f"no {path}"
        time.sleep(0.05)


@pytest.mark.slow
def test_sigterm_stops_training_as_ctrl_c_does(synthetic_set, small_context, tmp_path):
    output = tmp_path / "mine"
    run = _train_process("--data", str(synthetic_set), "--output", str(output), "--from-scratch", "tiny",
                         "--epochs", "200", "--no-augment", "--context", str(small_context.source))
    _wait_for(output / "model.safetensors", run)  # the first epoch's checkpoint
    run.send_signal(signal.SIGTERM)
    out, err = run.communicate(timeout=300)
    assert run.returncode == 130, (out, err)  # stopped from outside, as Ctrl-C: what was kept is said
    assert "interrupted: the best checkpoint (epoch" in out and f"is kept in {output}" in out, out
    assert "stopped by interrupted" in out and (output / "training_report.md").is_file()


@pytest.mark.slow
def test_what_a_killed_run_left_is_cleared_by_the_next(synthetic_set, tmp_path):
    output = tmp_path / "mine"
    run = _train_process("--data", str(synthetic_set), "--output", str(output), "--epochs", "1")
    _wait_for(output / ".candidate", run)  # Whisper validating its first candidate
    run.send_signal(signal.SIGKILL)
    run.wait()
    (output / ".candidate").mkdir(exist_ok=True)  # however far it got
    (output / "notes.txt").write_text("the DJ's")
    code, _, err = _djtui("train", "--data", str(synthetic_set), "--output", str(output), "--from-scratch", "tiny",
                          "--epochs", "1", "--no-augment")
    assert code == 0, err
    assert sorted(p.name for p in output.iterdir() if p.name.startswith(".")) == []
    assert (output / "notes.txt").read_text() == "the DJ's" and not list(tmp_path.glob(".*whisper-*"))


def test_a_damaged_context_model_is_built_again_not_called_built(small_context, tmp_path):
    """Its model.bin cut short: ``train --context-model`` says so and builds."""
    built = context_model.folder(small_context)
    built.mkdir(parents=True)
    shutil.copy(bundled_whisper_path() / "model.bin", built / "model.bin")
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        (built / name).symlink_to(bundled_whisper_path() / name)
    write_seal(built)
    code, out, _ = _djtui("train", "--context-model", "--context", str(small_context.source))
    assert code == 0 and "is built" in out  # whole: nothing to do
    with open(built / "model.bin", "r+b") as f:
        f.truncate(10_000)
    assert context_model.ready(small_context) is None
    run = subprocess.Popen([sys.executable, "-m", "djtui", "train", "--context-model", "--context",
                            str(small_context.source)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env={**os.environ, "DJTUI_CACHE_DIR": str(tmp_path / "cache"), "PYTHONUNBUFFERED": "1"})
    first, second = run.stdout.readline(), run.stdout.readline()  # said before the build starts
    run.send_signal(signal.SIGTERM)  # as Ctrl-C: what it spoke is kept
    out, err = run.stdout.read(), run.stderr.read()  # not communicate(): readline's buffer holds the next line
    run.wait(300)
    assert first.startswith("the context model for small is damaged (model.bin is 10,000 bytes"), first
    assert "building the context model for small" in second + out, (second, out, err)
    assert run.returncode in (0, 130), err
