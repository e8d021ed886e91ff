"""The pipeline from a spoken file to MIDI (dry run: no port), its events and its log."""

from __future__ import annotations

import json
import threading
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from djtui.cli import main
from djtui.core import events
from djtui.core.asr import WhisperEngine
from djtui.core.audio import SAMPLE_RATE, FileSource
from djtui.core.config import Config, save_config
from djtui.core.pipeline import Pipeline
from djtui.core.sessionlog import SessionLog, read_session
from djtui.core.stages import DRAFT_TAIL_MS


COMMAND = "play the second deck"
"""play(deck=2), in words espeak-ng says clearly enough for Whisper tiny.en (espeak is
deterministic; Piper samples its prosody, so its takes differ run to run)."""


@pytest.fixture(scope="module")
def whisper() -> WhisperEngine:
    return WhisperEngine()


def quick_config() -> Config:
    """Grammar and phonetic matching only: sentence embeddings cost a model load per
    test and are the resolver's business, not the pipeline's."""
    return Config().updated({"resolver": {"semantic_weight": 0.0}})


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
    config = quick_config().updated({"safety": {"armed_at_start": True}})
    pipeline = Pipeline(config, engine=whisper, dry_run=True)
    pipeline.deck_state.set("playing", 1, False, source="feedback")  # Rekordbox: deck 2 is paused

    seen = run_file(pipeline, spoken_file())

    order = [type(e) for e in seen if not isinstance(e, (events.Level, events.Hearing, events.Usage))]
    assert order == [events.SpeechStarted, events.SpeechEnded, events.Outcome, events.Finished]
    assert of(events.Hearing, seen)  # the speech in progress was read while the DJ spoke
    [outcome] = of(events.Outcome, seen)
    assert (outcome.best.intent, outcome.best.slots) == ("play", {"deck": "2"})
    assert 1 <= len(outcome.candidates) <= 5
    assert outcome.verdict.approved and outcome.verdict.reason == "ok"
    [sent] = outcome.sent
    assert outcome.dry_run and (sent.type, sent.channel, sent.number) == ("note", 1, 11)
    assert outcome.engine == "whisper" and outcome.number == 1
    assert outcome.ahead  # understood while the hang-over ran
    assert not outcome.early  # "play the second deck" could go on: "… backwards" would reverse it
    assert list(outcome.stages_ms) == ["vad_endpoint", "asr", "search", "resolve", "rescore", "safety", "midi"]
    assert outcome.stages_ms["vad_endpoint"] == config.vad.hangover_ms
    after_endpoint = sum(v for k, v in outcome.stages_ms.items() if k != "vad_endpoint")
    assert after_endpoint <= outcome.total_ms
    assert outcome.said_to_done_ms == pytest.approx(config.vad.hangover_ms + outcome.total_ms)
    levels = of(events.Level, seen)
    assert max(level.peak_dbfs for level in levels) > -20  # speech
    assert min(level.rms_dbfs for level in levels) < -90  # the silence around it


def test_disarmed_nothing_is_sent_but_everything_is_logged(whisper, spoken_file) -> None:
    log = SessionLog(save_audio=True)
    pipeline = Pipeline(quick_config(), engine=whisper, dry_run=True, session_log=log)

    seen = run_file(pipeline, spoken_file())

    [outcome] = of(events.Outcome, seen)
    assert outcome.sent == () and not outcome.verdict.approved and outcome.verdict.reason == "disarmed"
    [record] = [r for r in read_session(log.path) if "usage" not in r]  # and what listening cost
    assert record["transcript"] and record["top5"][0]["intent"] == "play"
    assert record["engine"] == "whisper" and record["model"]
    assert record["verdict"]["approved"] is False
    assert set(record["stages_ms"]) >= {"asr", "resolve", "safety"}
    # the timings add up: end of speech to done = silence waited + endpoint to done
    assert record["said_to_done_ms"] == pytest.approx(record["stages_ms"]["vad_endpoint"] + record["total_ms"], abs=0.02)
    clip, rate = sf.read(log.directory / record["audio"])
    assert rate == SAMPLE_RATE
    assert 0.8 < len(clip) / SAMPLE_RATE < 3.0


def test_push_to_talk_hears_nothing_until_the_key_is_pressed(whisper, spoken_file) -> None:
    config = quick_config().updated({"audio": {"trigger": "push_to_talk"}, "safety": {"armed_at_start": True}})
    pipeline = Pipeline(config, engine=whisper, dry_run=True, session_log=False)
    assert not pipeline.listening

    seen = run_file(pipeline, spoken_file())

    assert of(events.SpeechStarted, seen) == [] and of(events.Outcome, seen) == []


def test_panic_disarms(whisper) -> None:
    config = quick_config().updated({"safety": {"armed_at_start": True}})
    pipeline = Pipeline(config, engine=whisper, dry_run=True, session_log=False)
    seen: list[Any] = []
    pipeline.subscribe(seen.append)
    assert pipeline.armed
    pipeline.panic()
    assert not pipeline.armed
    assert seen == [events.ArmedChanged(False)]


