"""``djtui eval``: measure how well djtui understands recorded commands, clean and in
noise, the way Picovoice's speech-to-intent benchmark does."""

from __future__ import annotations

import argparse
from typing import Any

from djtui.core.errors import DjtuiError

HELP = "measure command accuracy on labelled audio, clean and mixed with noise"


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("eval", help=HELP, description=HELP + ". Labels: djtui's manifest.jsonl or "
                              "Picovoice's label.json. Accepting uses [safety] min_confidence and min_margin; "
                              "cooldowns, rate limits and deck state are left out.")
    p.add_argument("--context", help="context file the commands belong to (default: the configured one)")
    p.add_argument("--labels", help="manifest.jsonl or label.json (may be left out with --negatives)")
    p.add_argument("--data", help="folder the labels' audio paths are relative to (default: the labels' folder)")
    p.add_argument("--asr", choices=("auto", "wav2vec2", "whisper"), help="ASR engine (default: [asr] engine)")
    p.add_argument("--model", help="ASR model: wav2vec2 hub id or folder, or a CTranslate2 Whisper folder")
    p.add_argument("--noise", nargs="+", metavar="FILE", help="noise recordings to mix in (a random segment of one per file)")
    p.add_argument("--snr", nargs="+", type=float, metavar="DB",
                   help="SNRs in dB, loudest 2048-sample frames (default with --noise: 6 9 12 15 18 21 24)")
    p.add_argument("--no-clean", dest="clean", action="store_false", help="skip the clean condition")
    p.add_argument("--negatives", nargs="+", metavar="PATH",
                   help="audio with no command in it (files or folders): false accepts per hour")
    p.add_argument("--segment", choices=("vad", "windows"), default="vad",
                   help="how negatives are cut: the live VAD endpointer (default) or back-to-back 2 s windows")
    p.add_argument("--limit", type=int, help="only the first N labelled files")
    p.add_argument("--seed", type=int, default=0, help="noise segment choice (default 0)")
    p.add_argument("--json", metavar="OUT", help="write the report as JSON")
    p.add_argument("--plot", metavar="OUT.png", help="plot accuracy against SNR, with Rhino's published curve")
    p.add_argument("--markdown", metavar="OUT.md", help="write the accuracy table as Markdown (for a README)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from djtui.core import evaluate
    from djtui.core.config import load_config

    config = load_config(getattr(args, "config", None))
    if args.asr:
        config.asr.engine = args.asr
    if args.model:
        config.asr.model = args.model
    if args.snr and not args.noise:
        raise DjtuiError("--snr needs noise to mix in", "add --noise FILE (e.g. a kitchen or music recording)")
    if args.limit is not None and args.limit < 1:
        raise DjtuiError("--limit must be at least 1", "or leave it out to use every file")

    if not args.labels and not args.negatives:
        raise DjtuiError("nothing to measure", "give --labels (commands) and/or --negatives (audio with no command)")
    labels = evaluate.read_labels(args.labels, args.data)[: args.limit] if args.labels else []
    if missing := [str(label.path) for label in labels if not label.path.is_file()]:
        raise DjtuiError(f"{len(missing)} labelled audio file(s) not found, e.g. {missing[0]}",
                         "point --data at the folder the labels' paths are relative to")
    snrs = args.snr or (evaluate.BENCHMARK_SNRS if args.noise else [])
    conditions = evaluate.conditions_for(snrs, clean=args.clean)
    if labels and not conditions:
        raise DjtuiError("nothing to measure: --no-clean without --noise", "add --noise FILE, or drop --no-clean")
    noise = evaluate.NoiseBank.load(evaluate.audio_files(args.noise)) if args.noise else None
    negatives = evaluate.audio_files(args.negatives) if args.negatives else []
    if args.negatives and not negatives:
        raise DjtuiError(f"no audio files in {' '.join(args.negatives)}", "give WAV, FLAC or OGG files or folders of them")

    from djtui.core.context import default_context, load_context

    path = args.context or config.resolver.context
    context = load_context(path) if path else default_context()
    if unknown := sorted({label.intent for label in labels if label.intent and label.intent not in context.intents}):
        raise DjtuiError(f"the labels use intents context '{context.name}' does not have: {', '.join(unknown[:5])}",
                         "give the context the audio was labelled for with --context")

    console = Console()
    with console.status("loading models…"):
        recognizer, engine = _recognizer(config, context)
    decider = _decider(config)
    trials, found = _measure(console, recognizer, decider, labels, conditions, noise, negatives, config, args)
    report = evaluate.score(trials, found, engine=engine,
                            thresholds={"min_confidence": config.safety.min_confidence,
                                        "min_margin": config.safety.min_margin,
                                        "grammar_floor": config.safety.grammar_floor})
    _print(console, report)
    if args.json:
        evaluate.write_report(report, args.json)
        console.print(f"report: {args.json}")
    if args.markdown:
        from djtui.core.fileio import write_text_atomic

        write_text_atomic(args.markdown, report.to_markdown() + "\n")
        console.print(f"table: {args.markdown}")
    if args.plot:
        evaluate.plot_accuracy(report, args.plot)
        console.print(f"plot: {args.plot}")
    return 0


def _recognizer(config: Any, context: Any) -> tuple[Any, str]:
    """The live pipeline's recognizer (ASR, resolver, acoustic rescoring), loaded once."""
    from djtui.core.asr import load_engine
    from djtui.core.recognize import Recognizer
    from djtui.core.rescore import Rescorer
    from djtui.core.resolve import Resolver

    engine = load_engine(config.asr, context)
    engine.warm_up()
    resolver = Resolver(context, embedding_model=config.resolver.embedding_model,
                        semantic_weight=config.resolver.semantic_weight)
    resolver.warm_up()
    recognizer = Recognizer(engine, resolver, Rescorer(engine))
    return recognizer, f"{engine.name} {engine.model_id}"


def _decider(config: Any) -> Any:
    from djtui.core import evaluate

    safety = config.safety
    return lambda candidates: evaluate.decide(candidates, safety.min_confidence, safety.min_margin, safety.grammar_floor)


def _measure(console: Any, recognizer: Any, decider: Any, labels: list[Any], conditions: list[str], noise: Any,
             negatives: list[Any], config: Any, args: argparse.Namespace) -> tuple[list[Any], Any]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from djtui.core import evaluate

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("eta"), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as progress:

        def step(task: Any) -> None:
            progress.advance(task)
            if not console.is_terminal:  # a log file gets a line every tenth instead of a bar
                done, total = progress.tasks[task].completed, progress.tasks[task].total or 1
                if int(10 * done / total) > int(10 * (done - 1) / total):
                    console.print(f"{progress.tasks[task].description}: {done:.0f}/{total:.0f}", highlight=False)

        task = progress.add_task("commands", total=len(labels) * len(conditions))
        trials = evaluate.run_trials(recognizer, labels, conditions, decider, noise, seed=args.seed,
                                     on_trial=lambda _: step(task))
        found = None
        if negatives:
            if args.segment == "vad":
                segment, how = evaluate.vad_utterances(config.vad), f"{config.vad.engine} VAD endpointer"
            else:
                segment, how = evaluate.windows, "back-to-back 2 s windows"
            negatives_task = progress.add_task("negative files", total=len(negatives))
            found = evaluate.run_negatives(recognizer, negatives, decider, segment, how,
                                           on_file=lambda *_: step(negatives_task))
    return trials, found


def _print(console: Any, report: Any) -> None:
    from rich.table import Table

    from djtui.core import evaluate

    pct = evaluate.percent
    data = report.to_dict()
    has_wer = data["wer"] is not None
    if not report.trials:
        _print_negatives(console, data)
        return
    rows = report.rows()
    has_rhino = any(r["rhino"] is not None for r in rows)
    table = Table(title=f"command acceptance — {report.engine}", title_justify="left")
    columns = ["condition", "accuracy", "n", "rejected", "misunderstood", "top-1"]
    columns += (["Rhino"] if has_rhino else []) + (["WER"] if has_wer else [])
    for name in columns:
        table.add_column(name, justify="left" if name == "condition" else "right")
    for r in rows:
        cells = [r["condition"], pct(r["accuracy"]), str(r.get("n", "")), str(r.get("rejected", "")),
                 str(r.get("misunderstood", "")), pct(r.get("top1_accuracy"))]
        if has_rhino:
            cells.append(pct(r["rhino"]) if r["rhino"] is not None else "")
        if has_wer:
            cells.append(pct(r.get("wer")))
        table.add_row(*cells, style="bold" if r.get("mean") else None)
    console.print(table)
    console.print("top-1: the best reading is right, accepted or not (what thresholds cost)", style="dim")
    because = ", ".join(f"{n} {why}" for why, n in data["rejected_because"].items())
    lines = [f"overall {pct(data['accuracy'])} of {data['n']} "
             f"(rejected {data['rejected']}{f': {because}' if because else ''}; misunderstood {data['misunderstood']})"]
    if "false_accepts" in data:
        lines.append(f"audio labelled as no command: {data['false_accepts']} accepted")
    if has_wer:
        lines.append(f"WER {pct(data['wer'])}  CER {pct(data['cer'])}")
    if lat := data["latency"]:
        lines.append(f"latency per utterance: p50 {lat['p50']:.0f} ms  p90 {lat['p90']:.0f} ms  p99 {lat['p99']:.0f} ms")
    console.print("\n".join(lines))
    if report.confusions:
        confusions = Table(title="most frequent confusions", title_justify="left")
        for name in ("field", "expected", "got", "count"):
            confusions.add_column(name, justify="right" if name == "count" else "left")
        for c in report.confusions:
            confusions.add_row(c["field"], c["expected"], c["got"], str(c["count"]))
        console.print(confusions)
    _print_negatives(console, data)


def _print_negatives(console: Any, data: dict[str, Any]) -> None:
    from rich.table import Table

    neg = data.get("negatives")
    if not neg:
        return
    console.print(f"false accepts: {data['false_accepts_per_hour']:.1f} per hour of audio with no command "
                  f"({neg['false_accepts']} in {neg['utterances']} utterances, {60 * neg['hours']:.1f} min, "
                  f"cut by {neg['segmentation']})", highlight=False)
    if neg["examples"]:
        table = Table(title="false accepts", title_justify="left")
        for name in ("file", "at", "heard", "command", "score"):
            table.add_column(name)
        for fa in neg["examples"][:10]:
            table.add_row(fa["file"], f"{fa['start_s']:.1f} s", fa["transcript"], fa["command"], f"{fa['score']:.2f}")
        console.print(table)
