"""``djtui bench latency``: from the endpoint decision to MIDI sent, per stage.

Spoken DJ commands are synthesized (espeak-ng and Piper, alternating) and played, in
real time, into the live :class:`~djtui.core.pipeline.Pipeline`, each followed by
silence longer than the VAD hang-over, as a DJ would say them: the pipeline's own
threads run the VAD and endpointer, transcribe the draft during the hang-over, and hand
the utterance to ASR → resolver → acoustic rescoring → safety gate → MIDI send on a
virtual port named ``djtui bench`` (never the port Rekordbox listens to). The numbers are
the pipeline's :class:`~djtui.core.pipeline.Trace`: ``total_ms`` from the endpoint
decision to the MIDI send returning, ``stages['asr']`` the wait for the draft's ASR
after the endpoint. The hang-over itself comes before the endpoint and is reported on
its own. The next command is played once the last one has been handled.

The same clips then go through :meth:`Pipeline.handle` with ASR started at the endpoint
(``asr_at_endpoint``): what the hang-over overlap saves.

The commands are drawn from the context's safe, stateless intents and the bench's
safety gate is armed with no thresholds, so a command heard right is sent (``sent``
says how many were): every total then includes one real MIDI send.

Wall-clock time is what a DJ waits, but on a shared machine it measures the neighbours
too. The CPU time the process spent per command (VAD over the clip, ASR, everything up
to the MIDI send) is reported beside it (``total_cpu``), with the load average.

A wav2vec2-base-sized model costs the same with random weights, so without the hub
checkpoint (offline) the benchmark builds one from the base configuration and says so;
its transcripts are noise, so the stages after ASR are given the spoken sentence.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from djtui.core.audio import SAMPLE_RATE
from djtui.core.errors import DjtuiError
from djtui.core.events import Outcome
from djtui.core.stats import percentile

STAGES = ("asr", "resolve", "rescore", "safety", "midi")
PRE_ROLL_S = 0.2
TAIL_S = 0.1
LEAD_IN_S = 0.4
"""Silence before each spoken command in the live stream (fills the endpointer's pre-roll)."""
AFTER_HANGOVER_S = 0.3
"""Silence after the hang-over has run out, so every command reaches its endpoint."""


@dataclass
class Timings:
    """Per-command milliseconds: each stage, the total and the process's CPU time."""

    stages: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in STAGES})
    totals: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def add(self, outcome: Outcome, cpu_ms: float) -> None:
        for stage in STAGES:
            if stage in outcome.stages_ms:
                self.stages[stage].append(outcome.stages_ms[stage])
        self.totals.append(outcome.total_ms)
        self.cpu.append(cpu_ms)

    def summary(self) -> dict[str, Any]:
        return {"n": len(self.totals), "total": _percentiles(self.totals), "total_cpu": _percentiles(self.cpu),
                "stages": {s: _percentiles(v) for s, v in self.stages.items() if v}}


@dataclass
class Run:
    """One engine's measurements: live (ASR during the hang-over) and with ASR started
    at the endpoint."""

    engine: str
    model: str
    precision: str
    threads: int
    note: str = ""
    midi: str = ""
    live: Timings = field(default_factory=Timings)
    at_endpoint: Timings = field(default_factory=Timings)
    clips: int = 0
    asr_ahead: int = 0
    sent: int = 0
    audio_s: list[float] = field(default_factory=list)

    def summary(self, hangover_ms: int) -> dict[str, Any]:
        live = self.live.summary()
        return {
            "engine": self.engine, "model": self.model, "precision": self.precision, "threads": self.threads,
            "note": self.note, **live,
            "clips": self.clips,
            "asr_ahead": self.asr_ahead,
            "sent": self.sent,
            "audio_s_median": round(statistics.median(self.audio_s), 2) if self.audio_s else 0.0,
            "vad_hangover_ms": hangover_ms,
            "asr_at_endpoint": self.at_endpoint.summary(),
            "midi": self.midi,
            "cpus": os.cpu_count(),
            "load_avg_1m": round(os.getloadavg()[0], 2),
        }


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50_ms": 0.0, "p95_ms": 0.0}
    return {"p50_ms": round(percentile(values, 50), 1), "p95_ms": round(percentile(values, 95), 1)}


