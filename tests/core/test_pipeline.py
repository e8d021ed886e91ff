"""The pipeline from a spoken file to MIDI (dry run: no port), its events and its log."""

from __future__ import annotations

import json
import threading
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from djtui.cli import main
from djtui.core import pipeline as events
from djtui.core.asr import WhisperEngine
from djtui.core.audio import SAMPLE_RATE, FileSource
from djtui.core.config import Config, save_config
from djtui.core.pipeline import Pipeline
from djtui.core.sessionlog import SessionLog, read_session


COMMAND = "play the second deck"
"""play(deck=2), in words espeak-ng says clearly enough for Whisper tiny.en (espeak is
deterministic; Piper samples its prosody, so its takes differ run to run)."""


@pytest.fixture(scope="module")
def whisper() -> WhisperEngine:
    return WhisperEngine()


def quick_config() -> Config:
    """Grammar and phonetic matching only: sentence embeddings cost a model load per
    test and are the resolver's business, not the pipeline's."""
    config = Config()
    config.resolver.semantic_weight = 0.0
    return config


@pytest.fixture
def config_file(tmp_path):
    path = tmp_path / "config.toml"
    save_config(quick_config(), path)
    return path


@pytest.fixture
def spoken_file(tmp_path, speak):
    def _file(text: str = COMMAND, name: str = "command.wav") -> Any:
        path = tmp_path / name
        audio = speak(text)
        sf.write(path, np.concatenate([audio, np.zeros(SAMPLE_RATE // 2, dtype=np.float32)]), SAMPLE_RATE)
        return path

    return _file


def run_file(pipeline: Pipeline, path) -> list[Any]:
    seen: list[Any] = []
    lock = threading.Lock()

    def collect(event: Any) -> None:
        with lock:
            seen.append(event)

    pipeline.subscribe(collect)
    pipeline.start(FileSource(path, realtime=False))
    assert pipeline.wait(timeout=120)
    pipeline.stop()
    return seen


def of(kind: type, seen: list[Any]) -> list[Any]:
    return [e for e in seen if isinstance(e, kind)]


def test_a_spoken_command_goes_through_every_stage_in_order(whisper, spoken_file) -> None:
    config = quick_config()
    config.safety.armed_at_start = True
    pipeline = Pipeline(config, engine=whisper, dry_run=True)
    pipeline.deck_state.set("playing", 1, False, source="feedback")  # Rekordbox: deck 2 is paused

    seen = run_file(pipeline, spoken_file())

    order = [type(e).__name__ for e in seen if not isinstance(e, events.Level)]
    assert order == ["SpeechStart", "SpeechEnd", "Transcript", "Candidates", "VerdictEvent", "MidiSent", "Trace", "Finished"]
    [candidates] = of(events.Candidates, seen)
    assert (candidates.candidates[0].intent, candidates.candidates[0].slots) == ("play", {"deck": "2"})
    assert 1 <= len(candidates.candidates) <= 5
    [sent] = of(events.MidiSent, seen)
    assert sent.dry_run
    assert (sent.command.type, sent.command.channel, sent.command.number) == ("note", 1, 11)
    [trace] = of(events.Trace, seen)
    assert trace.sent and trace.engine == "whisper"
    assert trace.asr_ahead  # transcribed while the hang-over ran
    assert list(trace.stages) == ["vad_endpoint", "asr", "resolve", "rescore", "safety", "midi"]
    assert trace.stages["vad_endpoint"] == config.vad.hangover_ms
    after_endpoint = sum(v for k, v in trace.stages.items() if k != "vad_endpoint")
    assert after_endpoint <= trace.total_ms
    levels = of(events.Level, seen)
    assert max(level.peak_dbfs for level in levels) > -20  # speech
    assert min(level.rms_dbfs for level in levels) < -90  # the silence around it


def test_disarmed_nothing_is_sent_but_everything_is_logged(whisper, spoken_file) -> None:
    log = SessionLog(save_audio=True)
    pipeline = Pipeline(quick_config(), engine=whisper, dry_run=True, session_log=log)

    seen = run_file(pipeline, spoken_file())

    assert of(events.MidiSent, seen) == []
    [verdict] = of(events.VerdictEvent, seen)
    assert not verdict.verdict.approved
    [record] = read_session(log.path)
    assert record["transcript"] and record["top5"][0]["intent"] == "play"
    assert record["engine"] == "whisper" and record["model"]
    assert record["verdict"]["approved"] is False
    assert set(record["stages_ms"]) >= {"asr", "resolve", "safety"}
    clip, rate = sf.read(log.directory / record["audio"])
    assert rate == SAMPLE_RATE
    assert 0.8 < len(clip) / SAMPLE_RATE < 3.0


def test_push_to_talk_hears_nothing_until_the_key_is_pressed(whisper, spoken_file) -> None:
    config = quick_config()
    config.audio.trigger = "push_to_talk"
    config.safety.armed_at_start = True
    pipeline = Pipeline(config, engine=whisper, dry_run=True, session_log=False)
    assert not pipeline.listening

    seen = run_file(pipeline, spoken_file())

    assert of(events.SpeechStart, seen) == [] and of(events.Transcript, seen) == []


def test_panic_disarms(whisper) -> None:
    config = quick_config()
    config.safety.armed_at_start = True
    pipeline = Pipeline(config, engine=whisper, dry_run=True, session_log=False)
    seen: list[Any] = []
    pipeline.subscribe(seen.append)
    assert pipeline.armed
    pipeline.panic()
    assert not pipeline.armed
    assert seen == [events.Armed(False)]


def test_listen_prints_one_json_line_per_utterance(spoken_file, config_file, capsys) -> None:
    """With no feedback from Rekordbox, "play" on a deck waits for "confirm"."""
    command, _ = sf.read(spoken_file(), dtype="float32")
    confirm, _ = sf.read(spoken_file("confirm", "confirm.wav"), dtype="float32")
    both = spoken_file().with_name("both.wav")
    sf.write(both, np.concatenate([command, confirm]), SAMPLE_RATE)

    code = main(["--config", str(config_file), "listen", "--input", str(both), "--fast",
                 "--dry-run", "--json", "--armed", "--asr", "whisper"])

    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 0
    assert [line["n"] for line in lines] == [1, 2]
    held, confirmed = lines
    assert held["top5"][0]["intent"] == "play" and held["top5"][0]["slots"] == {"deck": "2"}
    assert held["verdict"]["reason"] == "needs_confirm" and held["midi"] == []
    assert confirmed["verdict"]["reason"] == "confirmed"
    assert [(m["channel"], m["number"]) for m in confirmed["midi"]] == [(1, 11)] and confirmed["dry_run"]
    assert confirmed["total_ms"] > 0 and confirmed["engine"] == "whisper"


def test_listen_plain_lines(spoken_file, config_file, capsys) -> None:
    code = main(["--config", str(config_file), "listen", "--input", str(spoken_file()), "--fast", "--dry-run", "--armed"])
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 0
    assert len(out) == 1
    assert out[0].lower().startswith('"play the second deck') and "play(deck=2)" in out[0]
    assert "rejected (needs_confirm)" in out[0] and out[0].endswith(" ms")


def test_listen_with_a_bad_file_is_one_clear_line(tmp_path, capsys) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    assert main(["listen", "--input", str(bad), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "not a readable audio file" in err and "Traceback" not in err
