"""``djtui contexts check FILE``: validate a context; ``djtui contexts show``: list it."""

from __future__ import annotations
from djtui.core.context_file import load_context

import argparse
from pathlib import Path



def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("contexts", help="check or list command contexts")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = actions.add_parser("check", help="validate a context file; every problem as file:line")
    check.add_argument("file", type=Path)
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
    return 0


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
                                  if action else f"moves {intent.move.control}" if intent.move else "—")
        example = context.sample(1, intent=name)[0].text
        table.add_row(name, intent.safety, what, example)
    Console().print(table)
    return 0
