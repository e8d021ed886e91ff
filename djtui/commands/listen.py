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
    parser.add_argument("--list-devices", action="store_true", help="list audio inputs and exit")
    parser.add_argument("--asr", choices=("auto", "wav2vec2", "whisper"), help="ASR engine (default: [asr] engine)")
    parser.add_argument("--model", metavar="PATH", help="ASR model: fine-tuned folder, hub id or CTranslate2 folder")
    parser.add_argument("--context", metavar="FILE", help="context file (default: the bundled DJ context)")
    parser.add_argument("--midi-port", metavar="NAME", help="MIDI output port (default: [midi] output_port)")
    parser.add_argument("--dry-run", action="store_true", help="open no MIDI port; print what would be sent")
    parser.add_argument("--armed", action="store_true", help="start armed: approved commands are sent at once")
    parser.add_argument("--save-audio", action="store_true", help="keep each utterance's audio beside the session log")
    parser.add_argument("--json", action="store_true", help="print JSON lines")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from djtui.core.audio import FileSource, MicrophoneSource, list_input_devices
    from djtui.core.config import load_config
    from djtui.core.pipeline import Pipeline
    from djtui.core.sessionlog import SessionLog

    if args.list_devices:
        devices = list_input_devices()
        if not devices:
            print("djtui: no audio inputs found (plug in a microphone or interface, or start JACK)", file=sys.stderr)
        for device in devices:
            mark = "*" if device["default"] else " "
            print(f"{mark} {device['index']:>3}  {device['name']}  ({device['hostapi']}, {device['sample_rate']} Hz)")
        return 0

    config = load_config(getattr(args, "config", None))
    if args.asr:
        config.asr.engine = args.asr
    if args.model:
        config.asr.model = args.model
    if args.context:
        config.resolver.context = args.context
    if args.midi_port:
        config.midi.output_port = args.midi_port
    if args.device:
        config.audio.input_device = args.device
    if args.armed:
        config.safety.armed_at_start = True
    if args.input:
        config.audio.trigger = "always"  # a file has no key to press

    # Open the input first: a wrong file or device fails before seconds of model loading.
    source = (
        FileSource(args.input, realtime=args.realtime, sample_rate=config.audio.sample_rate)
        if args.input
        else MicrophoneSource(config.audio.input_device, config.audio.sample_rate, config.audio.block_ms)
    )
    try:
        pipeline = Pipeline(config, dry_run=args.dry_run, session_log=SessionLog(save_audio=args.save_audio))
    except BaseException:
        source.close()
        raise
    printer = Printer(sys.stdout, sys.stderr, as_json=args.json)
    pipeline.subscribe(printer)
    where = args.input or getattr(source, "device_name", "microphone")
    state = "ARMED" if pipeline.armed else "disarmed (say 'arm' or use --armed)"
    print(f"djtui: listening to {where} · {pipeline.engine_description} · {state}"
          + (" · dry run" if args.dry_run else ""), file=sys.stderr)
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


class Printer:
    """Turns pipeline events into one line (or one JSON object) per utterance."""

    def __init__(self, out: TextIO, err: TextIO, as_json: bool = False) -> None:
        self.out, self.err, self.as_json = out, err, as_json
        self.failed = False
        self._pending: dict[int, dict[str, Any]] = {}

    def __call__(self, event: Any) -> None:
        kind = type(event).__name__
        if kind == "VerdictEvent" and event.utterance == 0:  # a command left unconfirmed
            self._expired(event.verdict)
        elif kind == "MidiSent":
            self._pending.setdefault(event.utterance, {}).setdefault("MidiSent", []).append(event)
        elif kind in ("Transcript", "Candidates", "VerdictEvent"):
            self._pending.setdefault(event.utterance, {})[kind] = event
        elif kind == "Trace":
            self._emit(self._pending.pop(event.utterance, {}), event)
        elif kind in ("Status", "Error"):
            self.failed |= kind == "Error"
            print(f"djtui: {event.message}" + (f"\n  → {event.hint}" if event.hint else ""), file=self.err, flush=True)
        elif kind == "Armed":
            print(f"djtui: {'ARMED' if event.armed else 'disarmed'}", file=self.err, flush=True)

    def _emit(self, record: dict[str, Any], trace: Any) -> None:
        transcript = record["Transcript"].text if "Transcript" in record else ""
        candidates = list(record["Candidates"].candidates) if "Candidates" in record else []
        verdict = record["VerdictEvent"].verdict if "VerdictEvent" in record else None
        sent = record.get("MidiSent", [])
        if self.as_json:
            line = {
                "n": trace.utterance,
                "transcript": transcript,
                "top5": [{"intent": c.intent, "slots": c.slots, "score": round(float(c.score), 4)} for c in candidates],
                "verdict": _verdict(verdict),
                "midi": [asdict(event.command) for event in sent],
                "dry_run": any(event.dry_run for event in sent),
                "total_ms": trace.total_ms,
                "stages_ms": trace.stages,
                "engine": trace.engine,
                "model": trace.model,
            }
            print(json.dumps(line, default=str), file=self.out, flush=True)
            return
        top = f"{candidates[0].label()} {candidates[0].score:.2f}" if candidates else "—"
        if sent:
            outcome = ("would send " if sent[0].dry_run else "sent ") + ", ".join(e.command.label() for e in sent)
        elif verdict is None:
            outcome = "no verdict"
        else:
            outcome = f"{'ok' if verdict.approved else 'rejected'} ({verdict.reason}): {verdict.message}"
        print(f'"{transcript}" → {top} · {outcome} · {trace.total_ms:.0f} ms', file=self.out, flush=True)

    def _expired(self, verdict: Any) -> None:
        if self.as_json:
            print(json.dumps({"n": 0, "verdict": _verdict(verdict)}), file=self.out, flush=True)
        else:
            print(f"({verdict.reason}): {verdict.message}", file=self.out, flush=True)


def _verdict(verdict: Any) -> dict[str, Any] | None:
    if verdict is None:
        return None
    return {"approved": verdict.approved, "reason": verdict.reason, "message": verdict.message,
            "intent": verdict.candidate.intent if verdict.candidate else None}
