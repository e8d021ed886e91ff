"""The training loop end to end on synthetic speech, with the quickest trainee (a tiny
wav2vec2 from scratch): the loss falls, events reach the subscriber, the checkpoint loads
where the live pipeline loads models, the report is written; bad input is one clear
error. Whisper, the default, has its own tests in test_whisper.py."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import pytest

from djtui.cli import main
from djtui.core.errors import DjtuiError
from djtui.training.finetune import TrainConfig, TrainResult, train
from djtui.training.progress import Checkpointed, Done, Evaluated, Started, Stepped, TrainEvent


@pytest.fixture(scope="module")
def trained(synthetic_set: Path, small_context, tmp_path_factory) -> tuple[TrainResult, list[TrainEvent]]:
    events: list[TrainEvent] = []
    config = TrainConfig(data=synthetic_set, output=tmp_path_factory.mktemp("model"), epochs=3, batch_size=4,
                         lr=3e-3, from_scratch="tiny", augment=True, context=small_context.source)
    return train(config, on_event=events.append), events


def test_the_loss_falls(trained):
    result, _ = trained
    assert result.steps >= 10
    assert sum(result.losses[-3:]) / 3 < 0.7 * sum(result.losses[:3]) / 3


def test_progress_events_reach_the_subscriber(trained):
    result, events = trained
    kinds = [type(e) for e in events]
    assert kinds[0] is Started and kinds[-1] is Done
    assert kinds.count(Evaluated) == 3 and Checkpointed in kinds
    steps = [e for e in events if isinstance(e, Stepped)]
    assert [e.step for e in steps] == list(range(1, result.steps + 1))
    assert all(e.loss is not None and e.lr is not None and e.eta_s is not None and e.total_steps == result.steps
               for e in steps)
    assert all(e.wer is not None and e.cer is not None for e in events if isinstance(e, Evaluated))


def test_the_checkpoint_loads_with_transformers_and_in_the_live_engine(trained, speak):
    from transformers import Wav2Vec2ForCTC, Wav2Vec2Processor

    from djtui.core.asr import Wav2Vec2Engine

    result, _ = trained
    model = Wav2Vec2ForCTC.from_pretrained(result.output)
    processor = Wav2Vec2Processor.from_pretrained(result.output)
    assert model.config.vocab_size == len(processor.tokenizer)
    engine = Wav2Vec2Engine(result.output, quantize=False, threads=1)
    asr = engine.transcribe(speak("sync deck two"))
    assert isinstance(asr.text, str) and asr.logprobs.shape[1] == len(processor.tokenizer)


def test_the_report_compares_before_and_after(trained):
    result, _ = trained
    report = json.loads((result.output / "training_report.json").read_text())
    assert report["base"] == "from scratch (tiny)" and report["stopped"] == "epochs"
    assert set(report["before"]) == {"wer", "cer", "accuracy", "n"}
    assert report["after"]["accuracy"] is not None  # the resolver scored the commands
    assert report["after"]["cer"] <= report["before"]["cer"]
    assert len(report["history"]) == 3
    markdown = (result.output / "training_report.md").read_text()
    assert "| Before (from scratch (tiny)) |" in markdown and f"djtui listen --model {result.output}" in markdown


def test_a_stop_request_keeps_a_checkpoint(synthetic_set, small_context, tmp_path):
    stop = threading.Event()

    def on_event(event: TrainEvent) -> None:
        if isinstance(event, Stepped) and event.step == 2:
            stop.set()

    result = train(TrainConfig(data=synthetic_set, output=tmp_path, epochs=5, from_scratch="tiny", augment=False,
                               accuracy=False), on_event=on_event, stop=stop)
    assert result.stopped == "interrupted" and result.steps == 2
    assert (tmp_path / "model.safetensors").is_file() and (tmp_path / "training_report.md").is_file()


def test_bad_inputs_are_clear_errors(synthetic_set, tmp_path):
    row = json.loads(synthetic_set.read_text().splitlines()[0])
    (tmp_path / "synth").mkdir()
    shutil.copy(synthetic_set.parent / row["path"], tmp_path / row["path"])
    broken = tmp_path / "manifest.jsonl"
    broken.write_text(json.dumps(row) + "\n{not json\n")
    with pytest.raises(DjtuiError, match="manifest.jsonl:2: broken manifest line"):
        train(TrainConfig(data=broken, output=tmp_path / "out", from_scratch="tiny"))
    row["path"] = str(synthetic_set.parent / row["path"])  # a dataset names only its own files
    broken.write_text(json.dumps(row) + "\n")
    with pytest.raises(DjtuiError, match=r"manifest.jsonl:1: broken manifest line \(absolute path"):
        train(TrainConfig(data=broken, output=tmp_path / "out", from_scratch="tiny"))
    row["path"] = "synth/gone.wav"
    broken.write_text(json.dumps(row) + "\n")
    with pytest.raises(DjtuiError, match="gone.wav is missing"):
        train(TrainConfig(data=broken, output=tmp_path / "out", from_scratch="tiny"))
    with pytest.raises(DjtuiError, match="is not available offline"):
        train(TrainConfig(data=synthetic_set, output=tmp_path / "out", base="nobody/no-such-model", accuracy=False))
    with pytest.raises(DjtuiError, match="does not exist"):
        train(TrainConfig(data=synthetic_set, output=tmp_path / "out", base=str(tmp_path / "no-model"), accuracy=False))


def test_cli_train(synthetic_set, small_context, tmp_path, capsys):
    code = main(["train", "--data", str(synthetic_set), "--output", str(tmp_path), "--from-scratch", "tiny",
                 "--epochs", "1", "--batch-size", "8", "--no-augment", "--context", str(small_context.source)])
    assert code == 0
    assert (tmp_path / "config.json").is_file()
    assert f"djtui listen --model {tmp_path}" in capsys.readouterr().out
    assert main(["train", "--data", str(synthetic_set), "--output", str(tmp_path), "--batch-size", "0"]) == 2


def test_fine_tuning_a_local_base_freezes_its_feature_encoder(synthetic_set, tiny_wav2vec2, tmp_path):
    """A base saved like facebook/wav2vec2-base-960h (upper-case letters, no attention
    mask): its vocabulary is kept and its conv feature encoder does not move."""
    import torch
    from transformers import Wav2Vec2ForCTC, Wav2Vec2Processor

    result = train(TrainConfig(data=synthetic_set, output=tmp_path, epochs=1, max_steps=3, batch_size=4,
                               base=str(tiny_wav2vec2), augment=False, accuracy=False))
    assert result.stopped == "max steps" and result.steps == 3
    before, after = Wav2Vec2ForCTC.from_pretrained(tiny_wav2vec2), Wav2Vec2ForCTC.from_pretrained(tmp_path)
    for name, weight in before.wav2vec2.feature_extractor.state_dict().items():
        assert torch.equal(weight, after.wav2vec2.feature_extractor.state_dict()[name]), name
    assert not torch.equal(before.lm_head.weight, after.lm_head.weight)
    vocab = Wav2Vec2Processor.from_pretrained(tmp_path).tokenizer.get_vocab()
    assert vocab == Wav2Vec2Processor.from_pretrained(tiny_wav2vec2).tokenizer.get_vocab()


def test_the_cli_offers_what_training_knows(capsys):
    from djtui.cli import main
    from djtui.core.models import DEFAULT_WAV2VEC2

    with pytest.raises(SystemExit):
        main(["train", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    assert DEFAULT_WAV2VEC2 in shown and "{tiny,small}" in shown


def test_a_model_learns_music_alone_as_nothing(synthetic_set, tmp_path):
    """CTC too takes an empty label: music alone should decode to blanks."""
    import numpy as np
    import soundfile as sf

    music = tmp_path / "music"
    music.mkdir()
    sf.write(music / "track.wav", (0.2 * np.random.default_rng(1).standard_normal(16000 * 8)).astype(np.float32), 16000)
    result = train(TrainConfig(data=synthetic_set, output=tmp_path / "out", from_scratch="tiny", max_steps=2,
                               batch_size=8, noise_dir=music, accuracy=False))
    assert result.steps == 2 and all(np.isfinite(result.losses))
