"""``djtui listen``: the live pipeline without the TUI, one line per utterance.

Listens to the microphone (or a file with ``--input``), and prints what was heard, what
it was understood as, the safety verdict and the latency; ``--json`` prints JSON lines
instead. Status and errors go to stderr, so stdout stays one record per utterance.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from dataclasses import asdict
from typing import Any, TextIO

from djtui.commands._shared import add_context_option, add_set_option
from djtui.core.events import ArmedChanged, Dropped, Error, Event, Expired, Outcome, ReferenceStatus, Status


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "listen",
        help="listen and send commands, printing one line per utterance",
        description="Voice to MIDI without the TUI. Ctrl-C stops; with --input it ends at the end of the file.",
    )
    parser.add_argument("--input", metavar="FILE", help="read a wav/flac file instead of the microphone")
    pace = parser.add_mutually_exclusive_group()
    pace.add_argument("--realtime", dest="realtime", action="store_true", default=True,
                      help="play --input at its own speed, like a microphone (default)")
    pace.add_argument("--fast", dest="realtime", action="store_false", help="read --input as fast as possible")
    parser.add_argument("--device", help="audio input: name (substring) or index; see --list-devices")
    parser.add_argument("--reference-channel", type=int, metavar="N",
                        help="the channel carrying the mix, removed from the microphone before listening: of --input "
                             "(a booth recording: channel 1 the microphone; without this flag channel 1 alone is "
                             "heard), else of the microphone's interface ([audio] reference_channel)")
    parser.add_argument("--list-devices", action="store_true", help="list audio inputs and exit")
    parser.add_argument("--asr", choices=("auto", "wav2vec2", "whisper"), help="ASR engine (default: [asr] engine)")
    parser.add_argument("--model", metavar="PATH",
                        help="ASR model: fine-tuned folder, hub id, CTranslate2 folder, or base (Whisper base)")
    add_context_option(parser)
    parser.add_argument("--midi-port", metavar="NAME", help="MIDI output port (default: [midi] output_port)")
    parser.add_argument("--dry-run", action="store_true", help="open no MIDI port; print what would be sent")
    parser.add_argument("--armed", action="store_true", help="start armed: approved commands are sent at once")
    parser.add_argument("--save-audio", action="store_true", help="keep each utterance's audio beside the session log")
    parser.add_argument("--json", action="store_true", help="print JSON lines")
    add_set_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from djtui.commands._shared import config_for
    from djtui.core.audio import list_input_devices

    if args.list_devices:
        devices = list_input_devices()
        if not devices:
            print("djtui: no audio inputs found (plug in a microphone or interface, or start JACK)", file=sys.stderr)
        for device in devices:
            mark = "*" if device["default"] else " "
            print(f"{mark} {device['index']:>3}  {device['name']}  ({device['hostapi']}, {device['sample_rate']} Hz)")
        return 0

    config = config_for(
        args,
        asr={"engine": args.asr, "model": args.model},
        resolver={"context": args.context},
        midi={"output_port": args.midi_port},
        audio={"input_device": args.device, "trigger": "always" if args.input else None,  # a file has no key to press
               "reference_channel": None if args.input else args.reference_channel},
        safety={"armed_at_start": True if args.armed else None},
    )
    printer = Printer(sys.stdout, sys.stderr, as_json=args.json)
    if args.input and not args.realtime:
        return _read_file(args, config, printer)
    return _listen_live(args, config, printer)


def _read_file(args: argparse.Namespace, config: Any, printer: Printer) -> int:
    """``--input FILE --fast``: every utterance of the file, one after another on this
    thread (the public :class:`~djtui.Listener`): a file is not real time, so nothing is
    ever dropped for being late."""
    from djtui import Listener
    from djtui.core.sessionlog import SessionLog

    source = _file(args, realtime=False)  # a wrong file fails before seconds of model loading
    listener = Listener(config, dry_run=args.dry_run, session_log=SessionLog(save_audio=args.save_audio))
    if hasattr(source, "on_event"):
        source.on_event = printer
    listener.subscribe(printer)
    _announce(args.input, listener.stages, args.dry_run)
    try:
        for frame in source.blocks():
            listener.process(frame)
        listener.flush()
    except KeyboardInterrupt:
        pass
    finally:
        listener.close()
    return 1 if printer.failed else 0


def _listen_live(args: argparse.Namespace, config: Any, printer: Printer) -> int:
    from djtui.core.pipeline import Pipeline
    from djtui.core.sessionlog import SessionLog
    from djtui.core.stages import microphone_for

    # Open the input first: a wrong file or device fails before seconds of model loading.
    source = _file(args, realtime=True) if args.input else microphone_for(config)
    try:
        pipeline = Pipeline(config, dry_run=args.dry_run, session_log=SessionLog(save_audio=args.save_audio))
    except BaseException:
        source.close()
        raise
    pipeline.subscribe(printer)
    _announce(args.input or getattr(source, "device_name", "microphone"), pipeline.stages, args.dry_run)
    try:
        pipeline.start(source)
        if args.input:
            pipeline.wait()
        else:
            threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        pipeline.stop()
    return 1 if printer.failed and args.input else 0


def _file(args: argparse.Namespace, realtime: bool) -> Any:
    """``--input``: its channel 1, echo-cancelled with ``--reference-channel``'s mix."""
    from djtui.core.audio import FileSource

    source = FileSource(args.input, realtime=realtime, channel=1, reference_channel=args.reference_channel)
    if args.reference_channel is None:
        return source
    from djtui.core.echo_cancel import CancellingSource

    return CancellingSource(source, reference=f"channel {args.reference_channel} of {args.input}")


