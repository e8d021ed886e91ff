"""Fine-tuning the bundled Whisper tiny.en, the default of ``djtui train``: a few steps on
synthetic takes lower the loss, the folder it writes is a CTranslate2 Whisper model the
live engine loads, and training sees what the live engine computes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from djtui.cli import main
from djtui.core.asr import WhisperEngine, bundled_whisper_path, load_engine
from djtui.core.config import AsrConfig
from djtui.training.finetune import TrainConfig, train
from djtui.core.audio import read_audio
from djtui.training.manifest import read_manifest
from djtui.core.text import whisper_text
from djtui.training.progress import Done, Started, TrainEvent
from djtui.training.whisper import WhisperTrainee, live_window


@pytest.fixture(scope="module")
def fine_tuned(synthetic_set, small_context, tmp_path_factory):
    """Three decoder-only steps on the 24-take small-context set (3 takes held back)."""
    events: list[TrainEvent] = []
    config = TrainConfig(data=synthetic_set, output=tmp_path_factory.mktemp("whisper-model"), epochs=1,
                         batch_size=7, augment=False, context=small_context.source)
    return train(config, on_event=events.append), events


@pytest.fixture(scope="module")
def stock_trainee() -> WhisperTrainee:
    """The bundled model ready to fine-tune, encoder and decoder (read-only in these tests)."""
    return WhisperTrainee()


def training_loss(trainee: WhisperTrainee, synthetic_set) -> float:
    """The loss of a model on the set's first 12 takes, clean."""
    import torch

    takes = read_manifest(synthetic_set)[:12]
    clips = [read_audio(synthetic_set.parent / t.path) for t in takes]
    with torch.no_grad():
        return float(trainee.loss(clips, [t.text for t in takes]))


def test_a_short_fine_tune_lowers_the_loss(fine_tuned, synthetic_set, stock_trainee):
    result, _ = fine_tuned
    assert result.steps == 3 and result.device == "cpu"
    assert training_loss(WhisperTrainee(result.output), synthetic_set) < 0.8 * training_loss(stock_trainee, synthetic_set)


def test_it_carries_its_own_calibration_fitted_on_the_held_back_takes(fine_tuned):
    from djtui.core import calibration_file
    from djtui.core.asr import WhisperEngine

    result, events = fine_tuned
    calibrated = calibration_file.for_engine(WhisperEngine(result.output, threads=1))
    assert calibrated.calibrated and calibrated.path == result.output / calibration_file.FILE
    assert calibrated.fitted["prior"] == "tiny.en (bundled)" and calibrated.numbers["commands"] == 3
    report = json.loads((result.output / "training_report.json").read_text())
    clean = report["calibration"]["after"]["clean"]
    assert clean["n"] == 3 and {"accepted", "top1", "misunderstood"} <= set(clean)
    assert "held-back takes, clean and in music" in (result.output / "training_report.md").read_text()
    assert any(type(e).__name__ == "Calibrating" for e in events)


def test_its_folder_loads_in_the_live_engine(fine_tuned, speak):
    result, _ = fine_tuned
    engine = load_engine(AsrConfig(model=str(result.output)))  # engine "auto" picks it
    assert isinstance(engine, WhisperEngine) and engine.model_id == str(result.output)
    assert (result.output / "tokenizer.json").is_file()  # or faster-whisper would ask the hub
    assert isinstance(engine.transcribe(speak("sync deck two")).text, str)
    assert not (result.output / ".candidate").exists()


def test_the_grammar_search_runs_on_the_fine_tuned_weights(fine_tuned, small_context, speak):
    """Live, the grammar search scores sentences with Whisper's decoder in torch: it must
    read the fine-tuned folder's weights, not the bundled model's."""
    import numpy as np

    from djtui.core.config import Config
    from djtui.core.stages import recognizer_for
    from djtui.core.whisper_decoder import WhisperDecoder

    result, _ = fine_tuned
    config = Config().updated({"asr": {"model": str(result.output)}, "resolver": {"semantic_weight": 0.0}})
    recognizer = recognizer_for(config, small_context, warm_up=False)

    def next_token(decoder: WhisperDecoder) -> np.ndarray:
        """What the decoder expects after a start-of-transcript prompt, over fixed audio."""
        audio = np.random.default_rng(0).standard_normal((1, 50, decoder.width)).astype(np.float32)
        return decoder.start([50257, 50362], decoder.cross(audio))[0]

    live = next_token(recognizer.search.decoder)
    assert np.array_equal(live, next_token(WhisperDecoder.from_folder(result.output)))
    assert not np.allclose(live, next_token(WhisperDecoder.from_folder(bundled_whisper_path())), atol=1e-3)
    understanding = recognizer.understand(speak("sync deck two"))
    assert understanding.best is not None and understanding.best.intent in small_context.intents


def test_the_report_and_events_compare_with_the_model_it_started_from(fine_tuned):
    result, events = fine_tuned
    report = json.loads((result.output / "training_report.json").read_text())
    assert report["base"] == "Whisper tiny.en (bundled)" and report["stock"] is None
    assert report["validation_takes"] == 3 and report["train_takes"] == 21  # one take of each command held back
    first, last = events[0], events[-1]
    assert isinstance(first, Started) and isinstance(last, Done)
    assert first.accuracy is not None and last.accuracy == result.after.accuracy


