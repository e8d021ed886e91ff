"""``djtui eval``: measure how well djtui understands recorded commands, clean and in
noise, the way Picovoice's speech-to-intent benchmark does."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from djtui.core.errors import DjtuiError
from djtui.core.fileio import check_writable, write_problems_said

HELP = "measure command accuracy on labelled audio, clean and mixed with noise"


def register(subparsers: Any) -> None:
    from djtui.commands._shared import add_context_option, add_set_option

    p = subparsers.add_parser("eval", help=HELP, description=HELP + ". Labels: djtui's manifest.jsonl or "
                              "Picovoice's label.json. Every recording is streamed through the live listener "
                              "(VAD, endpointer, recognizer); a command is accepted by the safety gate's rules "
                              "about what was said ([safety] min_confidence, min_margin, grammar_floor); "
                              "arming, cooldowns, rate limits and deck state are left out.")
    add_context_option(p, "context file the commands belong to")
    p.add_argument("--labels", help="manifest.jsonl or label.json (may be left out with --negatives)")
    p.add_argument("--data", help="folder the labels' audio paths are relative to (default: the labels' folder)")
    p.add_argument("--asr", choices=("auto", "wav2vec2", "whisper"), help="ASR engine (default: [asr] engine)")
    p.add_argument("--model", help="ASR model: wav2vec2 hub id or folder, a CTranslate2 Whisper folder, or base (Whisper base)")
    p.add_argument("--noise", nargs="+", metavar="FILE", help="noise recordings to mix in (a random segment of one per file)")
    p.add_argument("--snr", nargs="+", type=float, metavar="DB",
                   help="SNRs in dB, loudest 2048-sample frames (default with --noise: 6 9 12 15 18 21 24)")
    p.add_argument("--no-clean", dest="clean", action="store_false", help="skip the clean condition")
    p.add_argument("--negatives", nargs="+", metavar="PATH",
                   help="audio with no command in it (files or folders): false accepts per hour")
    p.add_argument("--segment", choices=("vad", "windows"), default="vad",
                   help="how negatives are cut: the live VAD endpointer (default) or back-to-back 2 s windows")
    p.add_argument("--half", choices=("fit", "report"),
                   help="only one half of the labelled files (split by a hash of the file name): djtui's confidence "
                        "model was fitted on the 'fit' half of its development data, so report on 'report'")
    p.add_argument("--booth", nargs="*", type=int, metavar="SEED",
                   help="say each command in a simulated DJ booth (the booths these seeds choose; none given: the "
                        "README's report booths) over music (--noise, default Debian's fretsonfire songs), and hear "
                        "it three ways: the microphone as it is, echo-cancelled with the clean music as the "
                        "reference, and with the music removed perfectly (default --snr 0 10)")
    p.add_argument("--reference-channel", type=int, metavar="N",
                   help="the labelled files are booth recordings: channel 1 the microphone, channel N the mix it "
                        "is cancelled with; without it a file's channel 1 alone is heard")
    p.add_argument("--limit", type=int, help="only the first N labelled files")
    p.add_argument("--seed", type=int, default=0, help="noise segment choice (default 0)")
    p.add_argument("--json", metavar="OUT", help="write the report as JSON")
    p.add_argument("--plot", metavar="OUT.png", help="plot accuracy against SNR, with Rhino's published curve")
    p.add_argument("--markdown", metavar="OUT.md", help="write the accuracy table as Markdown (for a README)")
    add_set_option(p)
    p.epilog = ("Here 1 means that some files could not be read (empty, damaged, cut short): they are named, "
                "and every other file is measured and reported.")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from djtui.commands._shared import config_for, context_for
    from djtui.core.noise import NoiseBank, audio_files
    from djtui.evaluation import labels as labels_
    from djtui.evaluation import report as report_
    from djtui.evaluation import trials as trials_

    config = config_for(args, asr={"engine": args.asr, "model": args.model})
    if args.booth is not None:
        return _run_booth(args, config)
    if args.reference_channel is not None and (args.noise or args.reference_channel < 2):
        raise DjtuiError("--reference-channel N takes a booth recording's mix from channel N (2 or more), and "
                         "its noise is recorded with it", "leave --noise out; the microphone is channel 1")
    if args.snr and not args.noise:
        raise DjtuiError("--snr needs noise to mix in", "add --noise FILE (e.g. a kitchen or music recording)")
    if args.limit is not None and args.limit < 1:
        raise DjtuiError("--limit must be at least 1", "or leave it out to use every file")

    if not args.labels and not args.negatives:
        raise DjtuiError("nothing to measure", "give --labels (commands) and/or --negatives (audio with no command)")
    labels = labels_.read_labels(args.labels, args.data) if args.labels else []
    if args.half:
        labels = labels_.half(labels, args.half)
    labels = labels[: args.limit]
    if missing := [str(label.path) for label in labels if not label.path.is_file()]:
        raise DjtuiError(f"{len(missing)} labelled audio file(s) not found, e.g. {missing[0]}",
                         "point --data at the folder the labels' paths are relative to")
    snrs = args.snr or (trials_.BENCHMARK_SNRS if args.noise else [])
    conditions = trials_.conditions_for(snrs, clean=args.clean)
    if labels and not conditions:
        raise DjtuiError("nothing to measure: --no-clean without --noise", "add --noise FILE, or drop --no-clean")
    noise = NoiseBank(args.noise) if args.noise else None
    negatives = audio_files(args.negatives) if args.negatives else []
    if args.negatives and not negatives:
        raise DjtuiError(f"no audio files in {' '.join(args.negatives)}", "give WAV, FLAC or OGG files or folders of them")

    for out, what in ((args.json, "the report"), (args.markdown, "the table"), (args.plot, "the plot")):
        if out:  # before minutes of measuring, not after
            check_writable(Path(out).expanduser().parent, f"writing {what} to {out}")
    context = context_for(args, config)
    if unknown := sorted({label.intent for label in labels if label.intent and label.intent not in context.intents}):
        raise DjtuiError(f"the labels use intents context '{context.name}' does not have: {', '.join(unknown[:5])}",
                         "give the context the audio was labelled for with --context")

    console = Console()
    with console.status("loading models…") as status:
        listener = _listener(config, context, lambda what: status.update(what))
    skipped: list[Any] = []
    trials, found = _measure(console, listener, labels, conditions, noise, negatives, args, skipped.append,
                             read=_reader(args.reference_channel))
    engine = listener.stages.engine
    safety = config.safety
    calibrated = listener.stages.recognizer.calibrated
    report = report_.score(trials, found, engine=f"{engine.name} {engine.model_id}",
                           thresholds={"min_confidence": safety.min_confidence,
                                       **{f"min_confidence_{c}": safety.min_confidence_for(c)
                                          for c in ("safe", "guarded", "destructive")},
                                       "min_margin": safety.min_margin, "grammar_floor": safety.grammar_floor},
                           classes=report_.safety_classes(context),
                           confidence_model={} if calibrated is None else {
                               "summary": calibrated.summary, "model": calibrated.model,
                               "path": str(calibrated.path) if calibrated.path else None,
                               "calibrated": calibrated.calibrated},
                           skipped=skipped)
    report.context = str(context.source or "")
    _print(console, report)
    _print_skipped(report)
    if args.json:
        with write_problems_said(f"writing the report to {args.json}"):
            report_.write_report(report, args.json)
        console.print(f"report: {args.json}")
    if args.markdown:
        from djtui.core.fileio import write_text_atomic

        with write_problems_said(f"writing the table to {args.markdown}"):
            write_text_atomic(args.markdown, report.to_markdown() + "\n")
        console.print(f"table: {args.markdown}")
    if args.plot:
        from djtui.evaluation.plot import plot_accuracy

        with write_problems_said(f"writing the plot to {args.plot}"):
            plot_accuracy(report, args.plot)
        console.print(f"plot: {args.plot}")
    return 1 if report.skipped else 0


def _print_skipped(report: Any) -> None:
    """Each file that could not be read, and why, then how many (problems found: the
    measurements of the others stand)."""
    import sys

    for skipped in report.skipped:
        print(f"{skipped.file}: skipped, not measured: {skipped.reason.removeprefix(skipped.file + ': ')}")
    if report.skipped:
        n = len(report.skipped)
        print(f"{n} file{'s' if n != 1 else ''} skipped (in no figure above)", file=sys.stderr)


def _listener(config: Any, context: Any, on_progress: Any = None) -> Any:
    """The live pipeline's listener (the same stages), judging by what was said alone,
    with no MIDI port and no session log."""
    from djtui.core.listener import Listener

    return Listener(config, context=context, dry_run=True, session_log=False, act=False, on_progress=on_progress)


def _reader(reference_channel: int | None) -> Any:
    """What the listener hears of a file: channel 1 (all of a mono file); with a
    reference channel, channel 1 with that channel's music cancelled from it."""
    from djtui.core.audio import read_channels

    if reference_channel is None:
        return lambda path: read_channels(path, [1])[0]

    def cancelled(path: Any) -> Any:
        from djtui.core.echo_cancel import cancel_echo

        microphone, reference = read_channels(path, [1, reference_channel])
        return cancel_echo(microphone, reference)

    return cancelled


