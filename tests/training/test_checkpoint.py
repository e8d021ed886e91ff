"""A resumable run stops at any step and goes on as if it never had: the same steps,
losses and model as a run that was never stopped. The quickest trainee (a tiny wav2vec2
from scratch) stands in for Whisper: the state is the loop's, not the model's."""

from __future__ import annotations

import json
import threading

import pytest
import torch

from djtui.training import checkpoint
from djtui.training.finetune import TrainConfig, train
from djtui.training.progress import Started, Stepped


def _config(synthetic_set, tmp_path, name, **changes):
    recipe = dict(data=synthetic_set, output=tmp_path / name, epochs=2, batch_size=4, lr=3e-3, from_scratch="tiny",
                  augment=True, accuracy=False, threads=1, resume_state=tmp_path / f"{name}.pt", resume_every_s=0)
    return TrainConfig(**{**recipe, **changes})


def _stopping_at(step: int, stop: threading.Event):
    def on_event(event) -> None:
        if isinstance(event, Stepped) and event.step == step:
            stop.set()
    return on_event


def test_a_resumed_run_trains_as_if_it_never_stopped(synthetic_set, tmp_path):
    whole = train(_config(synthetic_set, tmp_path, "whole"))
    assert whole.finished and whole.steps == 12 and not (tmp_path / "whole.pt").exists()

    stop = threading.Event()
    first = train(_config(synthetic_set, tmp_path, "split"), on_event=_stopping_at(4, stop), stop=stop)
    assert not first.finished and first.stopped == "interrupted" and first.steps == 4
    assert (tmp_path / "split.pt").is_file() and not (tmp_path / "split" / "training_report.json").exists()

    events: list = []
    second = train(_config(synthetic_set, tmp_path, "split"), on_event=events.append)
    assert isinstance(events[0], Started) and events[0].step == 4
    assert [e.step for e in events if isinstance(e, Stepped)] == list(range(5, 13))
    assert second.finished and second.resumed_at == 4 and second.steps == 12
    assert second.losses == whole.losses  # the same batches, augmentations and dropout, to the bit
    assert [h["wer"] for h in second.history] == [h["wer"] for h in whole.history]
    report = json.loads((tmp_path / "split" / "training_report.json").read_text())
    assert report["steps"] == 12 and report["stopped"] == "epochs"


def test_a_state_of_another_plan_is_not_taken_up(synthetic_set, tmp_path):
    stop = threading.Event()
    train(_config(synthetic_set, tmp_path, "run"), on_event=_stopping_at(2, stop), stop=stop)
    events: list = []
    other = train(_config(synthetic_set, tmp_path, "run", lr=1e-3, max_steps=3), on_event=events.append)
    assert events[0].step == 0 and other.resumed_at == 0 and other.steps == 3


@pytest.mark.parametrize("resumable", [True, False])
def test_max_minutes_stops_before_a_step_would_pass_it(synthetic_set, tmp_path, resumable):
    """On the run's clock (here one that jumps an hour at step 2): a resumable run keeps
    its state to go on, any other finishes, and the report says why and what the limit was."""
    now = [0.0]

    def hour_at_step_two(event) -> None:
        if isinstance(event, Stepped) and event.step == 2:
            now[0] += 3600

    config = _config(synthetic_set, tmp_path, "limited", max_minutes=1.0)
    if not resumable:
        config.resume_state = None
    result = train(config, on_event=hour_at_step_two, clock=lambda: now[0])
    assert result.stopped == "max minutes" and result.steps == 2 and result.finished is not resumable
    if resumable:
        state = torch.load(tmp_path / "limited.pt", weights_only=True)
        assert state["position"]["step"] == 2 and state["version"] == checkpoint.VERSION
    else:
        report = json.loads((tmp_path / "limited" / "training_report.json").read_text())
        assert report["stopped"] == "max minutes" and report["config"]["max_minutes"] == 1.0