def test_a_model_trained_on_top_of_another_reports_the_stock_model(fine_tuned, synthetic_set, small_context, tmp_path):
    result, _ = fine_tuned
    events: list[TrainEvent] = []
    again = train(TrainConfig(data=synthetic_set, output=tmp_path, base=str(result.output), max_steps=1, batch_size=6,
                              augment=False, decoder_only=True, context=small_context.source), on_event=events.append)
    assert again.stock is not None and isinstance(events[0], Started) and events[0].stock_accuracy == again.stock.accuracy
    assert "| Stock (Whisper tiny.en) |" in (tmp_path / "training_report.md").read_text()


def test_labels_are_the_text_as_whisper_writes_it_after_the_engines_prompt(stock_trainee):
    trainee = stock_trainee
    assert whisper_text("play deck one") == " Play deck one"
    inputs, targets = trainee.labels(["play deck one", "sync"])
    tokenizer = trainee.processor.tokenizer
    prompt = trainee.prompt
    assert tokenizer.convert_ids_to_tokens(prompt) == ["<|startoftranscript|>", "<|notimestamps|>"]
    text = tokenizer.encode(" Play deck one", add_special_tokens=False)
    assert inputs[0].tolist() == prompt + text
    assert targets[0].tolist() == [-100] * (len(prompt) - 1) + text + [trainee.eot]
    assert targets[1].tolist()[len(prompt) - 1:].count(-100) == len(text) - len(tokenizer.encode(" Sync", add_special_tokens=False))


def test_the_torch_encoder_on_the_live_window_is_the_live_encoder(whisper_transformers, whisper_engine, speak):
    """Cut to the 10 s window, the torch encoder computes what CTranslate2's does on the
    same zero-padded features (float32 both)."""
    import ctranslate2
    import torch

    from djtui.core.asr import whisper_features

    model, _ = whisper_transformers
    features, _ = whisper_features(whisper_engine.feature_extractor, speak("play deck one"), 1000)
    ct2 = ctranslate2.models.Whisper(str(bundled_whisper_path()), device="cpu", compute_type="float32")
    expected = np.asarray(ct2.encode(ctranslate2.StorageView.from_array(features[np.newaxis]), to_cpu=True))
    with live_window(model, 1000), torch.no_grad():
        states = model.model.encoder(torch.from_numpy(features[np.newaxis])).last_hidden_state.numpy()
    assert states.shape == expected.shape == (1, 500, 384)
    np.testing.assert_allclose(states, expected, atol=2e-3)
    assert model.config.max_source_positions == 1500 and model.model.encoder.embed_positions.num_embeddings == 1500


def test_what_learns(stock_trainee):
    """By default everything but the tied vocabulary and the positions; decoder only, the
    encoder and the cross-attention's keys and values (its projections) stay too."""
    everything = {name for name, p in stock_trainee.model.named_parameters() if p.requires_grad}
    assert "model.encoder.conv1.weight" in everything and "model.decoder.layers.0.fc1.weight" in everything
    assert not {"model.encoder.embed_positions.weight", "model.decoder.embed_positions.weight",
                "model.decoder.embed_tokens.weight", "proj_out.weight"} & everything
    decoder_only = WhisperTrainee(decoder_only=True)
    learning = {name for name, p in decoder_only.model.named_parameters() if p.requires_grad}
    assert learning and all(name.startswith("model.decoder.layers.") or name.startswith("model.decoder.layer_norm")
                            for name in learning)
    assert not any("encoder_attn.k_proj" in n or "encoder_attn.v_proj" in n for n in learning)


def test_decoder_only_trains_on_the_live_engines_own_encoder_output(speak):
    trainee = WhisperTrainee(decoder_only=True)
    audio = speak("play deck one")
    states = trainee.encoder_states([audio]).numpy()
    assert np.array_equal(states[0], np.asarray(trainee.engine.encode(audio).output)[0])


def test_cli_train_fine_tunes_whisper_by_default(synthetic_set, small_context, tmp_path, capsys):
    code = main(["train", "--data", str(synthetic_set), "--output", str(tmp_path), "--epochs", "1", "--batch-size", "21",
                 "--decoder-only", "--no-augment", "--context", str(small_context.source)])
    assert code == 0
    assert (tmp_path / "model.bin").is_file() and (tmp_path / "training_report.md").is_file()
    assert f"djtui listen --model {tmp_path}" in capsys.readouterr().out


def test_music_alone_is_labelled_as_nothing_written(stock_trainee):
    trainee = stock_trainee
    inputs, targets = trainee.labels(["play deck one", ""])
    assert whisper_text("") == ""
    row = targets[1].tolist()
    assert row[len(trainee.prompt) - 1] == trainee.eot and set(row[len(trainee.prompt):]) == {-100}


def test_music_alone_is_labelled_with_what_the_stock_model_writes(stock_trainee, whisper_engine):
    """So the model keeps writing a lyric as a lyric, not as the nearest command."""
    import numpy as np

    from djtui.core.noise import NoiseBank

    bank = NoiseBank(["/usr/share/games/fretsonfire/data/songs/muldjord/mutilated_mime"])
    music = [bank.excerpt(32000, np.random.default_rng(seed)) for seed in range(2)]
    assert stock_trainee.music_labels(music) == [whisper_engine.transcribe(m).text for m in music]
