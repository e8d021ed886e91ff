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
from djtui.core.events import (ArmedChanged, Dropped, Error, Event, Expired, Outcome, RampEnded, ReferenceStatus,
                               Status)


INTERRUPTED = 130
"""Ctrl-C's exit status (128 + SIGINT), as shells report it: stopping is not success."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "listen",
        help="listen and send commands, printing one line per utterance",
        description="Voice to MIDI without the TUI. Ctrl-C stops; with --input it ends at the end of the file. "
                    "Each line ends with the time from the end of speech to the MIDI sent (said→done), what "
                    "the DJ feels; a file read with --fast has no such time, so its lines say how long "
                    "understanding took instead.",
        epilog="Here 1 means that an error was reported while reading --input.",
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
    parser.add_argument("--dry-run", action="store_true",
                        help="open no MIDI port: a command the safety gate approves is printed as 'would send' "
                             "instead of sent; while disarmed (say 'arm', or --armed) each command shows what it "
                             "would send once armed")
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
            return 0
        print("audio inputs (* = the default; --device takes an index or part of a name):")
        print(f"  {'index':>5}  name  (host API, sample rate)")
        for device in devices:
            mark = "*" if device["default"] else " "
            print(f"{mark} {device['index']:>5}  {device['name']}  ({device['hostapi']}, {device['sample_rate']} Hz)")
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
    printer = Printer(sys.stdout, sys.stderr, as_json=args.json, realtime=not (args.input and not args.realtime))
    if args.input and not args.realtime:
        return _read_file(args, config, printer)
    return _listen_live(args, config, printer)


def _read_file(args: argparse.Namespace, config: Any, printer: Printer) -> int:
    """``--input FILE --fast``: every utterance of the file, one after another on this
    thread (the public :class:`~djtui.Listener`): a file is not real time, so nothing is
    ever dropped for being late."""
    from djtui import Listener
    from djtui.commands._shared import StatusLine
    from djtui.core.sessionlog import SessionLog

    source = _file(args, realtime=False)  # a wrong file fails before seconds of model loading
    status = StatusLine()
    try:
        listener = Listener(config, dry_run=args.dry_run, session_log=SessionLog(save_audio=args.save_audio),
                            on_progress=status)
    finally:
        status.done()
    printer.stages = listener.stages
    if hasattr(source, "on_event"):
        source.on_event = printer
    listener.subscribe(printer)
    _announce(args.input, listener.stages, args.dry_run)
    try:
        for frame in source.blocks():
            listener.process(frame)
        listener.flush()
    except KeyboardInterrupt:
        return INTERRUPTED
    finally:
        listener.close()
    return 1 if printer.failed else 0


def _listen_live(args: argparse.Namespace, config: Any, printer: Printer) -> int:
    from djtui.commands._shared import StatusLine
    from djtui.core.pipeline import Pipeline
    from djtui.core.sessionlog import SessionLog
    from djtui.core.stages import microphone_for

    # Open the input first: a wrong file or device fails before seconds of model loading.
    source = _file(args, realtime=True) if args.input else microphone_for(config)
    status = StatusLine()
    try:
        pipeline = Pipeline(config, dry_run=args.dry_run, session_log=SessionLog(save_audio=args.save_audio),
                            on_progress=status)
    except BaseException:
        source.close()
        raise
    finally:
        status.done()
    printer.stages = pipeline.stages
    pipeline.subscribe(printer)
    _announce(args.input or getattr(source, "device_name", "microphone"), pipeline.stages, args.dry_run)
    try:
        pipeline.start(source)
        if args.input:
            pipeline.wait()
        else:
            threading.Event().wait()
    except KeyboardInterrupt:
        return INTERRUPTED
    finally:
        pipeline.stop()
    return 1 if printer.failed and args.input else 0


def _file(args: argparse.Namespace, realtime: bool) -> Any:
    """``--input``: its channel 1, echo-cancelled with ``--reference-channel``'s mix (without
    one, channel 1 as it is: a booth recording's "without" row)."""
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
    on ``err``.

    ``realtime``: the audio came at its own pace (a microphone, a file played in real
    time), so the time from the end of speech to the MIDI is what the DJ would feel; with
    ``--fast`` there is no such time, only how long understanding took. ``stages``: the
    listener's, to say what a command heard while disarmed would send once armed.
    """

    def __init__(self, out: TextIO, err: TextIO, as_json: bool = False, realtime: bool = True) -> None:
        self.out, self.err, self.as_json, self.realtime = out, err, as_json, realtime
        self.stages: Any = None
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
            case RampEnded(move=move, position=position, how=how) if how != "done":
                where = "where it was" if position is None else f"at {position:.2f}"
                print(f"djtui: {move.label()}: stopped {where} ({how})", file=self.err, flush=True)
            case ReferenceStatus(reference=reference, message=message, hint=hint):
                print(f"djtui: reference ({reference}): {message}" + (f"\n  → {hint}" if hint else ""),
                      file=self.err, flush=True)

    def _outcome(self, outcome: Outcome) -> None:
        if_armed = self._if_armed(outcome)
        work_ms = round(sum(ms for stage, ms in outcome.stages_ms.items() if stage != "vad_endpoint"), 2)
        if self.as_json:
            line = {
                "n": outcome.number,
                "transcript": outcome.transcript,
                "top5": [{"intent": c.intent, "slots": c.slots, "score": round(float(c.score), 4)}
                         for c in outcome.candidates],
                "verdict": _verdict(outcome.verdict),
                "midi": [asdict(command) for command in outcome.sent],
                "moves": [asdict(move) for move in outcome.verdict.moves] if outcome.verdict.approved else [],
                "if_armed": [asdict(command) for command in if_armed],
                "dry_run": outcome.dry_run,
                "total_ms": outcome.total_ms if self.realtime else None,
                "said_to_done_ms": round(outcome.said_to_done_ms, 2) if self.realtime else None,
                "work_ms": work_ms,
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
        if if_armed:
            what += f" · once armed: {'would send' if outcome.dry_run else 'sends'} " + \
                ", ".join(c.label() for c in if_armed)
        when = (f"said→done {outcome.said_to_done_ms:.0f} ms" if self.realtime
                else f"understood in {work_ms:.0f} ms (--fast: no real time)")
        print(f'"{outcome.transcript}" → {top} · {what} · {when}', file=self.out, flush=True)

    def _if_armed(self, outcome: Outcome) -> tuple[Any, ...]:
        """What a command heard while disarmed would send once armed: clear enough by
        what was said (the gate's rules that need no state); deck state, cooldowns and
        'confirm' still have their say then."""
        from djtui.core.context import command_for
        from djtui.core.errors import DjtuiError

        verdict, stages = outcome.verdict, self.stages
        if verdict.reason != "disarmed" or verdict.candidate is None or stages is None:
            return ()
        if stages.gate.screen(outcome.candidates) is not None:
            return ()
        intent = stages.context.intents.get(verdict.candidate.intent)
        if intent is None or intent.action is None:
            return ()
        try:
            return (command_for(intent, verdict.candidate.slots),)
        except DjtuiError:
            return ()


def _verdict(verdict: Any) -> dict[str, Any] | None:
    if verdict is None:
        return None
    return {"approved": verdict.approved, "reason": verdict.reason, "message": verdict.message,
            "intent": verdict.candidate.intent if verdict.candidate else None}
