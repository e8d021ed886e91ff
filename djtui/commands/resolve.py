"""``djtui resolve "TEXT"``: what a transcript means, as the top-5 commands."""

from __future__ import annotations

import argparse
import json
import sys

from djtui.commands._shared import add_context_option, config_for, context_for


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("resolve", help="print the top-5 commands a transcript means",
                            description="Resolve a transcript to the five commands it most likely means. "
                                        "TEXT '-' reads one transcript per line from standard input.")
    parser.add_argument("text", metavar="TEXT", help="the transcript, or - for one per line on stdin")
    add_context_option(parser)
    parser.add_argument("--json", action="store_true", help="JSON instead of a table (one object per line with -)")
    parser.add_argument("-k", type=int, default=5, help="how many candidates (default 5)")
    parser.set_defaults(func=run)


def as_json(text: str, candidates: list) -> str:
    return json.dumps({
        "text": text,
        "candidates": [{"intent": c.intent, "slots": c.slots, "score": round(c.score, 4),
                        "sentence": c.sentence, "evidence": c.evidence} for c in candidates],
    })


def print_table(text: str, candidates: list) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"“{text}”", title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("intent")
    table.add_column("slots")
    table.add_column("score", justify="right")
    table.add_column("matched sentence", style="dim")
    for i, c in enumerate(candidates, 1):
        slots = ", ".join(f"{k}={v}" for k, v in sorted(c.slots.items()))
        table.add_row(str(i), c.intent, slots, f"{c.score:.2f}", c.sentence)
    if not candidates:
        table.add_row("", "(nothing: empty transcript)", "", "", "")
    Console().print(table)


def run(args: argparse.Namespace) -> int:
    config = config_for(args)
    context = context_for(args, config)
    from djtui.core.stages import resolver_for

    resolver = resolver_for(context, config)
    show = (lambda t, c: print(as_json(t, c), flush=True)) if args.json else print_table
    if args.text != "-":
        show(args.text, resolver.resolve(args.text, k=args.k))
        return 0
    for line in sys.stdin:
        text = line.strip()
        if text:
            show(text, resolver.resolve(text, k=args.k))
    return 0
