"""What the sub-commands share: reading the config (with ``--set`` overrides) and the
context the way every other front end does (:mod:`djtui.core.stages`)."""

from __future__ import annotations

import argparse
import tomllib
from typing import TYPE_CHECKING, Any

from djtui.core.errors import DjtuiError

if TYPE_CHECKING:  # imported where used: `djtui --help` must not load pydantic or numpy
    from djtui.core.config import Config
    from djtui.core.context import Context


def add_context_option(parser: argparse.ArgumentParser, what: str = "context YAML") -> None:
    """``--context FILE``, read by :func:`context_for` (``what`` says what it is for)."""
    parser.add_argument("--context", metavar="FILE", help=f"{what} (default: [resolver] context, "
                                                          "else the bundled DJ context)")


def add_set_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--set", dest="settings", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override one setting for this run, e.g. --set vad.max_speech_ms=15000 "
                             "(VALUE in TOML: numbers, true/false, \"text\"); may be repeated")


def config_for(args: argparse.Namespace, **overrides: dict[str, Any]) -> Config:
    """The user's config (``--config`` or the default file) with ``--set`` and then
    ``overrides`` (``asr={"engine": "whisper"}``, from the command's own flags) applied.
    The loaded file is never modified."""
    from djtui.core.config import COMMAND_LINE, load_config

    config = load_config(getattr(args, "config", None))
    settings: dict[str, dict[str, Any]] = {}
    for setting in getattr(args, "settings", None) or []:
        section, key, value = _setting(setting)
        settings.setdefault(section, {})[key] = value
    if settings:  # checked apart from the flags, so a problem is named as it was typed
        config = config.updated(settings, where=COMMAND_LINE)
    flags = {section: {k: v for k, v in values.items() if v is not None} for section, values in overrides.items()}
    flags = {section: values for section, values in flags.items() if values}
    return config.updated(flags) if flags else config


def _setting(text: str) -> tuple[str, str, Any]:
    name, sep, raw = text.partition("=")
    section, dot, key = name.strip().partition(".")
    if not sep or not dot or not section or not key:
        raise DjtuiError(f"--set {text!r}: expected SECTION.KEY=VALUE", "e.g. --set vad.max_speech_ms=15000")
    from djtui.core.config import kind_of

    raw = raw.strip()
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw  # bare text, as a DJ would type it: --set audio.trigger=push_to_talk
    if kind_of(section.strip(), key.strip()) is str and not isinstance(value, str):
        value = raw  # a port or model called "2" is text, however TOML would read it
    return section.strip(), key.strip(), value


def context_for(args: argparse.Namespace, config: Config) -> Context:
    """``--context``, else the config's, else the bundled DJ context."""
    from djtui.core import stages

    return stages.context_for(config, getattr(args, "context", None))


class StatusLine:
    """What is loading, on stderr (stdout may be JSON): on a terminal one line rewritten
    in place and cleared by :meth:`done`; elsewhere (a log, a pipe) a line per step.
    Call it with the words: ``status("loading the speech recognizer…")``."""

    def __init__(self, stream: Any = None) -> None:
        import sys

        self.stream = stream or sys.stderr
        self.live = bool(getattr(self.stream, "isatty", lambda: False)())
        self.shown = False

    def __call__(self, what: str) -> None:
        if self.live:
            self.stream.write(f"\r\033[Kdjtui: {what}")
        else:
            self.stream.write(f"djtui: {what}\n")
        self.stream.flush()
        self.shown = True

    def done(self) -> None:
        """Clear the line (a terminal); what follows starts on a clean line."""
        if self.live and self.shown:
            self.stream.write("\r\033[K")
            self.stream.flush()
        self.shown = False