def _measure(console: Any, listener: Any, labels: list[Any], conditions: list[str], noise: Any,
             negatives: list[Any], args: argparse.Namespace, on_skip: Any, read: Any = None) -> tuple[list[Any], Any]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from djtui.evaluation import trials as trials_

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

        def skip(skipped: Any) -> None:  # a file not read counts as done under every condition
            on_skip(skipped)
            progress.update(task, total=(progress.tasks[task].total or 0) - len(conditions))

        trials = trials_.run_trials(listener, labels, conditions, noise, seed=args.seed,
                                    on_trial=lambda _: step(task), on_skip=skip, **({"read": read} if read else {}))
        found = None
        if negatives:
            negatives_task = progress.add_task("negative files", total=len(negatives))
            found = trials_.run_negatives(listener, negatives, args.segment, on_file=lambda *_: step(negatives_task),
                                          on_skip=on_skip)
    return trials, found


def _print(console: Any, report: Any) -> None:
    from rich.table import Table

    from djtui.evaluation.report import percent

    pct = percent
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
    if model := data.get("confidence_model"):
        console.print(f"confidence: {model['summary']}", highlight=False)
    _print_classes(console, data.get("by_class") or {})
    because = ", ".join(f"{n} {why}" for why, n in data["rejected_because"].items())
    lines = [f"overall {pct(data['accuracy'])} of {data['n']} "
             f"(rejected {data['rejected']}{f': {because}' if because else ''}; misunderstood {data['misunderstood']})"]
    if "false_accepts" in data:
        lines.append(f"audio labelled as no command: {data['false_accepts']} accepted")
    if has_wer:
        lines.append(f"WER {pct(data['wer'])}  CER {pct(data['cer'])}")
    if lat := data["latency"]:
        lines.append(f"end of speech → verdict: p50 {lat['p50']:.0f} ms  p90 {lat['p90']:.0f} ms  p99 {lat['p99']:.0f} ms")
    console.print("\n".join(lines))
    if report.confusions:
        confusions = Table(title="most frequent confusions", title_justify="left")
        for name in ("field", "expected", "got", "count"):
            confusions.add_column(name, justify="right" if name == "count" else "left")
        for c in report.confusions:
            confusions.add_row(c["field"], c["expected"], c["got"], str(c["count"]))
        console.print(confusions)
    _print_calibration(console, data["calibration"])
    _print_negatives(console, data)


