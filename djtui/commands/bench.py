"""``djtui bench …``: speed measurements. Benchmarks, not tests: run them on a quiet
machine and read medians, the machine is noisy."""

from __future__ import annotations

import argparse
import importlib
import json
import random
import statistics
import time
from pathlib import Path

from djtui.commands._shared import config_for


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("bench", help="measure speed (resolve, latency)")
    kinds = parser.add_subparsers(dest="bench", metavar="BENCH", required=True)
    resolve = kinds.add_parser("resolve", help="resolver latency on a fixed transcript set, DJ and coffee_maker contexts")
    resolve.add_argument("--json", action="store_true")
    resolve.add_argument("-n", type=int, default=200, help="transcripts per context (default 200)")
    resolve.add_argument("--context", action="append", metavar="FILE",
                         help="contexts to measure (default: the DJ context, and coffee_maker if found)")
    resolve.set_defaults(func=run_resolve)
    try:
        bench_latency = importlib.import_module("djtui.commands.bench_latency")
    except ModuleNotFoundError as exc:
        if exc.name != "djtui.commands.bench_latency":
            raise
    else:
        bench_latency.add_parser(kinds)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def garble(text: str, rng: random.Random) -> str:
    """A transcript as a noisy ASR might write it: a word dropped, doubled or swapped
    for a sound-alike now and then."""
    sound_alikes = {"play": "pay", "left": "laughed", "pause": "pose", "loop": "lube", "deck": "check",
                    "two": "too", "four": "for", "eight": "ate", "cue": "queue", "sync": "sink",
                    "milk": "mill", "shot": "shut", "roast": "rose", "latte": "lotte", "with": "width"}
    words = text.split()
    out = []
    for word in words:
        r = rng.random()
        if r < 0.05 and len(words) > 2:
            continue
        out.append(sound_alikes.get(word, word) if r < 0.35 else word)
    return " ".join(out)


def _default_contexts() -> list[Path | None]:
    coffee = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "coffee-dev" / "coffee_maker.yaml"
    return [None, coffee.resolve()] if coffee.exists() else [None]


def run_resolve(args: argparse.Namespace) -> int:
    from djtui.commands._shared import resolver_for
    from djtui.core.context import default_context, load_context

    config = config_for(args)
    weights = list(dict.fromkeys([config.resolver.semantic_weight, 0.0]))
    results = []
    for path in [Path(p) for p in args.context] if args.context else _default_contexts():
        context = load_context(path) if path else default_context()
        rng = random.Random(1234)
        transcripts = [garble(s.text, rng) for s in context.sample(args.n, rng)]
        # With the configured embeddings, and without (grammar and phonemes alone), on the
        # same transcripts in the same run.
        for weight in weights:
            config.resolver.semantic_weight = weight
            resolver = resolver_for(context, config)
            resolver.warm_up()
            times = []
            for text in transcripts:
                start = time.perf_counter()
                resolver.resolve(text)
                times.append((time.perf_counter() - start) * 1000)
            results.append({
                "context": context.name, "semantic_weight": weight, "n": len(times), "sentences": context.size(),
                "p50_ms": round(statistics.median(times), 2), "p95_ms": round(percentile(times, 95), 2),
                "max_ms": round(max(times), 2),
            })
    if args.json:
        print(json.dumps({"bench": "resolve", "results": results}))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title="resolve latency (ms, one transcript at a time)")
    for column in ("context", "sentences", "embeddings", "n", "p50", "p95", "max"):
        table.add_column(column, justify="right" if column != "context" else "left")
    for r in results:
        embeddings = f"weight {r['semantic_weight']}" if r["semantic_weight"] else "off"
        table.add_row(r["context"], f"{r['sentences']:,}", embeddings, str(r["n"]), f"{r['p50_ms']:.1f}",
                      f"{r['p95_ms']:.1f}", f"{r['max_ms']:.1f}")
    Console().print(table)
    return 0
