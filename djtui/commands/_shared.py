"""Helpers the sub-commands share: loading the context and resolver the same way."""

from __future__ import annotations

import argparse
from pathlib import Path

from djtui.core.config import Config, load_config
from djtui.core.context import Context, default_context, load_context


def add_context_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--context", metavar="FILE", help="context YAML (default: the bundled DJ context)")


def config_for(args: argparse.Namespace) -> Config:
    return load_config(getattr(args, "config", None))


def context_for(args: argparse.Namespace, config: Config | None = None) -> Context:
    path = getattr(args, "context", None) or (config.resolver.context if config else None)
    return load_context(Path(path)) if path else default_context()


def resolver_for(context: Context, config: Config):  # -> Resolver (import kept lazy)
    from djtui.core.resolve import Resolver

    return Resolver(context, embedding_model=config.resolver.embedding_model,
                    semantic_weight=config.resolver.semantic_weight)
