"""The context model's build as a process: its messages, its priority, and a SIGKILL in
the middle of training that the next build goes on from."""

from __future__ import annotations

import queue
import signal
import subprocess
import threading
import time
from pathlib import Path

import psutil
import pytest

from djtui.training import context_model, context_worker
from djtui.training.context_worker import Built, Busy, Failed, Hello, Kept, Spoken, decode, encode
from djtui.training.progress import Checkpointed, Done, Evaluated, Started, Stepped, Stopped

TINY = {"per_intent": 2, "epochs": 2, "batch_size": 1, "resume_every_s": 0}
"""Six takes (three held back), three steps an epoch, a state after every step."""


class Worker:
    """``python -m djtui.training.context_worker`` with its messages in a queue."""

    def __init__(self, context_file: Path, recipe: dict) -> None:
        self.process = subprocess.Popen(context_worker.command(context_file, recipe), stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                        env=context_worker.environment())
        self.news: queue.Queue = queue.Queue()
        self.heard: list = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.news.put(decode(line))
        self.news.put(None)

    def until(self, wanted, timeout: float = 600.0):
        """The first message ``wanted(message)`` accepts."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            news = self.news.get(timeout=left)
            assert news is not None, f"the build ended first (heard {self.heard[-3:]})"
            self.heard.append(news)
            if wanted(news):
                return news
        raise AssertionError(f"timed out; heard {self.heard[-3:]}")

    def end(self, timeout: float = 600.0) -> int:
        while (news := self.news.get(timeout=timeout)) is not None:
            self.heard.append(news)
        return self.process.wait(timeout)


def test_every_message_is_one_line_and_back():
    messages = [Hello(12, "dj"), Spoken(3, 820), Built(Path("/m/dj-1")), Kept("interrupted", 40), Busy("busy"),
                Failed("the disk is full", "free some space"),
                Started(240, 3, 0.5, 0.2, 0.3, None, 800, 41, "cpu", step=40),
                Stepped(41, 240, 1, 3, 1.5, 3e-5, 60.0, 600.0), Evaluated(80, 1, 0.1, 0.05, 0.9, 300.0),
                Checkpointed(80, 1, Path("/m/x")), Stopped(81, 2, "interrupted"),
                Done(240, 3, 2, 0.1, 0.05, 0.9, 900.0, Path("/m/x"))]
    for message in messages:
        line = encode(message)
        assert "\n" not in line and decode(line) == message
    for bad in ('{"v": 2, "type": "Spoken", "done": 1, "total": 2}', '{"v": 1, "type": "Shout"}',
                '{"v": 1, "type": "Spoken", "done": 1}', '{"v": 1, "type": "Spoken", "done": 1, "total": 2, "x": 0}',
                "Loading weights…", "[1, 2]"):
        with pytest.raises(ValueError):
            decode(bad)


@pytest.mark.slow
def test_a_build_killed_mid_training_goes_on_from_its_last_state(small_context, tiny_music, own_cache):
    """The lowest priority and one thread; SIGKILL after its third step (no word to it,
    as a crash or a reboot does); the next build starts at the step its state holds."""
    recipe = {**TINY, "music": tiny_music}
    worker = Worker(small_context.source, recipe)
    hello = worker.until(lambda n: isinstance(n, Hello))
    child = psutil.Process(hello.pid)
    assert child.nice() == 19
    if hasattr(psutil, "IOPRIO_CLASS_IDLE"):
        assert child.ionice().ioclass == psutil.IOPRIO_CLASS_IDLE
    worker.until(lambda n: isinstance(n, Stepped) and n.step == 3)
    state = context_model.building(small_context) / "resume.pt"
    assert state.is_file()
    threads = child.num_threads()
    worker.process.send_signal(signal.SIGKILL)
    assert worker.end() == -signal.SIGKILL
    assert context_model.ready(small_context) is None

    again = Worker(small_context.source, recipe)
    started = again.until(lambda n: isinstance(n, Started))
    assert started.step >= 2  # the last state written before the kill: after step 2 or 3
    steps = [again.until(lambda n: isinstance(n, Stepped)).step]
    assert steps[0] == started.step + 1
    assert isinstance(again.until(lambda n: isinstance(n, (Built, Failed))), Built), again.heard[-3:]
    assert again.end() == 0
    built = context_model.ready(small_context)
    assert built is not None and not context_model.building(small_context).exists()
    print(f"build process: {threads} threads while training")
