"""``djtui contexts check [FILE]``: validate a context; ``djtui contexts show [FILE]``: list it.

Both take the context every other command would use when no file is given: the config's
``[resolver] context``, else the bundled DJ context.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DEFAULT = "default: [resolver] context, else the bundled DJ context"


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("contexts", help="check or list command contexts")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = actions.add_parser("check", help="validate a context file; every problem as file:line",
                               description="Validate a context file: every problem as file:line: what, in "
                                           "line order.")
    check.add_argument("file", type=Path, nargs="?", help=DEFAULT)
    check.set_defaults(func=run_check)
    show = actions.add_parser("show", help="list a context's commands, slots and what each sends",
                              description="Every command of a context: what a person would say for it, the "
                                          "slots it takes, and what it sends as Rekordbox will see it (the "
                                          "mapping's function names and the MIDI messages); then every slot "
                                          "type with its values and the words that say each.")
    show.add_argument("file", type=Path, nargs="?", help=DEFAULT)
    show.set_defaults(func=run_show)


def _chosen(args: argparse.Namespace) -> Path | None:
    """The file to read: the one given, else the config's; ``None`` for the bundled one."""
    from djtui.commands._shared import config_for

    chosen = args.file or config_for(args).resolver.context
    return Path(chosen).expanduser() if chosen else None


def run_check(args: argparse.Namespace) -> int:
    from djtui.core.context_file import default_context, load_context
    from djtui.core.errors import ContextError, DjtuiError
    from djtui.core.resolve import Resolver

    path = _chosen(args)
    if path is not None and not path.is_file():  # nothing to check: not a problem in a file
        raise DjtuiError(f"{path}: no such file" if not path.exists() else f"{path}: not a file",
                         "give the path of a context YAML file")
    try:
        context = load_context(path) if path is not None else default_context()
    except ContextError as exc:  # problems in the file: each on its line, and the count
        for problem in exc.problems:
            print(problem)
        print(f"{len(exc.problems)} problem{'s' if len(exc.problems) != 1 else ''}", file=sys.stderr)
        return 1
    try:  # a context too big to resolve says so here, not on stage
        Resolver(context, semantic_weight=0.0)
    except DjtuiError as exc:
        print(f"{path or context.name}: {exc.message}" + (f" ({exc.hint})" if exc.hint else ""))
        print("1 problem", file=sys.stderr)
        return 1
    size = context.size()
    print(f"{path or 'the bundled DJ context'}: ok — {len(context.intents)} intents, "
          f"{len(context.slot_types)} slot types, {size:,} sentences")
    return 0


def run_show(args: argparse.Namespace) -> int:
    """Every command with what a person would say for it, the slots it takes and what it
    sends, in Rekordbox's names; then every slot type, its values and the words for each."""
    from rich.console import Console
    from rich.table import Table

    from djtui.commands._shared import config_for
    from djtui.core.errors import DjtuiError
    from djtui.core.examples import describe_slots, examples
    from djtui.core.rekordbox import PadLayout, describe_sends, plan_export
    from djtui.core.resolve import Resolver
    from djtui.core.stages import context_for

    config = config_for(args)
    context = context_for(config, args.file)
    try:
        export = plan_export(context, PadLayout.from_config(config.rekordbox))
    except DjtuiError:
        export = None  # a context Rekordbox cannot map: its own names, as written
    said = examples(context, Resolver(context, semantic_weight=0.0))  # sentences the resolver reads back
    commands = Table(title=f"context {context.name}: {len(context.intents)} commands", title_justify="left")
    for column in ("command", "safety", "say", "slots", "sends"):
        commands.add_column(column, overflow="fold")
    for name, intent in context.intents.items():
        commands.add_row(name, intent.safety, said[name].text, describe_slots(context, name) or "—",
                         describe_sends(context, name, export))
    slots = Table(title="slot types: each value, and the words that say it", title_justify="left")
    for column in ("slot type", "value", "said as"):
        slots.add_column(column, overflow="fold")
    for type_name, slot_type in context.slot_types.items():
        for i, (value, phrases) in enumerate(slot_type.values.items()):
            slots.add_row(type_name if i == 0 else "", value, ", ".join(phrases))
    console = Console()
    console.print(commands)
    if context.slot_types:
        console.print(slots)
    return 0