def sendable_sentences(context: Any, n: int, seed: int = 7) -> list[Any]:
    """``n`` sentences of ``context`` whose intents send MIDI whatever the decks do (safe,
    no toggle, no control), so an armed gate sends them; any intents if it has none."""

    def sendable(name: str) -> bool:
        intent = context.intents[name]
        return (intent.control is None and intent.action is not None and intent.safety == "safe"
                and intent.action.toggle is None)

    names = [name for name in context.intents if sendable(name)] or list(context.intents)
    rng = random.Random(seed)
    return [context.sample(1, rng, intent=rng.choice(names))[0] for _ in range(n)]


def synthesize_clips(context: Any, n: int, seed: int = 7) -> list[tuple[str, np.ndarray]]:
    """``n`` commands of ``context`` spoken by espeak-ng and Piper in turn (speech only)."""
    from djtui.training import tts

    voices = [("en-us", None), ("en-gb", "m3"), ("en-us", "f2")]
    clips = []
    for i, sentence in enumerate(sendable_sentences(context, n, seed)):
        if i % 2:
            speech = tts.piper(sentence.text)
        else:
            voice, variant = voices[(i // 2) % len(voices)]
            speech = tts.espeak(sentence.text, voice=voice, variant=variant)
        clips.append((sentence.text, np.asarray(speech, dtype=np.float32)))
    return clips


def _silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * SAMPLE_RATE), np.float32)


class SpokenCommands:
    """An :class:`~djtui.core.audio.AudioSource` that plays ``clips`` one after another
    in real time, each with ``lead_in_s`` of silence before it and ``trailing_s`` after,
    and waits (up to ``timeout_s``) for ``handled`` before the next: a DJ who speaks the
    next command once the last one has been dealt with. ``on_clip(index, sentence)`` is
    called as each clip starts."""

    def __init__(self, clips: list[tuple[str, np.ndarray]], lead_in_s: float, trailing_s: float,
                 handled: threading.Event, on_clip: Any, block: int = 512, timeout_s: float = 30.0) -> None:
        self.clips = clips
        self.lead_in = _silence(lead_in_s)
        self.trailing = _silence(trailing_s)
        self.handled = handled
        self.on_clip = on_clip
        self.block = block
        self.timeout_s = timeout_s
        self._closed = threading.Event()

    def blocks(self) -> Iterator[np.ndarray]:
        block_s = self.block / SAMPLE_RATE
        for index, (sentence, speech) in enumerate(self.clips):
            audio = np.concatenate([self.lead_in, speech, self.trailing])
            self.handled.clear()
            self.on_clip(index, sentence)
            started = time.monotonic()
            for emitted, at in enumerate(range(0, len(audio) - self.block + 1, self.block)):
                if self._closed.is_set():
                    return
                delay = started + emitted * block_s - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                yield audio[at:at + self.block]
            self.handled.wait(self.timeout_s)

    def close(self) -> None:
        self._closed.set()


def save_random_base_wav2vec2(folder: Path) -> Path:
    """A wav2vec2-base-sized CTC model (``Wav2Vec2Config()`` defaults: 12 layers, hidden
    768) with random weights and wav2vec2-base-960h's character vocabulary, saved in
    ``folder``. Same compute as the real checkpoint; its transcripts are noise."""
    import string

    import torch
    from transformers import (Wav2Vec2Config, Wav2Vec2CTCTokenizer, Wav2Vec2FeatureExtractor,
                              Wav2Vec2ForCTC, Wav2Vec2Processor)

    characters = ["<pad>", "<s>", "</s>", "<unk>", "|", *string.ascii_uppercase, "'"]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps({c: i for i, c in enumerate(characters)}), encoding="utf-8")
    tokenizer = Wav2Vec2CTCTokenizer(str(folder / "vocab.json"), word_delimiter_token="|")
    features = Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=True,
                                        return_attention_mask=False)
    Wav2Vec2Processor(feature_extractor=features, tokenizer=tokenizer).save_pretrained(folder)
    torch.manual_seed(0)
    Wav2Vec2ForCTC(Wav2Vec2Config(vocab_size=len(characters), pad_token_id=0)).save_pretrained(folder)
    return folder


