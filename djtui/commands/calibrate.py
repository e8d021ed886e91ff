"""``djtui calibrate``: fit a model's confidence calibration (``calibration.json`` beside
its weights) on labelled audio it did not train on — for models built before djtui wrote
one, and to fit again on more takes (README, "Calibration")."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from djtui.core.errors import DjtuiError

HELP = "fit a model's confidence calibration on labelled takes it did not train on"


def register(subparsers: Any) -> None:
    from djtui.commands._shared import add_context_option, add_set_option
    from djtui.core.models import WHISPER_MODELS

    p = subparsers.add_parser(
        "calibrate", help=HELP,
        description=HELP + ". The takes are heard through the live listener on the model, clean and mixed with "
                    "--music at --snr, with booth chatter and music alone as audio that must be refused; the "
                    "weights of the confidence are fitted on what it read (MAP around a prior: the stock "
                    "model's calibration) and written to MODEL/calibration.json. Without --data, the held-back "
                    "takes its training report names are used.")
    p.add_argument("--model", required=True, metavar="DIR",
                   help=f"a Whisper folder djtui train wrote, or {' / '.join(WHISPER_MODELS)} (with --output)")
    p.add_argument("--data", nargs="+", metavar="LABELS",
                   help="manifest.jsonl or label.json of takes the model did not train on "
                        "(default: the held-back takes named by DIR/training_report.json)")
    p.add_argument("--half", choices=("fit", "report"), help="only one half of the labelled files (as djtui eval)")
    p.add_argument("--music", metavar="DIR", help="music to mix in and to hear alone (default: the training music)")
    p.add_argument("--snr", nargs="+", type=float, metavar="DB", help="SNRs to mix at (default 20 10 0)")
    p.add_argument("--no-chatter", dest="chatter", action="store_false", help="leave out the booth chatter")
    p.add_argument("--from-report", nargs="+", metavar="EVAL.json",
                   help="fit on what djtui eval --json recorded with this model instead of hearing audio again")
    p.add_argument("--prior", default="stock", metavar="stock|none|FILE",
                   help="what the fit is centred on: the stock model's calibration (default), none (a weak prior: "
                        "for thousands of utterances), or a calibration.json")
    p.add_argument("--output", metavar="FILE", help="where to write (default: MODEL/calibration.json)")
    p.add_argument("--thresholds", nargs="?", const="new", choices=("new", "current"),
                   help="also fit min_confidence per safety class (misunderstood within 1 %% per class) and print "
                        "them: for the new calibration (each trial's confidence from a fit without it), or 'current' "
                        "for the one the model listens with now (to set [safety] while keeping it)")
    p.add_argument("--dry-run", action="store_true", help="fit and report, write nothing")
    p.add_argument("--seed", type=int, default=0, help="noise and fold choices (default 0)")
    add_context_option(p, "context the takes belong to")
    add_set_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from djtui.commands._shared import config_for, context_for
    from djtui.core import calibration_file
    from djtui.core.asr import is_whisper_folder
    from djtui.core.models import WHISPER_MODELS
    from djtui.training import calibrate

    named = args.model if args.model in WHISPER_MODELS else None
    folder = None if named else Path(args.model).expanduser()
    if folder is not None and not is_whisper_folder(folder):
        raise DjtuiError(f"{folder} is not a Whisper model folder (no model.bin)",
                         "give a folder djtui train wrote, or tiny.en / base")
    if named and not args.output and not args.dry_run:
        raise DjtuiError(f"{named}'s calibration ships with djtui: say where to write the new one",
                         "add --output FILE (or --dry-run)")
    config = config_for(args)
    context = context_for(args, config)
    prior = _prior(args.prior)
    console = Console()
    current = calibration_file.for_model(folder, named).calibration  # what the model listens with now
    if args.from_report:
        groups = [_from_report(Path(path), context) for path in args.from_report]
        heard = [h for g, _ in groups for h in g]
        fitted = calibrate.fit(heard, prior.calibration if prior else None)
        held_out = calibrate.folds(heard, prior.calibration if prior else None, seed=args.seed)
        described = [{"what": "utterances djtui eval recorded", "report": str(p)} for p in args.from_report]
        numbers: dict[str, Any] = {"utterances": len(heard), "by_report": {}}
        start = 0
        for (here, here_context), path in zip(groups, args.from_report):
            before, after, figures = calibrate.summary_of(here, current, held_out[start:start + len(here)],
                                                          here_context, config.safety)
            numbers["by_report"][Path(path).name] = figures
            _show(console, f"{path} ({here_context.name})", before, after, figures)
            start += len(here)
        made = calibration_file.ModelCalibration(fitted, None, _model_name(named, folder), _fitted(prior, described),
                                                 numbers)
        if args.thresholds:
            readings = held_out if args.thresholds == "new" else [calibrate.rescored(h, current) for h in heard]
            _thresholds(console, [(g, c) for g, c in groups], readings, config.safety, args.thresholds)
    else:
        labels, described, music = _takes(args, folder, config)
        listener_model = named or folder
        with console.status(f"hearing {len(labels)} takes in {1 + len(args.snr or calibrate.SNRS) if music else 1} "
                            "conditions…"):
            result = calibrate.calibrate_model(listener_model, labels, context=context, config=config, music=music,
                                               snrs=args.snr or calibrate.SNRS, prior=prior, described=described,
                                               seed=args.seed, write=False, current=current)
        made = result.calibration
        _show(console, "the takes", result.before, result.after, made.numbers)
        if args.thresholds:
            readings = (calibrate.folds(result.heard, prior.calibration if prior else None, seed=args.seed)
                        if args.thresholds == "new" else [calibrate.rescored(h, current) for h in result.heard])
            _thresholds(console, [(result.heard, context)], readings, config.safety, args.thresholds)
    if args.dry_run:
        console.print("dry run: nothing written")
        return 0
    written = calibration_file.write(Path(args.output) if args.output else folder, made)  # type: ignore[arg-type]
    console.print(f"calibration: {written}")
    return 0


def _model_name(named: str | None, folder: Path | None) -> str:
    return f"{named} (bundled)" if named == "tiny.en" else named or (folder.name if folder else "")


def _fitted(prior: Any, described: list[dict[str, Any]]) -> dict[str, Any]:
    import datetime

    from djtui.training.calibrate import PRIOR_SD

    how = (f"MAP with a Gaussian prior (sd {PRIOR_SD}) centred on {prior.model}'s calibration" if prior
           else "a weak prior (sd 10)")
    return {"method": f"logistic regression, {how}, on the best reading of each utterance",
            "prior": prior.model if prior else None, "data": described,
            "created": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}


def _prior(which: str) -> Any:
    from djtui.core import calibration_file

    if which == "none":
        return None
    if which == "stock":
        return calibration_file.for_model(None, "tiny.en")
    return calibration_file.read(Path(which).expanduser())


def _from_report(path: Path, default: Any) -> tuple[list[Any], Any]:
    """The utterances a ``djtui eval --json`` report recorded, and its context."""
    from djtui.core.context_file import load_context
    from djtui.training.calibrate import heard_in_report

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DjtuiError(f"{path}: cannot read the report ({exc})", "give a file djtui eval --json wrote") from None
    heard = heard_in_report(data)
    if not heard:
        raise DjtuiError(f"{path}: no readings recorded in it",
                         "run djtui eval --json again with this djtui (older reports kept no readings)")
    context = load_context(data["context"]) if data.get("context") else default
    return heard, context


def _takes(args: argparse.Namespace, folder: Path | None, config: Any) -> tuple[list[Any], list[dict[str, Any]], Any]:
    """The labelled takes to hear (chatter included), what they are, and the music."""
    from djtui.core import paths
    from djtui.core.noise import NoiseBank
    from djtui.evaluation import labels as labels_
    from djtui.training import calibrate

    described: list[dict[str, Any]] = []
    music_dir = Path(args.music).expanduser() if args.music else None
    if args.data:
        labels = [label for path in args.data for label in labels_.read_labels(path)]
        described += [{"what": "labelled takes", "labels": str(p)} for p in args.data]
    else:
        labels, held, music_dir = _held_back(folder, music_dir)
        described.append({"what": "the held-back takes of its training", "takes": held})
    if args.half:
        labels = labels_.half(labels, args.half)
    if args.chatter:
        chatter = calibrate.speak_chatter(paths.cache_dir() / "calibration-chatter")
        labels += labels_.read_labels(chatter)
        described.append({"what": "booth chatter (synthetic voices)", "clips": len(calibrate.FIT_CHATTER)})
    if music_dir is not None:
        described.append({"what": f"music alone, {calibrate.MUSIC_WINDOWS} windows of 2 s", "music": str(music_dir)})
    return labels, described, NoiseBank([music_dir]) if music_dir else None


def _held_back(folder: Path | None, music_dir: Path | None) -> tuple[list[Any], int, Path | None]:
    """The takes ``djtui train`` held back when it made ``folder``, and its music."""
    from djtui.evaluation.labels import Label
    from djtui.training.manifest import read_manifest
    from djtui.training.report import REPORT_JSON
    from djtui.training.validation import hold_back

    report = folder / REPORT_JSON if folder else None
    if report is None or not report.is_file():
        raise DjtuiError(f"no --data, and {report or 'the model'} does not say what it trained on",
                         "give --data with labelled takes the model did not train on")
    settings = json.loads(report.read_text(encoding="utf-8")).get("config", {})
    data = Path(settings["data"])
    _, held = hold_back(read_manifest(data), int(settings.get("seed", 0)))
    root = data if data.is_dir() else data.parent
    music = music_dir or (Path(settings["noise_dir"]) if settings.get("noise_dir") else None)
    return [Label(root / t.path, t.intent, dict(t.slots), t.text) for t in held], len(held), music


def _show(console: Any, title: str, before: dict[str, Any], after: dict[str, Any], numbers: dict[str, Any]) -> None:
    from rich.table import Table

    from djtui.evaluation.report import percent

    table = Table(title=f"{title}: before (its calibration until now) → after (each trial judged by a fit without it)",
                  title_justify="left")
    for name in ("condition", "accepted", "top-1", "misunderstood", "false accepts"):
        table.add_column(name, justify="left" if name == "condition" else "right")
    for condition, a in after.items():
        b = before.get(condition, {})
        table.add_row(condition, f"{percent(b.get('accepted'))} → {percent(a.get('accepted'))}" if a.get("n") else "",
                      percent(a.get("top1")) if a.get("n") else "",
                      f"{b.get('misunderstood', '—')} → {a['misunderstood']}" if a.get("n") else "",
                      f"{b.get('false_accepts', '—')} → {a['false_accepts']} of {a['negatives']}" if a.get("negatives") else "")
    console.print(table)
    if numbers.get("ece_before") is not None:
        console.print(f"expected calibration error {numbers['ece_before']:.3f} → {numbers['ece_after_held_out']:.3f}")


def _thresholds(console: Any, groups: list[tuple[list[Any], Any]], readings: list[Any], safety: Any,
                which: str) -> None:
    """min_confidence per safety class, on ``readings`` (every group's utterances in
    turn): confidences each fitted without its trial (:func:`folds`, ``which`` "new"), or
    those of the calibration the model has now ("current")."""
    from djtui.training import calibrate

    rescored, start = [], 0
    for heard, context in groups:
        rescored.append((heard, readings[start:start + len(heard)], context))
        start += len(heard)
    found = calibrate.thresholds(rescored, safety)
    on = "confidences fitted without each trial" if which == "new" else "the confidences it listens with now"
    console.print(f"[safety]  # misunderstood within 1 % per class, on {on}", markup=False, highlight=False)
    for key, value in found.items():
        console.print(f"{key} = {value:.2f}", highlight=False)