def _print_classes(console: Any, classes: dict[str, Any]) -> None:
    from rich.table import Table

    from djtui.evaluation.report import percent

    if not classes:
        return
    table = Table(title="per safety class (of the command said)", title_justify="left")
    for name in ("class", "n", "accepted", "top-1", "misunderstood", "wrong ones it fired"):
        table.add_column(name, justify="left" if name == "class" else "right")
    for name, c in classes.items():
        table.add_row(name, str(c["n"]), percent(c["accepted"]), percent(c["top1"]), str(c["misunderstood"]),
                      str(c["fired_wrong"]))
    console.print(table)


def _print_calibration(console: Any, calibration: dict[str, Any]) -> None:
    from rich.table import Table

    if not calibration:
        return
    table = Table(title=f"calibration: expected calibration error {calibration['ece']:.3f} "
                        f"over {calibration['n']} commands", title_justify="left")
    for name in ("confidence bin", "n", "mean confidence", "right"):
        table.add_column(name, justify="left" if name == "confidence bin" else "right")
    for row in calibration["table"]:
        table.add_row(row["bin"], str(row["n"]), f"{row['confidence']:.2f}", f"{row['accuracy']:.2f}")
    console.print(table)


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


def _run_booth(args: argparse.Namespace, config: Any) -> int:
    """``--booth``: every labelled file said in a simulated booth at each SNR, heard as
    it is, echo-cancelled and with the music removed perfectly (the ceiling)."""
    import json

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from djtui.commands._shared import context_for
    from djtui.core.echo_cancel import speexdsp
    from djtui.core.fileio import write_text_atomic
    from djtui.core.noise import NoiseBank
    from djtui.evaluation import booth as booth_
    from djtui.evaluation import labels as labels_
    from djtui.evaluation.trials import trial_rng

    if not args.labels:
        raise DjtuiError("--booth needs commands to say", "give --labels (e.g. a djtui testset's test.jsonl)")
    if args.reference_channel is not None:
        raise DjtuiError("--booth makes its own reference; --reference-channel is for recordings", "leave one out")
    speexdsp()  # a missing library fails before the models load
    music = NoiseBank(args.noise or [str(p) for p in sorted(booth_.SONGS.glob("*/song.ogg"))])
    labels = labels_.read_labels(args.labels, args.data)
    if args.half:
        labels = labels_.half(labels, args.half)
    labels = labels[: args.limit]
    booths = [booth_.Booth.from_seed(seed) for seed in (args.booth or booth_.REPORT_BOOTHS)]
    snrs = args.snr or [0.0, 10.0]
    context = context_for(args, config)
    console = Console()
    with console.status("loading models…"):
        listener = _listener(config, context)
    with Progress(TextColumn("booth"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                  transient=True) as progress:
        total = len(labels) * len(snrs) * len(booth_.VARIANTS)
        task = progress.add_task("booth", total=total)

        def step(*_: Any) -> None:
            progress.advance(task)
            done = progress.tasks[task].completed
            if not console.is_terminal and int(10 * done / total) > int(10 * (done - 1) / total):
                console.print(f"booth trials: {done:.0f}/{total}", highlight=False)  # a log gets a line a tenth

        run = booth_.run_booth_trials(listener, labels, snrs, booths, music, seed=args.seed, on_trial=step)
        curves = []
        for booth in booths:  # convergence, a jump, the voice's change: music alone, per booth
            rng = trial_rng(args.seed, f"booth {booth.seed}", "convergence")
            curves.append(booth_.convergence(booth, music.excerpt(int(booth_.CONVERGENCE_S * 16000), rng),
                                             _voice(labels)))
    summary = booth_.summarize(run)
    summary["convergence"] = [booth_.convergence_dict(c) for c in curves]
    engine = listener.stages.engine
    summary["engine"] = f"{engine.name} {engine.model_id}"
    console.print(booth_.to_markdown(summary), highlight=False)
    console.print(booth_.convergence_markdown(curves), highlight=False)
    console.print(f"echo canceller: {summary['cpu_percent_of_a_core']:.2f} % of a core per second of audio, "
                  f"{summary['latency_ms']:.0f} ms added latency", highlight=False)
    for line in summary["booths"]:
        console.print(f"  {line}", highlight=False)
    if args.json:
        from djtui.evaluation.report import score

        reports = {variant: score(trials, engine=summary["engine"]).to_dict() for variant, trials in run.trials.items()}
        with write_problems_said(f"writing the report to {args.json}"):
            write_text_atomic(args.json, json.dumps({"summary": summary, "reports": reports}, indent=2) + "\n")
        console.print(f"report: {args.json}")
    if args.markdown:
        with write_problems_said(f"writing the table to {args.markdown}"):
            write_text_atomic(args.markdown,
                              booth_.to_markdown(summary) + "\n\n" + booth_.convergence_markdown(curves) + "\n")
        console.print(f"table: {args.markdown}")
    return 0


def _voice(labels: list[Any]) -> Any:
    """A DJ's voice for the convergence runs: the first few commands, one after another."""
    import numpy as np

    from djtui.core.audio import read_audio

    commands = [label for label in labels if label.intent][:3] or labels[:1]
    return np.concatenate([read_audio(label.path) for label in commands])
