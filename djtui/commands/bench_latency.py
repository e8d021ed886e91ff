"""``djtui bench latency``: from the endpoint decision to MIDI sent, per stage.

Spoken DJ commands are synthesized (espeak-ng and Piper, alternating), framed like the
endpointer's utterances (200 ms pre-roll, 100 ms tail), and each goes through the real
path: ASR → resolver → acoustic rescoring → safety gate → MIDI send on a virtual port
named ``djtui bench`` (never the port Rekordbox listens to). Every clip's best reading is
sent, approved or not, so every total includes one MIDI send. The VAD hang-over comes
before the endpoint decision and is reported on its own.

Wall-clock time is what a DJ waits, but on a shared machine it measures the neighbours
too (and more than one torch thread on busy cores is several times slower than one).
The CPU time the process spent per command is reported beside it (``total_cpu``); with
``--threads 1`` it is the latency on an otherwise idle core.

A wav2vec2-base-sized model costs the same with random weights, so without the hub
checkpoint (offline) the benchmark builds one from the base configuration and says so.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from djtui.core.errors import DjtuiError

STAGES = ("asr", "resolve", "rescore", "safety", "midi")
PRE_ROLL_S = 0.2
TAIL_S = 0.1


def add_parser(bench_subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = bench_subparsers.add_parser(
        "latency", help="endpoint-to-MIDI latency per stage (ASR, resolve, rescore, safety, MIDI)",
        description="Feed synthesized DJ commands through ASR, resolver, rescoring, safety and a MIDI "
                    "send; report p50/p95 per stage and in total, from the endpoint decision.")
    parser.add_argument("--asr", choices=("wav2vec2", "whisper", "both"), default="both",
                        help="engine(s) to measure (default both, with their ratio)")
    parser.add_argument("--model", metavar="PATH",
                        help="wav2vec2 model folder or hub id (default: the hub's wav2vec2-base-960h, "
                             "or a random-weights base-sized model when it is not available)")
    parser.add_argument("--precision", choices=("int8", "fp32", "both"), default="both",
                        help="wav2vec2 weights: int8 dynamic quantization, fp32, or both (default)")
    parser.add_argument("--clips", type=int, default=30, metavar="N", help="spoken commands to time (default 30)")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads for ASR (default: the config's, 0 = all)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(func=run)
    return parser


@dataclass
class Run:
    """One engine's measurements: per-stage and total milliseconds per clip."""

    engine: str
    model: str
    precision: str
    note: str = ""
    stages: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in STAGES})
    totals: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    audio_s: list[float] = field(default_factory=list)
    midi: str = ""

    def summary(self, hangover_ms: int) -> dict[str, Any]:
        # If ASR started when the speech ended instead of at the endpoint decision, the
        # hang-over would hide it: what the DJ would wait then.
        speculative = [max(0.0, asr - hangover_ms) + total - asr
                       for asr, total in zip(self.stages["asr"], self.totals)]
        return {
            "engine": self.engine, "model": self.model, "precision": self.precision,
            "note": self.note, "n": len(self.totals),
            "audio_s_median": round(statistics.median(self.audio_s), 2) if self.audio_s else 0.0,
            "total": _percentiles(self.totals),
            "total_cpu": _percentiles(self.cpu),
            "stages": {s: _percentiles(v) for s, v in self.stages.items() if v},
            "vad_hangover_ms": hangover_ms,
            "total_if_asr_started_at_speech_end": _percentiles(speculative),
            "midi": self.midi,
            "cpus": os.cpu_count(),
            "load_avg_1m": round(os.getloadavg()[0], 2),
        }


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50_ms": 0.0, "p95_ms": 0.0}
    return {"p50_ms": round(_percentile(values, 50), 1), "p95_ms": round(_percentile(values, 95), 1)}


