"""``djtui resolve "TEXT"``: what a transcript means, as the top-5 commands."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator

from djtui.commands._shared import StatusLine, add_context_option, config_for, context_for
from djtui.core.errors import DjtuiError


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("resolve", help="print the top-5 commands a transcript means",
                            description="Resolve a transcript to the five commands it most likely means. "
                                        "TEXT '-' reads one transcript per line from standard input. "
                                        "A transcript is at most 40 words (400 characters): one command.",
                            epilog="With -, 1 means that some lines were refused (each is named).")
    parser.add_argument("text", metavar="TEXT", help="the transcript, or - for one per line on stdin")
    add_context_option(parser)
    parser.add_argument("--json", action="store_true", help="JSON instead of a table (one object per line with -)")
    parser.add_argument("-k", type=int, default=5, help="how many candidates (default 5)")
    parser.set_defaults(func=run)


def as_json(text: str, candidates: list, ignored: list[str]) -> str:
    return json.dumps({
        "text": text,
        "candidates": [{"intent": c.intent, "slots": c.slots, "score": round(c.score, 4),
                        "sentence": c.sentence, "evidence": c.evidence} for c in candidates],
        "ignored": ignored,
    }, ensure_ascii=False)


def print_table(text: str, candidates: list, ignored: list[str]) -> None:
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
        table.add_row("", "(nothing: no words to read in it)", "", "", "")
    if ignored:
        table.caption = "ignored, no English reading: " + " ".join(ignored)
    Console().print(table)


def stdin_lines(limit: int) -> Iterator[tuple[int, str | None]]:
    """``(line number, text)`` of each non-blank line on standard input; text ``None``
    for a line longer than ``limit`` characters, which is skipped without ever being held
    in memory whole."""
    number = 0
    while chunk := sys.stdin.readline(limit + 1):
        number += 1
        if len(chunk) > limit and not chunk.endswith("\n"):
            while (rest := sys.stdin.readline(limit + 1)) and not rest.endswith("\n"):
                pass
            yield number, None
        elif chunk.strip():
            yield number, chunk.strip()


def run(args: argparse.Namespace) -> int:
    from djtui.core import phonetic
    from djtui.core.resolve import MAX_TRANSCRIPT_CHARS, TranscriptTooLong
    from djtui.core.stages import resolver_for

    config = config_for(args)
    context = context_for(args, config)
    status = StatusLine()  # the meaning model loads on the first paraphrase: seconds, said on stderr
    resolver = resolver_for(context, config, on_progress=status)
    status.done()

    def resolve(text: str) -> list:
        try:
            return resolver.resolve(text, k=args.k)
        finally:
            status.done()

    show = (lambda t, c, i: print(as_json(t, c, i), flush=True)) if args.json else print_table
    if args.text != "-":
        show(args.text, resolve(args.text), phonetic.unreadable(args.text))
        return 0
    refused = 0
    for number, text in stdin_lines(MAX_TRANSCRIPT_CHARS):
        try:
            if text is None:
                raise TranscriptTooLong(f"transcript too long to be a command: over {MAX_TRANSCRIPT_CHARS} characters")
            show(text, resolve(text), phonetic.unreadable(text))
        except TranscriptTooLong as exc:  # one bad line must not stop the rest
            refused += 1
            print(f"djtui: line {number}: {exc.message}", file=sys.stderr)
    if refused:  # the others were resolved: problems found, not a run that failed
        print(f"{refused} transcript{'s' if refused > 1 else ''} refused (see above): a command is one short "
              "sentence per line", file=sys.stderr)
        return 1
    return 0