def _announce(where: str, stages: Any, dry_run: bool) -> None:
    state = "ARMED" if stages.gate.armed else "disarmed (say 'arm' or use --armed)"
    print(f"djtui: listening to {where} · {stages.engine_description} · {state}"
          + (" · dry run" if dry_run else ""), file=sys.stderr)


class Printer:
    """One line (or one JSON object) per utterance on ``out``; status, errors and losses
    on ``err``."""

    def __init__(self, out: TextIO, err: TextIO, as_json: bool = False) -> None:
        self.out, self.err, self.as_json = out, err, as_json
        self.failed = False

    def __call__(self, event: Event) -> None:
        match event:
            case Outcome():
                self._outcome(event)
            case Expired(verdict=verdict):
                if self.as_json:
                    print(json.dumps({"n": 0, "verdict": _verdict(verdict)}), file=self.out, flush=True)
                else:
                    print(f"({verdict.reason}): {verdict.message}", file=self.out, flush=True)
            case Status(message=message, hint=hint) | Error(message=message, hint=hint):
                self.failed |= isinstance(event, Error)
                print(f"djtui: {message}" + (f"\n  → {hint}" if hint else ""), file=self.err, flush=True)
            case Dropped(message=message, total=total, what=what):
                print(f"djtui: {message} ({total} {what}{'s' if total != 1 else ''} lost so far)",
                      file=self.err, flush=True)
            case ArmedChanged(armed=armed):
                print(f"djtui: {'ARMED' if armed else 'disarmed'}", file=self.err, flush=True)
            case ReferenceStatus(reference=reference, message=message, hint=hint):
                print(f"djtui: reference ({reference}): {message}" + (f"\n  → {hint}" if hint else ""),
                      file=self.err, flush=True)

    def _outcome(self, outcome: Outcome) -> None:
        if self.as_json:
            line = {
                "n": outcome.number,
                "transcript": outcome.transcript,
                "top5": [{"intent": c.intent, "slots": c.slots, "score": round(float(c.score), 4)}
                         for c in outcome.candidates],
                "verdict": _verdict(outcome.verdict),
                "midi": [asdict(command) for command in outcome.sent],
                "dry_run": outcome.dry_run and bool(outcome.sent),
                "total_ms": outcome.total_ms,
                "said_to_done_ms": round(outcome.said_to_done_ms, 2),
                "early": outcome.early,
                "stages_ms": outcome.stages_ms,
                "engine": outcome.engine,
                "model": outcome.model,
            }
            print(json.dumps(line, default=str), file=self.out, flush=True)
            return
        best = outcome.best
        top = f"{best.label()} {best.score:.2f}" if best is not None else "—"
        verdict = outcome.verdict
        if outcome.sent:
            what = ("would send " if outcome.dry_run else "sent ") + ", ".join(c.label() for c in outcome.sent)
        else:
            what = f"{'ok' if verdict.approved else 'rejected'} ({verdict.reason}): {verdict.message}"
        print(f'"{outcome.transcript}" → {top} · {what} · {outcome.total_ms:.0f} ms', file=self.out, flush=True)


def _verdict(verdict: Any) -> dict[str, Any] | None:
    if verdict is None:
        return None
    return {"approved": verdict.approved, "reason": verdict.reason, "message": verdict.message,
            "intent": verdict.candidate.intent if verdict.candidate else None}