class _SlowEngine:
    """Whisper that takes ``delay_s`` longer: a machine that cannot keep up."""

    def __init__(self, engine: WhisperEngine, delay_s: float) -> None:
        self.engine, self.delay_s = engine, delay_s
        self.name, self.model_id, self.description = engine.name, engine.model_id, "slow " + engine.description

    def transcribe(self, audio: np.ndarray) -> Any:
        import time

        time.sleep(self.delay_s)
        return self.engine.transcribe(audio)

    def warm_up(self) -> None:
        pass


def test_an_utterance_the_worker_has_no_room_for_is_counted_logged_and_shown(whisper, speak, tmp_path) -> None:
    """Ten commands read faster than a slow machine handles them: those that don't fit
    the queue are dropped, but never silently."""
    gap = np.zeros(SAMPLE_RATE // 2, dtype=np.float32)
    path = tmp_path / "ten.wav"
    sf.write(path, np.concatenate([np.concatenate([speak("sync deck one"), gap]) for _ in range(10)]), SAMPLE_RATE)
    log = SessionLog()
    pipeline = Pipeline(quick_config(), engine=_SlowEngine(whisper, 1.0), dry_run=True, session_log=log)

    seen = run_file(pipeline, path)

    outcomes, dropped = of(events.Outcome, seen), of(events.Dropped, seen)
    assert dropped and all(d.what == "utterance" for d in dropped)
    assert dropped[-1].total == len(dropped) == pipeline.dropped["utterance"]
    assert len(outcomes) + len(dropped) == 10  # every utterance is either handled or reported
    records = read_session(log.path)
    assert sum("dropped" in r for r in records) == len(dropped) and sum("transcript" in r for r in records) == len(outcomes)


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
    assert confirmed["work_ms"] > 0 and confirmed["engine"] == "whisper"
    assert confirmed["total_ms"] is None and confirmed["said_to_done_ms"] is None  # --fast: no real time to feel


def test_listen_reads_every_utterance_of_a_file_however_fast(speak, config_file, tmp_path, capsys) -> None:
    """A file is not real time: with --fast nothing is ever dropped for being late."""
    gap = np.zeros(SAMPLE_RATE // 2, dtype=np.float32)
    path = tmp_path / "many.wav"
    sf.write(path, np.concatenate([np.concatenate([speak(COMMAND), gap]) for _ in range(8)]), SAMPLE_RATE)

    code = main(["--config", str(config_file), "listen", "--input", str(path), "--fast", "--dry-run", "--json"])

    captured = capsys.readouterr()
    lines = [json.loads(line) for line in captured.out.splitlines()]
    assert code == 0 and [line["n"] for line in lines] == list(range(1, 9))
    assert "dropped" not in captured.err


def test_listen_plain_lines(spoken_file, config_file, capsys) -> None:
    code = main(["--config", str(config_file), "listen", "--input", str(spoken_file()), "--fast", "--dry-run", "--armed"])
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 0
    assert len(out) == 1
    assert out[0].lower().startswith('"play the second deck') and "play(deck=2)" in out[0]
    assert "rejected (needs_confirm)" in out[0] and " · understood in " in out[0]
    assert out[0].endswith(" ms (--fast: no real time)")  # not a said→done time that never was


def test_listen_with_a_bad_file_is_one_clear_line(tmp_path, capsys) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    assert main(["listen", "--input", str(bad), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "not a readable audio file" in err and "Traceback" not in err


def test_a_clip_gets_the_same_reading_and_verdict_in_djtui_eval_as_live(whisper, spoken_file) -> None:
    """What is measured is what runs: the same VAD cut, the same readings, the same
    decision about what was said, whether the clip goes through ``djtui eval``'s trial or
    the live pipeline (which understands it ahead, during the hang-over)."""
    from djtui.core.listener import Listener
    from djtui.evaluation.labels import Label
    from djtui.evaluation.trials import run_trials

    path = spoken_file()
    evaluating = Listener(quick_config(), engine=whisper, dry_run=True, session_log=False, act=False)
    [trial] = run_trials(evaluating, [Label(path, "play", {"deck": "2"})], ["clean"])

    pipeline = Pipeline(quick_config().updated({"safety": {"armed_at_start": True}}), engine=whisper,
                        dry_run=True, session_log=False)
    pipeline.deck_state.set("playing", 1, False, source="feedback")  # deck 2 paused: nothing to confirm
    [live] = of(events.Outcome, run_file(pipeline, path))

    assert live.ahead and trial.utterances == 1
    assert trial.best == (live.best.intent, live.best.slots)
    assert trial.score == pytest.approx(live.best.score, abs=1e-9)
    assert (trial.reason, live.verdict.reason) in {("accepted", "ok"), ("low_confidence", "low_confidence"),
                                                   ("ambiguous", "ambiguous"), ("out_of_grammar", "out_of_grammar")}
    assert trial.outcome == "understood" and live.verdict.approved  # and here, both understood it


# --- finalising early ---------------------------------------------------------------------


def _outcomes(listener, audio) -> list[Any]:
    from djtui.evaluation.trials import hear

    return hear(listener, audio)


@pytest.fixture(scope="module")
def listeners(whisper):
    from djtui.core.listener import Listener

    def make(early: bool) -> Listener:
        config = quick_config().updated({"vad": {"early_finalize": early}})
        return Listener(config, engine=whisper, dry_run=True, session_log=False, act=False)

    return make(True), make(False)


def test_a_complete_command_fires_at_the_first_silence(listeners, speak) -> None:
    early, late = listeners
    audio = np.concatenate([speak("sync deck two", pad_s=0.5), np.zeros(SAMPLE_RATE, np.float32)])
    [fast] = _outcomes(early, audio)
    [slow] = _outcomes(late, audio)
    assert fast.early and not slow.early
    assert fast.stages_ms["vad_endpoint"] == DRAFT_TAIL_MS < slow.stages_ms["vad_endpoint"]
    # from the first silent block: understanding the draft is part of the wait
    assert fast.total_ms >= fast.stages_ms["asr"] + fast.stages_ms["search"]
    # the same command either way: finalising early costs nothing in what is understood
    assert (fast.best.intent, fast.best.slots) == (slow.best.intent, slow.best.slots) == ("sync", {"deck": "2"})
    assert fast.verdict.reason == slow.verdict.reason == "accepted"


def test_a_command_that_is_the_start_of_a_longer_one_never_fires_early(listeners, speak) -> None:
    """ "play deck one" is complete, but "play deck one backwards" means reverse: a pause
    between them must not fire play."""
    early, _ = listeners
    def silence(seconds: float) -> np.ndarray:
        return np.zeros(int(seconds * SAMPLE_RATE), np.float32)

    def said(text: str) -> np.ndarray:  # espeak's own silence trimmed off
        audio = speak(text, pad_s=0.0)
        loud = np.flatnonzero(np.abs(audio) > 0.02)
        return audio[loud[0]:loud[-1] + 1]

    # a pause longer than a block (a draft is understood) and shorter than the hang-over
    audio = np.concatenate([silence(0.4), said("play deck one"), silence(0.15), said("backwards"), silence(1.0)])
    outcomes = _outcomes(early, audio)
    assert len(outcomes) == 1  # one utterance: the pause did not end it
    assert not outcomes[0].early or outcomes[0].best.intent != "play"
    assert [o.best.intent for o in outcomes if o.verdict.approved] in ([], ["reverse"])


# --- long recordings ------------------------------------------------------------------------

LONG_SET = ["sync deck two", "play the second deck", "loop eight on the left deck", "kill the bass on the right",
            "jump back sixteen beats on deck two", "browse up", "sync deck one", "loop four on the right deck"]


@pytest.mark.slow  # a minute of audio through Whisper
def test_a_long_recording_hears_every_command_and_each_costs_what_the_first_did(whisper, speak) -> None:
    """A set's worth of commands in one stream, read as fast as it goes (``djtui listen
    --fast``, ``djtui eval``): every one is heard, and the last ones cost what the first
    did. (A 10-minute file with 30 commands printed 25 in 175 s: torch's and numpy's idle
    threads spun on the shared cores; the decoder and BLAS now run one.)"""
    import time

    from threadpoolctl import threadpool_info

    from djtui.core.listener import Listener
    from djtui.core.stages import BLAS_THREADS, DECODER_THREADS

    listener = Listener(quick_config(), engine=whisper, dry_run=True, session_log=False, act=False)
    import torch

    assert torch.get_num_threads() == DECODER_THREADS
    assert all(pool["num_threads"] == BLAS_THREADS for pool in threadpool_info() if pool["user_api"] == "blas")
    rng = np.random.default_rng(0)
    said = LONG_SET * 2
    stream, spans = [], []
    for text in said:
        speech = speak(text, pad_s=0.0)
        at = sum(len(part) for part in stream) + SAMPLE_RATE // 2
        spans.append((at / SAMPLE_RATE, (at + len(speech)) / SAMPLE_RATE))
        gap = np.zeros(3 * SAMPLE_RATE - len(speech) % SAMPLE_RATE, np.float32)
        stream += [np.zeros(SAMPLE_RATE // 2, np.float32), speech, gap]
    audio = np.concatenate(stream)
    audio += (0.003 * rng.standard_normal(audio.size)).astype(np.float32)  # a room, not digital silence

    heard: list[tuple[float, Any]] = []
    started = time.process_time()
    for at in range(0, audio.size - 511, 512):
        if (outcome := listener.process(audio[at:at + 512])) is not None:
            heard.append((time.process_time() - started, outcome))
    assert len(heard) == len(said), [o.transcript for _, o in heard]
    for (start, end), text, (_, outcome) in zip(spans, said, heard):
        assert outcome.speech_s[0] <= end and outcome.speech_s[1] >= start, (text, outcome.speech_s)
    half = len(heard) // 2
    first, second = heard[half - 1][0], heard[-1][0] - heard[half - 1][0]
    assert second < 1.6 * first, (first, second)  # linear in the commands: nothing grows
