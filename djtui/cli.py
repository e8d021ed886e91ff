"""The ``djtui`` command line. With no sub-command it opens the TUI.

Each sub-command lives in ``djtui/commands/<name>.py`` with a ``register(subparsers)``
function; this module only wires them up and turns :class:`DjtuiError` into one clear
line and a non-zero exit. Heavy libraries are imported inside the commands that use them
so ``djtui --help`` starts instantly.
"""

from __future__ import annotations

import argparse
import os
import sys

from djtui import __version__
from djtui.commands import bench, calibrate, contexts, listen, midi, resolve, synth, testset, train
from djtui.commands import eval as evaluate
from djtui.core.errors import DjtuiError

COMMANDS = (resolve, contexts, bench, listen, midi, synth, train, calibrate, evaluate, testset)
"""Each module's ``register(subparsers)`` adds its sub-command; they import what is heavy
inside their ``run``, so building the parser costs nothing."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="djtui",
        description="Voice control for Rekordbox. With no command, opens the TUI.",
    )
    parser.add_argument("--version", action="version", version=f"djtui {__version__}")
    parser.add_argument("--theme", help="TUI theme: booth, stage or mono")
    parser.add_argument("--config", help="config file (default: the user config dir)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    # Models ship inside packages; never let a library wander off to a hub at run time.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command is None:
            from djtui.tui.app import run_app

            return run_app(args)
        return int(args.func(args) or 0)
    except DjtuiError as exc:
        print(f"djtui: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
