"""``djtui bench resolve``: how long the text resolver takes per transcript, on sampled
sentences of each context garbled the way ASR garbles them, with and without sentence
embeddings (same transcripts, one run)."""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

from djtui.core.stats import summary


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
    """The bundled DJ context, and coffee_maker where a checkout has the shared data."""
    coffee = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "coffee-dev" / "coffee_maker.yaml"
    return [None, coffee] if coffee.exists() else [None]


def run(args: argparse.Namespace) -> int:
    from djtui.commands._shared import config_for
    from djtui.core.stages import context_for, resolver_for

    config = config_for(args)
    weights = list(dict.fromkeys([config.resolver.semantic_weight, 0.0]))
    results = []
    for path in [Path(p) for p in args.context] if args.context else _default_contexts():
        context = context_for(config, path) if path else context_for(config.updated({"resolver": {"context": None}}))
        rng = random.Random(1234)
        transcripts = [garble(s.text, rng) for s in context.sample(args.n, rng)]
        # With the configured embeddings, and without (grammar and phonemes alone), on the
        # same transcripts in the same run.
        for weight in weights:
            resolver = resolver_for(context, config.updated({"resolver": {"semantic_weight": weight}}))
            resolver.warm_up()
            times = []
            for text in transcripts:
                start = time.perf_counter()
                resolver.resolve(text)
                times.append((time.perf_counter() - start) * 1000)
            stats = summary(times, digits=2)
            results.append({
                "context": context.name, "semantic_weight": weight, "n": len(times), "sentences": context.size(),
                "p50_ms": stats["p50"], "p95_ms": stats["p95"], "max_ms": round(max(times), 2),
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
