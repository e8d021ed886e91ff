"""The command line as a whole: one exit-status convention, said in every ``--help``."""

from __future__ import annotations

import argparse

from djtui.cli import EXIT_STATUS, build_parser


def _parsers(parser: argparse.ArgumentParser, name: str = "djtui"):
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from _parsers(sub, f"{name} {sub_name}")


def test_every_help_ends_with_the_exit_status_convention() -> None:
    parsers = dict(_parsers(build_parser()))
    assert {"djtui contexts check", "djtui midi check", "djtui midi doctor", "djtui listen", "djtui eval"} <= set(parsers)
    for name, parser in parsers.items():
        assert parser.format_help().replace("\n", " ").split() [-8:] == EXIT_STATUS.split()[-8:], name
    assert "no feedback came back from Rekordbox" in parsers["djtui midi doctor"].format_help().replace("\n", " ")
