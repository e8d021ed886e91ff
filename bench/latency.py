"""``djtui bench latency``: what the DJ feels, from the last syllable to MIDI sent.

Spoken DJ commands are synthesized (espeak-ng and Piper, alternating) and played, in
real time, into the live :class:`~djtui.core.pipeline.Pipeline`, each after a little
silence and followed by silence longer than the hang-over, as a DJ would say them; the
next is played once the last has been handled. Everything runs as on stage: the VAD and
endpointer, the glimpses of speech in progress, the draft understood at the first
silence, early finalisation (:mod:`djtui.core.early`), the safety gate, and a real MIDI
send on a virtual port named ``djtui bench`` (never the port Rekordbox listens to).

The same clips are played twice, early finalisation on and off, and for each run the
bench reports:

- end of speech → MIDI sent (``said_to_done``: the silence waited before the endpoint
  decision plus everything after it) and endpoint → MIDI sent (``total``), p50/p95;
- the share of commands finalised early;
- the CPU time this process spent per command (VAD over the clip, glimpses, the draft,
  everything up to the MIDI send) beside the wall-clock numbers, with the load average:
  on a shared machine wall-clock time measures the neighbours too;
- accuracy: commands sent that were what was said (``right``), sent but not what was
  said (``wrong``), and not sent (``missed``).

The commands come from the context's safe intents that send MIDI whatever the decks do,
so the safety gate (armed; the decks reported paused; cooldowns and rate limits off, the
confidence rules as configured) sends what it understands.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from djtui.core.audio import SAMPLE_RATE
from djtui.core.errors import DjtuiError
from djtui.core.events import STAGES, Outcome
from djtui.core.stats import percentile

LEAD_IN_S = 0.4
"""Silence before each spoken command in the live stream (fills the endpointer's pre-roll)."""
AFTER_HANGOVER_S = 0.3
"""Silence after the hang-over has run out, so every command reaches its endpoint."""


def _p50_p95(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50_ms": 0.0, "p95_ms": 0.0}
    return {"p50_ms": round(percentile(values, 50), 1), "p95_ms": round(percentile(values, 95), 1)}


@dataclass
class Run:
    """One pass over the clips: what each command took and whether it was right."""

    early_finalize: bool
    said_to_done: list[float] = field(default_factory=list)
    total: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    stages: dict[str, list[float]] = field(default_factory=dict)
    early: int = 0
    right: int = 0
    wrong: int = 0
    heard: int = 0

    def add(self, outcome: Outcome, cpu_ms: float, said: tuple[str, dict[str, str]]) -> None:
        self.heard += 1
        self.said_to_done.append(outcome.said_to_done_ms)
        self.total.append(outcome.total_ms)
        self.cpu.append(cpu_ms)
        for stage, ms in outcome.stages_ms.items():
            if stage != "vad_endpoint":
                self.stages.setdefault(stage, []).append(ms)
        self.early += outcome.early
        if outcome.sent:
            candidate = outcome.verdict.candidate
            if candidate is not None and (candidate.intent, candidate.slots) == said:
                self.right += 1
            else:
                self.wrong += 1

    def summary(self, clips: int) -> dict[str, Any]:
        return {
            "early_finalize": self.early_finalize, "clips": clips, "heard": self.heard,
            "said_to_done": _p50_p95(self.said_to_done), "total": _p50_p95(self.total), "total_cpu": _p50_p95(self.cpu),
            "stages": {s: _p50_p95(v) for s, v in sorted(self.stages.items(), key=lambda kv: STAGES.index(kv[0]))},
            "finalised_early": self.early, "right": self.right, "wrong": self.wrong,
            "missed": clips - self.right - self.wrong,
            "accuracy": round(self.right / clips, 4) if clips else None,
        }


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


def synthesize_clips(context: Any, n: int, seed: int = 7) -> list[tuple[Any, np.ndarray]]:
    """``n`` commands of ``context`` (sentences) spoken by espeak-ng and Piper in turn."""
    from djtui.training import tts

    voices = [("en-us", None), ("en-gb", "m3"), ("en-us", "f2")]
    clips = []
    for i, sentence in enumerate(sendable_sentences(context, n, seed)):
        if i % 2:
            speech = tts.piper(sentence.text)
        else:
            voice, variant = voices[(i // 2) % len(voices)]
            speech = tts.espeak(sentence.text, voice=voice, variant=variant)
        clips.append((sentence, np.asarray(speech, dtype=np.float32)))
    return clips


def _silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * SAMPLE_RATE), np.float32)


class SpokenCommands:
    """An :class:`~djtui.core.audio.AudioSource` that plays ``clips`` one after another
    in real time, each with ``lead_in_s`` of silence before it and ``trailing_s`` after,
    and waits (up to ``timeout_s``) for ``handled`` before the next: a DJ who speaks the
    next command once the last one has been dealt with. ``on_clip(index)`` is called as
    each clip starts."""

    def __init__(self, clips: list[np.ndarray], lead_in_s: float, trailing_s: float, handled: threading.Event,
                 on_clip: Any, block: int = 512, timeout_s: float = 30.0) -> None:
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
        for index, speech in enumerate(self.clips):
            audio = np.concatenate([self.lead_in, speech, self.trailing])
            self.handled.clear()
            self.on_clip(index)
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


def bench_config(config: Any) -> Any:
    """``config`` always listening, armed, with cooldowns and rate limits off, so every
    command heard clearly is sent and timed through the MIDI send; the confidence rules
    stay as configured (early finalisation depends on them)."""
    return config.updated({
        "safety": {"armed_at_start": True, "cooldown_ms": 0, "max_commands_per_minute": 100_000},
        "audio": {"trigger": "always"},
    })


def _measure(engine: Any, clips: list[tuple[Any, np.ndarray]], context: Any, config: Any, midi_out: Any) -> Run:
    from djtui.core.pipeline import Pipeline

    pipeline = Pipeline(config, context=context, engine=engine, midi_out=midi_out, dry_run=midi_out is None,
                        session_log=False)
    for channel in range(4):  # Rekordbox reports every deck paused: nothing waits for 'confirm'
        pipeline.deck_state.set("playing", channel, False, source="feedback")
    run = Run(config.vad.early_finalize)
    handled = threading.Event()
    current = {"index": 0, "cpu": time.process_time()}

    def on_clip(index: int) -> None:
        current["index"], current["cpu"] = index, time.process_time()

    def on_event(event: Any) -> None:
        if isinstance(event, Outcome):
            sentence = clips[current["index"]][0]
            run.add(event, (time.process_time() - current["cpu"]) * 1000, (sentence.intent, dict(sentence.slots)))
            handled.set()

    pipeline.subscribe(on_event)
    trailing_s = config.vad.hangover_ms / 1000 + AFTER_HANGOVER_S
    try:
        pipeline.start(SpokenCommands([speech for _, speech in clips], LEAD_IN_S, trailing_s, handled, on_clip))
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
    from djtui.core.stages import engine_for

    if args.clips < 1:
        raise DjtuiError("--clips must be at least 1", "e.g. --clips 30")
    music = getattr(args, "music", None)
    if not music and (getattr(args, "hog", False) or getattr(args, "snr", None) is not None):
        raise DjtuiError("--snr and --hog measure commands over music", "give the music: --music FILE")
    if music and args.interval < 2:
        raise DjtuiError("--interval must be at least 2 s", "e.g. --interval 4: a command every 4 s")
    config = bench_config(config_for(args, asr={"engine": args.asr, "model": args.model,
                                                "threads": args.threads or None}))
    context = context_for(args, config)
    engine = engine_for(config, context)
    engine.warm_up()
    clips = synthesize_clips(context, args.clips)
    midi_out, midi_note = _open_midi(config)
    report: dict[str, Any] = {
        "engine": engine.name, "model": engine.model_id, "threads": config.asr.threads, "clips": len(clips),
        "audio_s_median": round(float(np.median([len(s) / SAMPLE_RATE for _, s in clips])), 2),
        "vad_hangover_ms": config.vad.hangover_ms, "midi": midi_note, "cpus": os.cpu_count(),
    }
    try:
        if music:
            report.update(_music_runs(engine, clips, context, config, midi_out, args))
        else:
            runs = [_measure(engine, clips, context, config.updated({"vad": {"early_finalize": early}}), midi_out)
                    for early in (True, False)]
            report["runs"] = [r.summary(len(clips)) for r in runs]
    finally:
        if midi_out is not None:
            midi_out.close()
    report["load_avg_1m"] = round(os.getloadavg()[0], 2)
    if args.json:
        print(json.dumps(report))
    elif music:
        _print_music_table(report)
    else:
        _print_table(report)
    return 0


def _music_runs(engine: Any, clips: list[tuple[Any, np.ndarray]], context: Any, config: Any, midi_out: Any,
                args: argparse.Namespace) -> dict[str, Any]:
    """The clips over the music as one stream, early finalisation on and off, and the
    same again beside a CPU hog with ``--hog``: one run after another, alternating."""
    from pathlib import Path

    from djtui.bench import music

    snr = 10.0 if args.snr is None else args.snr
    played = music.program(music.read_music([Path(p) for p in args.music]), clips, args.interval, snr)
    runs = []
    for hog in ((False, True) if args.hog else (False,)):
        for early in (True, False):
            runs.append(music.measure(engine, played, context, config.updated({"vad": {"early_finalize": early}}),
                                      midi_out, hog))
    return {"music": [str(p) for p in args.music], "snr_db": snr, "interval_s": args.interval,
            "stream_s": round(played.audio.size / SAMPLE_RATE, 1), "runs": runs}


def _cell(p: dict[str, float]) -> str:
    digits = 1 if p["p95_ms"] < 10 else 0  # sub-millisecond stages still show
    return f"{p['p50_ms']:.{digits}f} / {p['p95_ms']:.{digits}f}"


def _print_table(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    on, off = report["runs"]
    table = Table(title=f"{report['clips']} spoken commands (median {report['audio_s_median']} s), "
                        f"{report['engine']} {report['model']}: ms, p50 / p95")
    table.add_column("")
    table.add_column("early finalisation on", justify="right")
    table.add_column("off", justify="right")
    rows = [
        ("[bold]end of speech → MIDI[/]", [f"[bold]{_cell(r['said_to_done'])}[/]" for r in (on, off)]),
        ("endpoint → MIDI", [_cell(r["total"]) for r in (on, off)]),
        ("finalised early", [f"{r['finalised_early']} of {r['heard']}" for r in (on, off)]),
        ("CPU per command", [_cell(r["total_cpu"]) for r in (on, off)]),
        ("right / wrong / missed", [f"{r['right']} / {r['wrong']} / {r['missed']}" for r in (on, off)]),
    ]
    for stage in on["stages"]:
        rows.append((f"  {stage}", [_cell(r["stages"][stage]) if stage in r["stages"] else "-" for r in (on, off)]))
    for label, cells in rows:
        table.add_row(label, *cells)
    console = Console()
    console.print(table)
    console.print(f"end of speech → MIDI includes the silence waited before the endpoint decision: the "
                  f"{report['vad_hangover_ms']} ms hang-over, or one 32 ms block when finalised early. Stages count "
                  "their part after the endpoint.")
    console.print(f"MIDI: {report['midi']}. CPU: {report['cpus']} cores, load average {report['load_avg_1m']} at the "
                  "end; 'CPU per command' is this process's CPU time per spoken command.")


def _print_music_table(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    runs = report["runs"]
    table = Table(title=f"{report['clips']} spoken commands over music at {report['snr_db']:g} dB, one every "
                        f"{report['interval_s']:g} s ({report['stream_s']} s of stream, played in real time), "
                        f"{report['engine']} {report['model']}: ms, p50 / p95")
    table.add_column("")
    for r in runs:
        table.add_column(f"early {'on' if r['early_finalize'] else 'off'}{' + CPU hog' if r['hog'] else ''}",
                         justify="right")

    def cell(p: dict[str, Any]) -> str:
        return "-" if p["p50_ms"] is None else f"{p['p50_ms']:.0f} / {p['p95_ms']:.0f}"

    rows = [
        ("[bold]end of speech → MIDI[/]", [f"[bold]{cell(r['said_to_done'])}[/]" for r in runs]),
        ("finalised early", [f"{r['finalised_early']} of {r['right']}" for r in runs]),
        ("right / wrong / lost", [f"{r['right']} / {r['wrong']} / {r['lost']}" for r in runs]),
        ("false triggers", [str(r["false_triggers"]) for r in runs]),
        ("VAD's end of speech, late by", [cell(r["vad_end_late"]) for r in runs]),
        ("CPU s per s of stream", [f"{r['cpu_per_stream_s']:.3f}" for r in runs]),
        ("load average (1 min)", [f"{r['load_avg_1m']:.1f}" for r in runs]),
    ]
    for label, cells in rows:
        table.add_row(label, *cells)
    console = Console()
    console.print(table)
    console.print("End of speech → MIDI runs from the last frame of each command's speech (from the clean clip) to "
                  "its outcome; only commands sent right count. CPU is this process's, every thread; the hog is "
                  "another process spinning on one core.")