def _wav2vec2_engines(model: str | None, precisions: list[str], threads: int, scratch: Path) -> list[tuple[Any, str]]:
    from djtui.core.asr import DEFAULT_WAV2VEC2, Wav2Vec2Engine

    wanted = model or DEFAULT_WAV2VEC2
    engines = []
    for precision in precisions:
        try:
            engine = Wav2Vec2Engine(wanted, quantize=precision == "int8", threads=threads)
            note = ""
        except DjtuiError:
            if model:  # the user named a model: its failure is the answer
                raise
            folder = scratch / "wav2vec2-base-random"
            if not (folder / "config.json").exists():
                save_random_base_wav2vec2(folder)
            engine = Wav2Vec2Engine(folder, quantize=precision == "int8", threads=threads)
            engine.model_id = "wav2vec2-base (random weights)"
            note = (f"{wanted} is not available offline: measured a wav2vec2-base-sized model with random "
                    "weights (same compute); its transcripts are noise, so the resolver and rescoring were "
                    "given the spoken sentence as the transcript")
        engines.append((engine, note))
    return engines


def _hear_as_spoken(engine: Any) -> dict[str, str]:
    """Make ``engine`` (random weights) report the sentence being spoken as its
    transcript, its compute untouched; the returned dict's ``"sentence"`` sets it."""
    spoken = {"sentence": ""}
    transcribe = engine.transcribe

    def transcribe_as_spoken(audio: np.ndarray) -> Any:
        return dataclasses.replace(transcribe(audio), text=spoken["sentence"])

    engine.transcribe = transcribe_as_spoken
    return spoken


def bench_config(config: Any) -> Any:
    """``config`` always listening, with the safety gate armed and every threshold open,
    so each command heard right is sent and timed through the MIDI send; all the gate's
    code still runs."""
    return config.updated({
        "safety": {"armed_at_start": True, "min_confidence": 0.0, "min_margin": 0.0, "cooldown_ms": 0,
                   "max_commands_per_minute": 100_000, "grammar_floor": 0.0},
        "audio": {"trigger": "always"},
    })


def _measure(engine: Any, precision: str, threads: int, note: str, clips: list[tuple[str, np.ndarray]],
             context: Any, config: Any, midi_out: Any, midi_note: str) -> Run:
    from djtui.core.pipeline import Pipeline
    from djtui.core.vad import Utterance

    spoken = _hear_as_spoken(engine) if "random weights" in engine.model_id else {"sentence": ""}
    pipeline = Pipeline(config, context=context, engine=engine, midi_out=midi_out, dry_run=midi_out is None,
                        session_log=False)
    run = Run(engine.name, engine.model_id, precision, threads, note, midi=midi_note, clips=len(clips))
    handled = threading.Event()
    cpu_at_clip = [time.process_time()]

    def on_clip(index: int, sentence: str) -> None:
        spoken["sentence"] = sentence
        cpu_at_clip[0] = time.process_time()

    def on_event(event: Any) -> None:
        if isinstance(event, Outcome):
            run.live.add(event, (time.process_time() - cpu_at_clip[0]) * 1000)
            run.asr_ahead += event.ahead
            run.sent += bool(event.sent)
            handled.set()

    def handle_at_endpoint(sentence: str, speech: np.ndarray) -> Any:
        spoken["sentence"] = sentence
        audio = np.concatenate([_silence(PRE_ROLL_S), speech, _silence(TAIL_S)])  # as the endpointer cuts it
        return pipeline.handle(Utterance(audio, PRE_ROLL_S, PRE_ROLL_S + len(speech) / SAMPLE_RATE,
                                         time.perf_counter()))

    try:
        handle_at_endpoint(*clips[0])  # the first pass pays for lazy set-up; not counted
        for sentence, speech in clips:
            cpu = time.process_time()
            trace = handle_at_endpoint(sentence, speech)
            run.at_endpoint.add(trace, (time.process_time() - cpu) * 1000)
            run.audio_s.append(len(speech) / SAMPLE_RATE)
        pipeline.subscribe(on_event)
        trailing_s = config.vad.hangover_ms / 1000 + AFTER_HANGOVER_S
        pipeline.start(SpokenCommands(clips, LEAD_IN_S, trailing_s, handled, on_clip))
        pipeline.wait(timeout=60 + 30 * len(clips))
    finally:
        pipeline.stop()
    return run


def _open_midi(config: Any) -> tuple[Any, str]:
    from djtui.core.midi import MidiOut

    try:
        port = MidiOut(config.midi, port="djtui bench", virtual=True)
    except DjtuiError as exc:
        return None, f"not measured (dry run): {exc.message}" + (f" ({exc.hint})" if exc.hint else "")
    return port, "sent on virtual port 'djtui bench'"


