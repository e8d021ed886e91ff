"""``djtui testset``: build a DJ test set of one's own (:mod:`djtui.evaluation.dj_set`)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from djtui.core.errors import DjtuiError

HELP = "build a DJ test set: the context's commands and booth chatter, spoken by held-out voices"


def register(subparsers: Any) -> None:
    from djtui.commands._shared import add_context_option

    p = subparsers.add_parser("testset", help=HELP, description=HELP + " (seeded: the same arguments give the same "
                              "set). Mix music in and measure with djtui eval.")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the clips and DIR/test.jsonl")
    add_context_option(p)
    p.add_argument("--per-intent", type=int, default=6, metavar="N", help="sentences per intent (default 6)")
    p.add_argument("--chatter", type=int, default=40, metavar="N", help="chatter clips, labelled as no command (default 40)")
    p.add_argument("--voices", metavar="IDS", help="comma-separated voice ids (default: the held-out test voices, "
                                                   "djtui synth --held-out test --list-voices)")
    p.add_argument("--seed", type=int, default=7, help="sentence and voice choices (default 7)")
    p.add_argument("--intents", metavar="NAMES", help="comma-separated intents to speak (default: every one), "
                                                      "e.g. the knobs and faders: knob_to,knob_by,fade_in,…")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from djtui.commands._shared import config_for, context_for
    from djtui.evaluation import dj_set
    from djtui.training.synth import Voice

    if args.per_intent < 1 or args.chatter < 0:
        raise DjtuiError("--per-intent must be at least 1 and --chatter at least 0", "e.g. --per-intent 6 --chatter 40")
    voices = [Voice.parse(v.strip()) for v in args.voices.split(",") if v.strip()] if args.voices else None
    context = context_for(args, config_for(args))
    with Progress(TextColumn("speaking"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()) as bar:
        task = bar.add_task("testset", total=None)
        intents = [n.strip() for n in args.intents.split(",") if n.strip()] if args.intents else None
        labels = dj_set.build(context, Path(args.out), per_intent=args.per_intent, chatter=args.chatter, voices=voices,
                              seed=args.seed, intents=intents,
                              on_progress=lambda p: bar.update(task, completed=p.done, total=p.total))
    songs = "/usr/share/games/fretsonfire/data/songs/muldjord"
    print(f"labels: {labels}\nmeasure it over music, e.g.:\n"
          f"  djtui eval --labels {labels} --noise {songs} --snr 0 10 20 --negatives {songs} --half report")
    return 0
