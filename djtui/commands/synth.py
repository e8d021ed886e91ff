"""``djtui synth``: synthetic training speech from a context's sentences (espeak-ng, Piper)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from djtui.commands._shared import add_context_option
from djtui.core.errors import DjtuiError

HELP = "speak a context's commands with TTS voices into a training manifest"


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "synth", help=HELP,
        description=HELP + ". Writes OUT/synth/*.wav and OUT/manifest.jsonl (the recording format); "
                    "re-running the same command resumes (clips whose manifest lines were lost get them back; "
                    "files no line describes are moved to OUT/set-aside, never deleted). Use --voices to keep some voices out of training.")
    add_context_option(p)
    p.add_argument("--out", metavar="DIR", help="output folder (required unless --list-voices)")
    p.add_argument("--per-intent", type=int, default=20, metavar="N", help="sentences per intent (default 20)")
    p.add_argument("--engines", default="espeak,piper", help="comma-separated: espeak, piper (default both)")
    p.add_argument("--voices", metavar="IDS", help="comma-separated voice ids to use (default: every voice of --engines)")
    p.add_argument("--exclude-voices", metavar="IDS", help="comma-separated voice ids to leave out (e.g. held-out test voices)")
    p.add_argument("--held-out", choices=("train", "test"),
                   help="use only the train or only the test part of a seeded 80/20 split of the voices")
    p.add_argument("--takes", type=int, metavar="N",
                   help="speak the Record screen's script instead: one phrasing of every command, N takes each, "
                        "by every voice (a DJ's recording session, for a model of one voice)")
    p.add_argument("--seed", type=int, default=0, help="sentence, voice, rate and pitch choices (default 0)")
    p.add_argument("--list-voices", action="store_true", help="print the voice ids and exit")
    p.set_defaults(func=run)


def _ids(text: str | None) -> list[str]:
    return [v.strip() for v in (text or "").split(",") if v.strip()]


def run(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from djtui.commands._shared import config_for, context_for
    from djtui.training import synth

    voices = synth.default_voices(_ids(args.engines))
    if args.voices:
        voices = [synth.Voice.parse(v) for v in _ids(args.voices)]
    if args.exclude_voices:
        excluded = {synth.Voice.parse(v).id for v in _ids(args.exclude_voices)}
        voices = [v for v in voices if v.id not in excluded]
    if args.held_out:
        train, test = synth.split_voices(voices, seed=0)
        voices = train if args.held_out == "train" else test
    if args.list_voices:
        print("\n".join(v.id for v in voices))
        return 0
    if not args.out:
        raise DjtuiError("--out is required", "give the folder to write the clips and manifest.jsonl to")
    if args.per_intent < 1:
        raise DjtuiError("--per-intent must be at least 1", "e.g. --per-intent 20")
    if args.takes is not None and args.takes < 1:
        raise DjtuiError("--takes must be at least 1", "e.g. --takes 3")
    if not voices:
        raise DjtuiError("no voices left to speak with", "check --voices / --exclude-voices / --engines")
    context = context_for(args, config_for(args))
    with Progress(TextColumn("synthesizing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()) as bar:
        task = bar.add_task("synth", total=None)

        def reconciled(report: Any) -> None:
            if report.changed:  # said at once: the DJ should know before minutes of synthesis
                bar.console.print(f"reconciled {report.summary()}", highlight=False, soft_wrap=True)

        def on_progress(progress: synth.SynthProgress) -> None:
            bar.update(task, completed=progress.done, total=progress.total)

        if args.takes:
            manifest = synth.synthesize_session(context, Path(args.out), voices, takes=args.takes, seed=args.seed,
                                                on_progress=on_progress, on_reconciled=reconciled)
        else:
            manifest = synth.synthesize(context, Path(args.out), per_intent=args.per_intent, voices=voices,
                                        seed=args.seed, on_progress=on_progress, on_reconciled=reconciled)
    print(f"manifest: {manifest} ({len(voices)} voices)")
    return 0
