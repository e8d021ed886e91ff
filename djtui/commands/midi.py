"""``djtui midi``: the Rekordbox mapping file, the MIDI ports, and a monitor.

- ``djtui midi export-rekordbox OUT.csv [--context FILE] [--device NAME]``
- ``djtui midi ports``
- ``djtui midi monitor [--port NAME]``
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from djtui.commands._shared import add_context_option, config_for, context_for


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("midi", help="Rekordbox mapping file, MIDI ports, monitor")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    export = actions.add_parser("export-rekordbox", help="write a Rekordbox MIDI Learn CSV for every command")
    export.add_argument("out", type=Path, metavar="OUT.csv")
    add_context_option(export)
    export.add_argument("--device", default="djtui", help="device name in the file (default: djtui)")
    export.set_defaults(func=run_export)

    ports = actions.add_parser("ports", help="list the MIDI ports djtui can see")
    ports.add_argument("--api", help="MIDI system: alsa, jack, coremidi, winmm (default: config, DJTUI_MIDI_API)")
    ports.set_defaults(func=run_ports)

    monitor = actions.add_parser("monitor", help="print every MIDI message arriving on a port")
    monitor.add_argument("--port", help="an existing port (default: open djtui's feedback port)")
    monitor.add_argument("--api", help="MIDI system: alsa, jack, coremidi, winmm")
    monitor.set_defaults(func=run_monitor)


def _api(args: argparse.Namespace) -> str | None:
    """``--api``, else ``DJTUI_MIDI_API``, else the config's ``[midi] api``."""
    from djtui.core.midi import API_ENV

    return args.api or os.environ.get(API_ENV) or config_for(args).midi.api


def run_export(args: argparse.Namespace) -> int:
    from djtui.core.rekordbox import export_csv, mapping_rows

    context = context_for(args, config_for(args))
    path = export_csv(context, args.out, device_name=args.device)
    print(f"{path}: {len(mapping_rows(context))} Rekordbox functions for context '{context.name}'")
    print("Rekordbox: Preferences > Controller > MIDI, choose the djtui port, Import, pick this file.")
    return 0


def run_ports(args: argparse.Namespace) -> int:
    from djtui.core.midi import list_ports

    config = config_for(args)
    ports = list_ports(_api(args))
    print("inputs (djtui can read):")
    for name in ports.inputs or ["(none)"]:
        print(f"  {name}")
    print("outputs (djtui can send to):")
    for name in ports.outputs or ["(none)"]:
        print(f"  {name}")
    return 0


def run_monitor(args: argparse.Namespace) -> int:
    from djtui.core.midi import monitor

    config = config_for(args)
    where = args.port or config.midi.input_port
    print(f"listening on {where!r} (Ctrl-C to stop)", file=sys.stderr)
    stream = monitor(args.port, virtual_name=config.midi.input_port, api=_api(args))
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
