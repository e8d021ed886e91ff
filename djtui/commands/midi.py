"""``djtui midi``: the Rekordbox mapping file, the MIDI ports, a monitor and a doctor.

- ``djtui midi export-rekordbox OUT.csv [--context FILE] [--device NAME]``
- ``djtui midi check FILE.csv``
- ``djtui midi ports [--api API]``
- ``djtui midi monitor [--port NAME] [--api API]``
- ``djtui midi doctor [--pulse] [--wait S] [--api API]``
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from djtui.commands._shared import add_context_option, config_for, context_for
from djtui.core.decks import DECKS, DeckState, FEEDBACK_OFFSET
from djtui.core.midi_ports import choose_api, list_ports, listed_as, midi_systems
from djtui.core.records import MidiCommand

DOCTOR_WAIT_S = 5.0
PULSE_AFTER_S = 1.0
"""The test pulse waits this long after the ports open, so whoever connects to them
(a patchbay, a running loopMIDI reader) is connected when it comes."""


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("midi", help="Rekordbox mapping file, MIDI ports, monitor, doctor")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    export = actions.add_parser("export-rekordbox", help="write a Rekordbox MIDI Learn CSV for every command")
    export.add_argument("out", type=Path, metavar="OUT.csv")
    add_context_option(export)
    export.add_argument("--device", help="device name in the file (default: [midi] output_port, 'djtui')")
    export.set_defaults(func=run_export)

    check = actions.add_parser("check", help="list every problem in a Rekordbox mapping CSV as file:line: what",
                               description="Every problem in a Rekordbox mapping CSV as file:line: what, in line "
                                           "order: the file's form, MIDI codes, options, and function and type "
                                           "names misspelt (checked against the names in the files Rekordbox "
                                           "ships, with the closest one). A name that is neither known nor close "
                                           "to a known one is noted as unverified, not counted as a problem.")
    check.add_argument("file", type=Path, metavar="FILE.csv")
    check.set_defaults(func=run_check)

    ports = actions.add_parser("ports", help="list the MIDI ports djtui can see")
    ports.add_argument("--api", help="MIDI system: alsa, jack, coremidi, winmm (default: config, DJTUI_MIDI_API)")
    ports.set_defaults(func=run_ports)

    monitor = actions.add_parser("monitor", help="print every MIDI message arriving on a port")
    monitor.add_argument("--port", help="an existing port (default: open djtui's own input port)")
    monitor.add_argument("--api", help="MIDI system: alsa, jack, coremidi, winmm")
    monitor.set_defaults(func=run_monitor)

    doctor = actions.add_parser("doctor", help="check the way to Rekordbox and back, and say what to do next",
                                epilog="Here 1 means that no feedback came back from Rekordbox.")
    doctor.add_argument("--pulse", action="store_true",
                        help="send one test note that the mapping leaves unassigned (never play or cue)")
    doctor.add_argument("--wait", type=float, default=DOCTOR_WAIT_S, metavar="S",
                        help=f"seconds to wait for Rekordbox's feedback (default {DOCTOR_WAIT_S:g})")
    doctor.add_argument("--api", help="MIDI system: alsa, jack, coremidi, winmm")
    add_context_option(doctor)
    doctor.set_defaults(func=run_doctor)


def _api(args: argparse.Namespace) -> str | None:
    """``--api``, else ``DJTUI_MIDI_API``, else the config's ``[midi] api``, else the
    system that answers (:func:`~djtui.core.midi_ports.effective_api`)."""

    return choose_api(args.api, config_for(args).midi)


def _others(ports: list[str], config: Any) -> tuple[list[str], list[str]]:
    """``ports`` split into other programs' and djtui's own (another djtui running: its
    output is no input for this one to read, nor its input an output to send to)."""
    from djtui.core.midi import feedback_port
    from djtui.core.midi_ports import owned_by

    names = {config.midi.output_port, feedback_port(config.midi)}
    own = [p for p in ports if any(owned_by(p, name) for name in names)]
    return [p for p in ports if p not in own], own


def run_export(args: argparse.Namespace) -> int:
    from djtui.core.rekordbox import PadLayout, export_csv

    config = config_for(args)
    context = context_for(args, config)
    device = args.device or config.midi.output_port
    export = export_csv(context, args.out, device_name=device, layout=PadLayout.from_config(config.rekordbox))
    print(f"{args.out}: {len(export.rows)} Rekordbox functions for context '{context.name}', device '{device}'")
    print("For this file to be true in Rekordbox:")
    for n, setting in enumerate(export.settings, start=1):
        print(f"  {n}. {setting}")
    if export.unmapped:
        print("Mapped to nothing (saying them sends a note Rekordbox ignores):")
        for what in export.unmapped:
            print(f"  - {what}")
    if export.unverified:
        print("Not seen in Rekordbox's own mapping files (unverified): " + ", ".join(export.unverified))
    return 0


def run_check(args: argparse.Namespace) -> int:
    from djtui.core.rekordbox import check_csv, read_csv, unverified

    problems = check_csv(args.file)
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problem{'s' if len(problems) != 1 else ''}", file=sys.stderr)
        return 1
    mapping = read_csv(args.file)
    notes = unverified(mapping, str(args.file))
    for note in notes:
        print(note)
    print(f"{args.file}: ok · device '{mapping.device}' · {len(mapping.rows)} rows"
          + (f" · {len(notes)} unverified" if notes else ""))
    return 0


def run_ports(args: argparse.Namespace) -> int:
    config = config_for(args)
    ports = list_ports(_api(args))
    inputs, own_out = _others(ports.inputs, config)
    outputs, own_in = _others(ports.outputs, config)
    print("inputs (djtui can read):")
    for name in inputs or ["(none)"]:
        print(f"  {name}")
    print("outputs (djtui can send to):")
    for name in outputs or ["(none)"]:
        print(f"  {name}")
    if own_out or own_in:
        print(f"djtui's own ports, open in another djtui: {', '.join(own_out + own_in)}")
    return 0


def run_monitor(args: argparse.Namespace) -> int:
    from djtui.core.midi import feedback_port, monitor

    config = config_for(args)
    where = args.port or feedback_port(config.midi)
    stream = monitor(args.port, virtual_name=feedback_port(config.midi), api=_api(args))  # a busy port fails here
    print(f"listening on {where!r} (Ctrl-C to stop)", file=sys.stderr)
    try:
        for t, message in stream:
            if message is not None:
                text = str(message).removesuffix(" time=0")
                print(f"{t:9.3f}  {message.hex():<9}  {text}", flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        stream.close()
    return 0


def run_doctor(args: argparse.Namespace) -> int:
    """Systems, djtui's ports, an optional harmless pulse, then Rekordbox's feedback (or
    its absence) and the next step in plain words. Reads nothing from stdin."""
    from djtui.core.midi import MidiOut, feedback_port, open_feedback
    from djtui.core.rekordbox import PadLayout, plan_export

    config = config_for(args)
    api = _api(args)
    midi = config.midi
    print("MIDI systems (python-rtmidi):")
    for system in midi_systems():
        chosen = "  ← djtui uses this" if system.api == (api or "").lower() else ""
        if system.ports is None:
            print(f"  {system.api:<8} not reachable: {system.problem}{chosen}")
        else:
            inputs, own = _others(system.ports.inputs, config)
            outputs, own_in = _others(system.ports.outputs, config)
            print(f"  {system.api:<8} reachable{chosen}")
            print(f"           inputs (djtui can read): {', '.join(inputs) or '(none)'}")
            print(f"           outputs (djtui can send to): {', '.join(outputs) or '(none)'}")
            if own or own_in:
                print(f"           djtui's own, open in another djtui (quit it first): {', '.join(own + own_in)}")
    context = context_for(args, config)
    state = DeckState.for_context(context)
    out_name, in_name = midi.output_port, feedback_port(midi)
    kind = "virtual ports djtui creates" if midi.virtual else "existing ports (loopMIDI)"
    with MidiOut(midi, api=api) as out, open_feedback(midi, state, api=api):
        print(f"djtui's ports: '{out_name}' (commands to Rekordbox) and '{in_name}' (its feedback), {kind}: open")
        if midi.virtual and out_name == in_name:
            print(f"  other programs see them as: {', '.join(listed_as(out_name, api))}")
        echoes_before = out.echoes.dropped
        state.subscribe(lambda toggle, channel, on, source: print(
            f"  Rekordbox reports {toggle} {'on' if on else 'off'} ({_where(channel)})", flush=True))
        if args.pulse:
            time.sleep(PULSE_AFTER_S)
            pulse = MidiCommand("test pulse", "note", *_unassigned_note(plan_export(context, PadLayout.from_config(config.rekordbox))))
            out.send(pulse)
            print(f"test pulse sent: note {pulse.number} on MIDI channel {pulse.channel + 1}, which the mapping leaves "
                  "unassigned (Rekordbox's MIDI Learn window shows it arriving)")
        print(f"waiting {args.wait:g} s for Rekordbox's feedback (press play or sync on a deck in Rekordbox)…", flush=True)
        deadline = time.monotonic() + args.wait
        while time.monotonic() < deadline and not state.snapshot():
            time.sleep(0.05)
        time.sleep(0.1 if state.snapshot() else 0)  # a report rarely comes alone: let its neighbours print
        echoes = out.echoes.dropped - echoes_before
    if echoes:
        print(f"  {echoes} of djtui's own messages came back on its input: the port loops back (loopMIDI, IAC); "
              "djtui drops its own echoes, and Rekordbox's reports use other channels than its presses")
    print(_next_step(state, out_name, midi.virtual))
    return 0 if state.snapshot() else 1


def _where(channel: int) -> str:

    return f"deck {channel + 1}" if channel < DECKS else f"MIDI channel {channel + 1}"


def _unassigned_note(export: Any) -> tuple[int, int]:
    """``(channel, note)`` of a note no row of the mapping uses, on a press channel (1-8):
    a pulse there does nothing in Rekordbox."""
    from djtui.core.rekordbox import decode

    used = {decode(c)[1:] for row in export.rows for c in row.input_codes() if decode(c)[0] == 0x90}
    for channel in range(FEEDBACK_OFFSET - 1, -1, -1):
        for note in range(127, -1, -1):
            if (channel, note) not in used:
                return channel, note
    raise AssertionError("every note on every channel is mapped")  # 1,024 notes: not a real context


def _next_step(state: Any, port: str, virtual: bool) -> str:
    if state.snapshot():
        return ("Next: nothing to fix. Rekordbox reports deck state to djtui. Start djtui (`djtui`, "
                "l for Live, space to listen) and keep it running while Rekordbox runs.")
    if state.heard:
        return (f"Next: Rekordbox sends on '{port}', but nothing djtui knows as a report. Import the file "
                "`djtui midi export-rekordbox djtui.csv` writes (its output codes are the reports), in "
                "Rekordbox: Preferences > Controller > MIDI, Import.")
    first = (f"Start djtui first, so that its port '{port}' exists" if virtual
             else f"Start loopMIDI with the port '{port}', then djtui")
    return ("Next: nothing came back from Rekordbox. Rekordbox lists MIDI ports only when it starts:\n"
            f"  1. Quit Rekordbox. {first} (`djtui`, l, space; or `djtui midi doctor --wait 120`).\n"
            "  2. Start Rekordbox in Performance mode.\n"
            f"  3. Preferences > Controller > MIDI: choose '{port}', Import the file from "
            "`djtui midi export-rekordbox djtui.csv`.\n"
            "  4. Press play on a deck in Rekordbox: its report should arrive here.")