def synthesize_clips(context: Any, n: int, seed: int = 7) -> list[tuple[str, np.ndarray]]:
    """``n`` commands of ``context`` spoken by espeak-ng and Piper in turn, framed like the
    endpointer's utterances."""
    from djtui.training import tts

    rng = random.Random(seed)
    voices = [("en-us", None), ("en-gb", "m3"), ("en-us", "f2")]
    clips = []
    for i, sentence in enumerate(context.sample(n, rng)):
        if i % 2:
            speech = tts.piper(sentence.text)
        else:
            voice, variant = voices[(i // 2) % len(voices)]
            speech = tts.espeak(sentence.text, voice=voice, variant=variant)
        audio = np.concatenate([np.zeros(int(PRE_ROLL_S * tts.SAMPLE_RATE), np.float32), speech,
                                np.zeros(int(TAIL_S * tts.SAMPLE_RATE), np.float32)])
        clips.append((sentence.text, audio))
    return clips


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


def _measure(engine: Any, precision: str, note: str, clips: list[tuple[str, np.ndarray]], context: Any,
             config: Any, midi_out: Any, midi_note: str) -> Run:
    from djtui.commands._shared import resolver_for
    from djtui.core.midi import command_for
    from djtui.core.recognize import Recognizer
    from djtui.core.rescore import Rescorer
    from djtui.core.safety import SafetyGate

    resolver = resolver_for(context, config)
    resolver.warm_up()
    engine.warm_up()
    recognizer = Recognizer(engine, resolver, Rescorer(engine))
    gate = SafetyGate(context, config.safety)
    gate.arm()
    run = Run(engine.name, engine.model_id, precision, note, midi=midi_note)
    recognizer.understand(clips[0][1])  # the first pass pays for lazy set-up; not counted
    random_weights = "random weights" in engine.model_id
    for sentence, audio in clips:
        endpoint, cpu_start = time.perf_counter(), time.process_time()
        if random_weights:
            # The noise it transcribes would time the resolver on garbage: the stages after
            # ASR get the spoken sentence, as a trained model would hear it.
            started = time.perf_counter()
            heard = engine.transcribe(audio)
            asr_ms = (time.perf_counter() - started) * 1000
            understanding = recognizer.understand_result(dataclasses.replace(heard, text=sentence), asr_ms)
        else:
            understanding = recognizer.understand(audio)
        started = time.perf_counter()
        verdict = gate.judge(understanding.candidates)
        safety_ms = (time.perf_counter() - started) * 1000
        command = verdict.command
        if command is None and understanding.best is not None:
            intent = context.intents.get(understanding.best.intent)
            if intent is not None and intent.action is not None:
                try:
                    command = command_for(intent, understanding.best.slots)
                except DjtuiError:
                    command = None
        started = time.perf_counter()
        if midi_out is not None and command is not None:
            midi_out.send(command)
        midi_ms = (time.perf_counter() - started) * 1000
        total = (time.perf_counter() - endpoint) * 1000
        run.cpu.append((time.process_time() - cpu_start) * 1000)
        for stage, ms in {**understanding.timings, "safety": safety_ms, "midi": midi_ms}.items():
            run.stages[stage].append(ms)
        run.totals.append(total)
        run.audio_s.append(len(audio) / 16000)
    return run


def _open_midi(config: Any) -> tuple[Any, str]:
    from djtui.core.midi import MidiOut

    try:
        port = MidiOut(config.midi, port="djtui bench", virtual=True)
    except DjtuiError as exc:
        return None, f"not measured: {exc.message}" + (f" ({exc.hint})" if exc.hint else "")
    return port, "sent on virtual port 'djtui bench'"


def run(args: argparse.Namespace) -> int:
    from djtui.commands._shared import config_for, context_for
    from djtui.core.asr import WhisperEngine

    if args.clips < 1:
        raise DjtuiError("--clips must be at least 1", "e.g. --clips 30")
    config = config_for(args)
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
                    runs.append(_measure(engine, "int8" if engine.quantized else "fp32", note, clips, context,
                                         config, midi_out, midi_note))
                    del engine
            if args.asr in ("whisper", "both"):
                engine = WhisperEngine(threads=threads)
                runs.append(_measure(engine, "int8", "", clips, context, config, midi_out, midi_note))
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


def _print_table(summaries: list[dict[str, Any]], ratio: dict[str, float] | None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title=f"endpoint → MIDI latency, ms (p50 / p95), {summaries[0]['n']} spoken commands, "
                        f"median {summaries[0]['audio_s_median']} s")
    table.add_column("engine")
    for column in (*STAGES, "total", "if ASR at speech end"):
        table.add_column(column, justify="right")
    for s in summaries:
        cells = [f"{s['stages'][st]['p50_ms']:.0f} / {s['stages'][st]['p95_ms']:.0f}" if st in s["stages"] else "-"
                 for st in STAGES]
        speculative = s["total_if_asr_started_at_speech_end"]
        table.add_row(f"{s['engine']} {s['precision']}\n{s['model']}", *cells,
                      f"[bold]{s['total']['p50_ms']:.0f} / {s['total']['p95_ms']:.0f}[/]",
                      f"{speculative['p50_ms']:.0f} / {speculative['p95_ms']:.0f}")
    console.print(table)
    console.print(f"VAD hang-over before the endpoint decision: {summaries[0]['vad_hangover_ms']} ms (not in the totals)")
    console.print(f"MIDI: {summaries[0]['midi']}")
    console.print(f"CPU: {summaries[0]['cpus']} cores, load average {summaries[0]['load_avg_1m']} at the end. Other "
                  "work on the machine inflates every number; with --threads 1 the CPU time per command "
                  "(" + ", ".join(f"{s['engine']} {s['precision']} {s['total_cpu']['p50_ms']:.0f} / "
                                  f"{s['total_cpu']['p95_ms']:.0f} ms" for s in summaries)
                  + ") is what it takes on an idle core")
    for note in dict.fromkeys(s["note"] for s in summaries if s["note"]):
        console.print(f"note: {note}")
    if ratio:
        console.print(f"Whisper tiny.en / wav2vec2 total: {ratio['p50_ms']}x at p50, {ratio['p95_ms']}x at p95")
