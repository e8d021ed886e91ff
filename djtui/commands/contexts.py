"""``djtui contexts check FILE``: validate a context and report its near-collisions;
``djtui contexts show``: list it."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from djtui.core.context_file import load_context



def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("contexts", help="check or list command contexts")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = actions.add_parser("check", help="validate a context file; every problem as file:line, then the "
                                             "commands it makes (nearly) the same")
    check.add_argument("file", type=Path)
    check.add_argument("--all", action="store_true", help="list every ambiguity, not the first 12")
    check.set_defaults(func=run_check)
    show = actions.add_parser("show", help="list a context's intents, slots and actions")
    show.add_argument("file", type=Path, nargs="?", help="default: [resolver] context, else the bundled DJ context")
    show.set_defaults(func=run_show)


def run_check(args: argparse.Namespace) -> int:
    from djtui.core.resolve import Resolver

    context = load_context(args.file)  # raises ContextError listing every problem
    Resolver(context, semantic_weight=0.0)  # and a context too big to resolve says so here, not on stage
    size = context.size()
    print(f"{args.file}: ok — {len(context.intents)} intents, {len(context.slot_types)} slot types, "
          f"{size:,} sentences")
    _report_ambiguities(args.file, context, args.all)
    return 0


SHOWN = 12
"""Ambiguities listed unless --all."""


def _report_ambiguities(path: Path, context: Any, show_all: bool) -> None:
    """The context's near-collisions (:mod:`djtui.core.ambiguity`), as ``file:line``
    warnings naming both intents' lines; the file stays valid."""
    from djtui.core.ambiguity import ambiguities
    from djtui.evaluation.labels import command_label

    found = ambiguities(context)
    how = "every sentence" if found.exhaustive else f"a sample of {found.sentences:,} sentences"
    if not found.ambiguities:
        print(f"no ambiguities: no two commands say or sound the same ({how} compared)")
        return
    print(f"{len(found.ambiguities)} ambiguities ({how} compared): commands the grammar writes the same, "
          "or nearly, which no confidence can tell apart; rephrase one of each pair")
    for a in found.ambiguities[: None if show_all else SHOWN]:
        (i1, s1), (i2, s2) = a.commands
        line1, line2 = context.intents[i1].line, context.intents[i2].line
        apart = f" ({a.differ[0] or '—'} / {a.differ[1] or '—'})" if any(a.differ) else ""
        like = f"; {a.count:,} pairs of sentences like it" if a.count > 1 else ""
        print(f"{path}:{line1}: ambiguous, {a.kind}{apart}: \"{a.sentences[0]}\" is {command_label(i1, dict(s1))}, "
              f"\"{a.sentences[1]}\" ({path}:{line2}) is {command_label(i2, dict(s2))}{like}")
    if not show_all and len(found.ambiguities) > SHOWN:
        print(f"… and {len(found.ambiguities) - SHOWN} more (--all lists them)")


def run_show(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from djtui.commands._shared import config_for
    from djtui.core.stages import context_for

    context = context_for(config_for(args), args.file)
    table = Table(title=f"context {context.name}")
    for column in ("intent", "safety", "action", "example"):
        table.add_column(column)
    for name, intent in context.intents.items():
        action = intent.action
        what = intent.control or (f"{action.function or 'by ' + (action.key or '')} "
                                  f"{action.type} ch {'deck' if action.channel is None else action.channel + 1}"
                                  if action else "—")
        example = context.sample(1, intent=name)[0].text
        table.add_row(name, intent.safety, what, example)
    Console().print(table)
    return 0
