"""``djtui audio doctor``: the microphone and the reference, checked from a few seconds
of capture, with what to do next in plain words.

- ``djtui audio doctor [--seconds S] [--device DEV] [--reference-channel N] [--reference-device DEV]``

It opens the configured input as ``djtui listen`` would, runs the echo canceller on what
it hears, and says whether a reference is connected, whether it carries the music the
microphone hears, its delay, and how much of the music it removes. Exit status 0 when
the reference works (or none is set), 1 when it does not.
"""

from __future__ import annotations

import argparse
import math
import time

from djtui.commands._shared import add_set_option, config_for

DOCTOR_SECONDS = 8.0
"""Long enough for the canceller to match the delay and converge, and to tell an
unrelated reference (four seconds without a match) from a late one."""


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("audio", help="check the microphone and the echo canceller's reference")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    doctor = actions.add_parser(
        "doctor", help="capture a few seconds: is a reference connected, does it carry the music the microphone "
                       "hears, its delay, how much is removed",
        description="Play music through the PA (or speakers) while it runs. Reads [audio] input_device, "
                    "reference_channel and reference_device, or the flags below.")
    doctor.add_argument("--seconds", type=float, default=DOCTOR_SECONDS, metavar="S",
                        help=f"how long to listen (default {DOCTOR_SECONDS:g})")
    doctor.add_argument("--device", help="the microphone's input: name (substring) or index")
    doctor.add_argument("--reference-channel", type=int, metavar="N", help="the input carrying the mix")
    doctor.add_argument("--reference-device", metavar="DEV", help="another input device carrying the mix")
    add_set_option(doctor)
    doctor.set_defaults(func=run_doctor)


def _db(power: float) -> str:
    return f"{10 * math.log10(power):.0f} dBFS" if power > 1e-12 else "silent"


def run_doctor(args: argparse.Namespace) -> int:
    import numpy as np

    from djtui.core.audio import MicrophoneSource
    from djtui.core.echo_cancel import DESCRIPTIONS, EchoCanceller, ReferenceState

    if args.seconds <= 0:
        from djtui.core.errors import DjtuiError

        raise DjtuiError("--seconds must be above 0", "e.g. --seconds 8")
    config = config_for(args, audio={"input_device": args.device, "reference_channel": args.reference_channel,
                                     "reference_device": args.reference_device})
    audio = config.audio
    statuses: list[tuple[str, str]] = []
    source = MicrophoneSource(audio.input_device, reference_channel=audio.reference_channel,
                              reference_device=audio.reference_device,
                              on_status=lambda message, hint: statuses.append((message, hint)))
    canceller = EchoCanceller() if audio.has_reference else None
    print(f"microphone: {source.device_name} ({source.hostapi}, {source.device_rate} Hz)")
    if canceller is None:
        print("reference: none set: djtui hears the microphone as it is")
    else:
        clock = ("another device: two clocks, so less of the music is removed" if audio.reference_device
                 else "the microphone's own interface: one clock")
        print(f"reference: {source.reference} ({clock})")
    print(f"listening for {args.seconds:g} s (play music through the PA)…", flush=True)
    heard = {"mic": 0.0, "ref": 0.0, "out": 0.0, "blocks": 0, "ref_blocks": 0}
    erle = []
    started = time.monotonic()
    try:
        for microphone, reference in source.pairs():
            heard["mic"] += float(np.mean(microphone**2))
            heard["blocks"] += 1
            if canceller is not None:
                out = canceller.process(microphone, reference)
                heard["out"] += float(np.mean(out**2))
                if reference is not None:
                    heard["ref"] += float(np.mean(reference**2))
                    heard["ref_blocks"] += 1
                if canceller.erle_db is not None:
                    erle.append(canceller.erle_db)
            if time.monotonic() - started >= args.seconds:
                break
    finally:
        source.close()
    for message, hint in statuses:
        print(f"  {message}" + (f" → {hint}" if hint else ""))
    blocks = max(1, heard["blocks"])
    print(f"microphone level: {_db(heard['mic'] / blocks)}")
    if canceller is None:
        print("Next: to hear through the music, connect the mix to a second input of this interface (the "
              "mixer's REC or booth out into input 2) and set [audio] reference_channel = 2 (README, "
              "'Hearing through the music').")
        return 0
    print(f"reference level: {_db(heard['ref'] / heard['ref_blocks']) if heard['ref_blocks'] else 'no reference arrived'}")
    state = canceller.state
    message, hint = DESCRIPTIONS[state]
    match = canceller.match
    if state == ReferenceState.CANCELLING:
        removed = f"; removes {np.median(erle[-30:]):.0f} dB of it (ERLE, last second)" if erle else ""
        print(f"the reference carries the music the microphone hears: {canceller.delay_ms:.0f} ms ahead of it"
              f"{removed}")
        print("Next: nothing to fix. djtui removes the mix from the microphone before listening.")
        return 0
    print(f"the reference does not work: {message}")
    if match is not None and state in (ReferenceState.UNRELATED, ReferenceState.CHECKING):
        print(f"  best match {match.score:.1f} at {match.delay_ms:.0f} ms (a match scores 9 or more)")
    if state == ReferenceState.CHECKING:
        hint = "listen longer (--seconds 15) with music playing through the PA"
    print(f"Next: {hint}")
    return 1
