"""``djtui train``: fine-tune the bundled Whisper tiny.en (offline, the default), a
Whisper folder, or wav2vec2 (a hub base, or a small model from scratch) on a manifest."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from djtui.commands._shared import add_context_option, add_set_option, config_for, context_for
from djtui.core.errors import DjtuiError
from djtui.core.models import DEFAULT_WAV2VEC2, SCRATCH_SIZES
from djtui.training.progress import Calibrating, Checkpointed, Evaluated, Started, Stepped, Stopped, TrainEvent

HELP = "fine-tune the speech model on recorded or synthetic takes (default: the bundled Whisper tiny.en)"


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "train", help=HELP,
        description=HELP + ". Offline, in minutes on a CPU. The output folder is the model (djtui listen "
                    "--model OUTPUT) and holds training_report.md/.json comparing it with the base. Ctrl-C stops "
                    "and keeps the best checkpoint. wav2vec2 (--base HUB_ID|DIR, --from-scratch) is the route "
                    "for those with a hub model.")
    p.add_argument("--data", metavar="MANIFEST", help="manifest.jsonl (from a recording session or djtui synth)")
    p.add_argument("--output", metavar="DIR", help="where the model and its report go")
    p.add_argument("--context-model", action="store_true",
                   help="build the context model instead: the bundled Whisper taught the context's words by "
                        "synthetic voices and music (no --data, no --output: it goes where engine auto finds it)")
    p.add_argument("--epochs", type=int, help="at most this many epochs (default: Whisper 5, wav2vec2 30)")
    p.add_argument("--batch-size", type=int, help="takes per forward pass (default: Whisper 8, wav2vec2 4)")
    p.add_argument("--grad-accum", type=int, default=1, help="batches per optimizer step (default 1)")
    p.add_argument("--lr", type=float, help="peak learning rate (default: Whisper 3e-5; wav2vec2 1e-4, 1e-3 from scratch)")
    p.add_argument("--max-minutes", type=float,
                   help="stop after this much wall time, keeping the best checkpoint (--context-model: keeping "
                        "where it is, to go on next time)")
    p.add_argument("--augment", action=argparse.BooleanOptionalAction, default=True,
                   help="speed, pitch, gain, reverb and (with --noise-dir) music at random SNR (default on)")
    p.add_argument("--noise-dir", metavar="DIR",
                   help="folder of music or crowd recordings to mix in, and to learn music alone from "
                        "(any format libsndfile reads)")
    p.add_argument("--seed", type=int, default=0, help="split, shuffling, augmentation and init (default 0)")
    p.add_argument("--base", metavar="HUB_ID|DIR",
                   help="model to start from (default: the bundled Whisper tiny.en): 'context' for the context "
                        "model, a Whisper folder written by djtui train, or a wav2vec2 folder or hub id such as "
                        f"{DEFAULT_WAV2VEC2}")
    p.add_argument("--from-scratch", choices=tuple(SCRATCH_SIZES), help="train a new small wav2vec2 instead of fine-tuning")
    p.add_argument("--decoder-only", action="store_true",
                   help="Whisper: keep the encoder as it is (~40 %% faster; by default it learns too, which "
                        "hears better through music)")
    add_context_option(p, "context for command accuracy and --context-model")
    add_set_option(p)
    p.add_argument("--patience", type=int, default=5, help="epochs without a better validation (command accuracy, then WER) before stopping (default 5)")
    p.add_argument("--device", default="auto", help="wav2vec2: cpu, cuda, mps or auto (default); Whisper trains on the CPU")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    for name in ("epochs", "batch_size", "grad_accum", "patience"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            raise DjtuiError(f"--{name.replace('_', '-')} must be at least 1", "e.g. --batch-size 4")
    if args.lr is not None and not 0 < args.lr < 1:
        raise DjtuiError(f"--lr {args.lr} is not a learning rate", "try 3e-5 (Whisper), 1e-4 (wav2vec2) or 1e-3 (from scratch)")
    if args.max_minutes is not None and not args.max_minutes > 0:
        raise DjtuiError(f"--max-minutes {args.max_minutes} leaves no time to train", "give minutes above 0")
    with _sigterm_as_ctrl_c():
        if args.context_model:
            return _context_model(args)
        return _train(args)


def _train(args: argparse.Namespace) -> int:
    from djtui.training.finetune import TrainConfig

    if not args.data or not args.output:
        raise DjtuiError("--data and --output are required", "e.g. djtui train --data takes/manifest.jsonl --output models/mine")
    if args.base == "context":
        args.base = str(_context_model_of(args))
    config = TrainConfig(
        data=Path(args.data), output=Path(args.output), epochs=args.epochs, batch_size=args.batch_size,
        grad_accum=args.grad_accum, lr=args.lr, max_minutes=args.max_minutes, augment=args.augment,
        noise_dir=Path(args.noise_dir) if args.noise_dir else None, seed=args.seed, base=args.base,
        from_scratch=args.from_scratch, decoder_only=args.decoder_only,
        context=Path(args.context) if args.context else None, patience=args.patience, device=args.device)
    with _progress() as on_event:
        from djtui.training.finetune import train

        result = train(config, on_event=on_event)  # Ctrl-C or SIGTERM: stops, keeps the best checkpoint
    _summary(result)
    return _status(result)


def _status(result: Any) -> int:
    """The exit status of a training that ran: 130 when Ctrl-C or SIGTERM stopped it
    (what it kept is said), as every command stopped with Ctrl-C; 0 otherwise, a
    ``--max-minutes`` limit reached included (the run did what was asked)."""
    return 130 if result.stopped == "interrupted" else 0


@contextmanager
def _sigterm_as_ctrl_c() -> Iterator[None]:
    """SIGTERM (a service manager, ``kill``) ends training as Ctrl-C does: the best
    checkpoint (or the build's state) is kept and the run says so."""
    import signal

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread: nothing to install
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _context(args: argparse.Namespace) -> Any:
    """--context, else the configured context, else the bundled DJ context."""
    return context_for(args, config_for(args))


def _context_model_of(args: argparse.Namespace) -> Path:
    from djtui.training import context_model

    context = _context(args)
    built = context_model.ready(context)
    if built is None:
        raise DjtuiError(f"the context model for {context.name} is not built yet",
                         "build it with `djtui train --context-model` (or let the TUI build it), or leave out --base")
    return built


def _context_model(args: argparse.Namespace) -> int:
    from djtui.training import context_model

    if args.data or args.output:
        raise DjtuiError("--context-model makes its own takes and chooses its own folder",
                         "leave out --data and --output (or train your own model without --context-model)")
    context = _context(args)
    if (built := context_model.ready(context)) is not None:
        print(f"the context model for {context.name} is built: {built}")
        return 0
    from djtui.core.asr import damaged_context_model

    if damaged := damaged_context_model(context):
        print(f"the context model for {context.name} is damaged ({damaged}): building it again")
    context_model.clear_failures(context)  # built by hand: the background build gets its tries again
    print(f"building the context model for {context.name}: synthetic voices, then fine-tuning (minutes; "
          "Ctrl-C stops and keeps where it is)")
    try:
        with _progress() as on_event:
            result = context_model.build(context, music=Path(args.noise_dir) if args.noise_dir else None,
                                         epochs=args.epochs or context_model.EPOCHS, max_minutes=args.max_minutes,
                                         on_event=on_event)
    except KeyboardInterrupt:  # while it spoke the takes: each is kept as it is spoken
        print(f"stopped while speaking the takes; those spoken are kept. {_GO_ON}")
        return 130
    if result is not None and not result.finished:
        limit = f" (--max-minutes {args.max_minutes:g})" if result.stopped == "max minutes" else ""
        print(f"stopped by {result.stopped}{limit} at step {result.steps} after {result.duration_s / 60:.1f} min: "
              f"the context model is not built yet, where it is is kept. {_GO_ON}")
        return _status(result)
    if result is None or result.output != context_model.folder(context):
        raise DjtuiError("the context model was not finished", "run djtui train --context-model again")
    _summary(result)
    print("engine auto uses it whenever no model is set")
    return 0


_GO_ON = "`djtui train --context-model` (or the TUI) goes on from there."


@contextmanager
def _progress() -> Iterator[Callable[[TrainEvent], None]]:
    """A progress bar on the console and the subscriber that drives it."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console()
    with Progress(TextColumn("[bold]epoch {task.fields[epoch]}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("loss {task.fields[loss]} · lr {task.fields[lr]} · commands {task.fields[accuracy]}"),
                  TimeRemainingColumn(), console=console) as bar:
        task = bar.add_task("train", total=None, epoch="-", loss="-", lr="-", accuracy="-")

        def on_event(event: TrainEvent) -> None:
            match event:
                case Started():
                    bar.update(task, total=event.total_steps, completed=event.step, accuracy=_pct(event.accuracy))
                    stock = "" if event.stock_accuracy is None else f" (stock model: {_pct(event.stock_accuracy)})"
                    console.print(f"{event.message}; before training: commands understood {_pct(event.accuracy)}"
                                  f"{stock}, WER {_pct(event.wer)}")
                case Stepped():
                    bar.update(task, completed=event.step, epoch=f"{event.epoch}/{event.epochs}",
                               loss=f"{event.loss:.3f}", lr=f"{event.lr:.2e}")
                case Evaluated():
                    bar.update(task, accuracy=_pct(event.accuracy))
                    console.print(f"epoch {event.epoch}: commands understood {_pct(event.accuracy)}, "
                                  f"WER {_pct(event.wer)}, CER {_pct(event.cer)}")
                case Checkpointed():
                    console.print(f"[dim]{event.message}")
                case Calibrating(done=done, total=total):
                    bar.update(task, epoch="- calibrating", completed=done, total=total)
                    if done == total:
                        console.print(f"[dim]{event.message}")
                case Stopped():
                    console.print(f"[dim]{event.why}")

        yield on_event


def _summary(result: Any) -> None:
    from djtui.training.report import REPORT_MD

    # Plain prints: paths must stay whole on one line to be copied.
    if result.stopped == "interrupted":
        print(f"interrupted: the best checkpoint (epoch {result.best_epoch}) is kept in {result.output}")
    print(f"before: commands {_pct(result.before.accuracy)}, WER {_pct(result.before.wer)} → "
          f"after: commands {_pct(result.after.accuracy)}, WER {_pct(result.after.wer)} "
          f"({result.steps} steps, {result.duration_s / 60:.1f} min, stopped by {result.stopped})")
    if result.calibration:
        from djtui.training.report import calibration_lines

        print("\n".join(calibration_lines(result.calibration)))
    print(f"model: {result.output}\nuse it: djtui listen --model {result.output}\n"
          f"report: {result.output / REPORT_MD}")


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"