def run(args: argparse.Namespace) -> int:
    from djtui.commands._shared import config_for, context_for
    from djtui.core.asr import WhisperEngine

    if args.clips < 1:
        raise DjtuiError("--clips must be at least 1", "e.g. --clips 30")
    config = bench_config(config_for(args))
    context = context_for(args, config)
    threads = args.threads or config.asr.threads
    hangover_ms = config.vad.hangover_ms
    clips = synthesize_clips(context, args.clips)
    midi_out, midi_note = _open_midi(config)
    runs: list[Run] = []
    try:
        with tempfile.TemporaryDirectory(prefix="djtui-bench-") as scratch:
            if args.asr in ("wav2vec2", "both"):
                precisions = ["int8", "fp32"] if args.precision == "both" else [args.precision]
                for engine, note in _wav2vec2_engines(args.model, precisions, threads, Path(scratch)):
                    runs.append(_measure(engine, "int8" if engine.quantized else "fp32", threads, note, clips,
                                         context, config, midi_out, midi_note))
                    del engine
            if args.asr in ("whisper", "both"):
                engine = WhisperEngine(threads=threads)
                runs.append(_measure(engine, "int8", threads, "", clips, context, config, midi_out, midi_note))
    finally:
        if midi_out is not None:
            midi_out.close()
    summaries = [r.summary(hangover_ms) for r in runs]
    ratio = _ratio(summaries)
    if args.json:
        out: Any = summaries[0] if len(summaries) == 1 else {"runs": summaries, "whisper_over_wav2vec2": ratio}
        print(json.dumps(out))
        return 0
    _print_table(summaries, ratio)
    return 0


def _ratio(summaries: list[dict[str, Any]]) -> dict[str, float] | None:
    """Whisper's total over the fastest wav2vec2 run's, at p50 and p95."""
    whisper = [s for s in summaries if s["engine"] == "whisper"]
    wav2vec2 = [s for s in summaries if s["engine"] == "wav2vec2"]
    if not whisper or not wav2vec2:
        return None
    fastest = min(wav2vec2, key=lambda s: s["total"]["p95_ms"])
    return {q: round(whisper[0]["total"][q] / max(fastest["total"][q], 1e-9), 2) for q in ("p50_ms", "p95_ms")}


def _cell(percentiles: dict[str, float]) -> str:
    digits = 1 if percentiles["p95_ms"] < 10 else 0  # sub-millisecond stages still show
    return f"{percentiles['p50_ms']:.{digits}f} / {percentiles['p95_ms']:.{digits}f}"


def _print_table(summaries: list[dict[str, Any]], ratio: dict[str, float] | None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    first = summaries[0]
    table = Table(title=f"endpoint → MIDI, ms (p50 / p95): live pipeline, {first['clips']} spoken commands "
                        f"(median {first['audio_s_median']} s)")
    table.add_column("stage")
    for s in summaries:
        table.add_column(f"{s['engine']} {s['precision']}\n{s['threads'] or 'all'} thread(s)", justify="right")
    rows = [(stage if stage != "asr" else "asr (wait)", [_cell(s["stages"][stage]) if stage in s["stages"] else "-"
                                                         for s in summaries]) for stage in STAGES]
    rows += [("[bold]total[/]", [f"[bold]{_cell(s['total'])}[/]" for s in summaries]),
             ("CPU per command", [_cell(s["total_cpu"]) for s in summaries]),
             ("total, ASR at endpoint", [_cell(s["asr_at_endpoint"]["total"]) for s in summaries]),
             ("heard / ahead / sent", [f"{s['n']} / {s['asr_ahead']} / {s['sent']}" for s in summaries])]
    for label, cells in rows:
        table.add_row(label, *cells)
    console.print(table)
    console.print("Models: " + "; ".join(dict.fromkeys(f"{s['engine']}: {s['model']}" for s in summaries)))
    console.print(f"VAD hang-over before the endpoint decision: {first['vad_hangover_ms']} ms (not in the totals; "
                  "ASR, resolving and rescoring start during it, and 'asr (wait)' etc. are what is left after it)")
    console.print(f"MIDI: {first['midi']}")
    console.print(f"CPU: {first['cpus']} cores, load average {summaries[-1]['load_avg_1m']} at the end. 'CPU per "
                  "command' is this process's CPU time per spoken command (VAD, ASR, every stage); other work "
                  "on the machine inflates the wall-clock numbers.")
    for note in dict.fromkeys(s["note"] for s in summaries if s["note"]):
        console.print(f"note: {note}")
    if ratio:
        console.print(f"Whisper tiny.en / wav2vec2 total: {ratio['p50_ms']}x at p50, {ratio['p95_ms']}x at p95")
