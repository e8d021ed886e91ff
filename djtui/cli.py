"""The ``djtui`` command line. With no sub-command it opens the TUI.

Each sub-command lives in ``djtui/commands/<name>.py`` with a ``register(subparsers)``
function; this module only wires them up and turns :class:`DjtuiError` into one clear
line and a non-zero exit. Heavy libraries are imported inside the commands that use them
so ``djtui --help`` starts instantly.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from djtui import __version__
from djtui.commands import audio, bench, calibrate, contexts, listen, midi, resolve, synth, testset, train
from djtui.commands import eval as evaluate
from djtui.core.errors import DjtuiError

COMMANDS = (resolve, contexts, bench, listen, audio, midi, synth, train, calibrate, evaluate, testset)
"""Each module's ``register(subparsers)`` adds its sub-command; they import what is heavy
inside their ``run``, so building the parser costs nothing."""


EXIT_STATUS = ("Exit status: 0 done, nothing wrong; 1 done, and problems found (each on its own line, "
               "then how many on stderr); 2 could not be done (stderr says why, then what to do); "
               "130 stopped with Ctrl-C.")
"""One convention for every command, said at the end of each ``--help``."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="djtui",
        description="Voice control for Rekordbox. With no command, opens the TUI.",
        epilog=EXIT_STATUS,
    )
    parser.add_argument("--version", action="version", version=f"djtui {__version__}")
    parser.add_argument("--theme", help="TUI theme: booth, stage or mono")
    parser.add_argument("--config", help="config file (default: the user config dir)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.register(sub)
    _say_exit_status(sub)
    return parser


def _say_exit_status(sub: argparse._SubParsersAction) -> None:
    """:data:`EXIT_STATUS` after each command's own epilog (what its 1 means), all the
    way down (``djtui midi check``)."""
    for parser in set(sub.choices.values()):
        parser.epilog = f"{parser.epilog} {EXIT_STATUS}" if parser.epilog else EXIT_STATUS
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                _say_exit_status(action)


def main(argv: list[str] | None = None) -> int:
    # Models ship inside packages; never let a library wander off to a hub at run time.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.theme:
            _check_theme(args.theme, args.command)
        if args.command is None:
            from djtui.tui.app import run_app

            return run_app(args)
        _say_warnings()
        from djtui.core.fileio import write_problems_said

        with write_problems_said("writing"):  # a disk that filled up or turned read-only where no command expected it
            return int(args.func(args) or 0)
    except DjtuiError as exc:
        print(f"djtui: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


def _check_theme(theme: str, command: str | None) -> None:
    """An unknown ``--theme`` is refused with the themes there are, whatever the command;
    a known one given to a command without a screen is said to do nothing."""
    from djtui.themes import load_theme

    load_theme(theme)
    if command is not None:
        print(f"djtui: --theme changes the TUI's colours; `djtui {command}` has no screen to colour", file=sys.stderr)


class _Warnings(logging.Handler):
    """djtui's own warnings (a file clipped, a port gone) as ``djtui: …`` lines on
    stderr, wherever stderr is at the time (a progress bar may have taken it over)."""

    def emit(self, record: logging.LogRecord) -> None:
        print(f"djtui: {record.getMessage()}", file=sys.stderr, flush=True)


def _say_warnings() -> None:
    """Show djtui's warnings on stderr for the sub-commands (the TUI shows its own)."""
    logger = logging.getLogger("djtui")
    if not any(isinstance(h, _Warnings) for h in logger.handlers):
        handler = _Warnings(logging.WARNING)
        logger.addHandler(handler)
