"""``djtui contexts check [FILE]``: validate a context and report its near-collisions;
``djtui contexts show [FILE]``: list it.

Both take the context every other command would use when no file is given: the config's
``[resolver] context``, else the bundled DJ context.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from djtui.core.context_file import load_context

DEFAULT = "default: [resolver] context, else the bundled DJ context"


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("contexts", help="check or list command contexts")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = actions.add_parser("check", help="validate a context file; every problem as file:line, then the "
                                             "commands it makes (nearly) the same",
                               description="Validate a context file: every problem as file:line: what, in "
                                           "line order; then the commands it makes (nearly) the same.")
    check.add_argument("file", type=Path, nargs="?", help=DEFAULT)
    check.add_argument("--all", action="store_true", help="list every ambiguity, not the first 12")
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
    from djtui.core import paths

    _report_ambiguities(path or paths.default_context(), context, args.all)
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
