"""``djtui bench …``: speed measurements (:mod:`djtui.bench`). Benchmarks, not tests:
run them on a quiet machine and read medians; the machine is noisy. Each bench is
imported only when it runs, so ``djtui --help`` stays instant."""

from __future__ import annotations

import argparse

from djtui.commands._shared import add_context_option, add_set_option


def _resolve(args: argparse.Namespace) -> int:
    from djtui.bench import resolve

    return resolve.run(args)


def _latency(args: argparse.Namespace) -> int:
    from djtui.bench import latency

    return latency.run(args)


def _soak(args: argparse.Namespace) -> int:
    from djtui.bench import soak

    return soak.run(args)


def _echo(args: argparse.Namespace) -> int:
    from djtui.bench import echo

    return echo.run(args)


def _hud(args: argparse.Namespace) -> int:
    from djtui.bench import hud

    return hud.run(args)


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("bench", help="measure speed and endurance (resolve, latency, hud, soak, echo)")
    kinds = parser.add_subparsers(dest="bench", metavar="BENCH", required=True)

    resolve = kinds.add_parser("resolve", help="resolver latency on a fixed transcript set, DJ and coffee_maker contexts")
    resolve.add_argument("--json", action="store_true")
    resolve.add_argument("-n", type=int, default=200, help="transcripts per context (default 200)")
    resolve.add_argument("--context", action="append", metavar="FILE",
                         help="contexts to measure (default: the DJ context, and coffee_maker if found)")
    add_set_option(resolve)
    resolve.set_defaults(func=_resolve)

    latency = kinds.add_parser(
        "latency", help="end of speech to MIDI sent in the live pipeline, early finalisation on and off",
        description="Play synthesized DJ commands in real time into the live pipeline (VAD, glimpses, early "
                    "finalisation, safety, a MIDI send), twice: early finalisation on and off. Report end of "
                    "speech → MIDI and endpoint → MIDI (p50/p95), the share finalised early, CPU per command "
                    "and accuracy on the same clips. With --music: the commands over music as one continuous "
                    "stream (--snr, --interval), timed from the true end of their speech, with commands lost, "
                    "false triggers and CPU per second of stream; --hog runs it again beside a CPU hog.")
    latency.add_argument("--asr", choices=("whisper", "wav2vec2"), help="ASR engine (default: [asr] engine)")
    latency.add_argument("--model", metavar="PATH", help="ASR model (default: [asr] model)")
    latency.add_argument("--clips", type=int, default=30, metavar="N", help="spoken commands to time (default 30)")
    latency.add_argument("--threads", type=int, default=0, help="CPU threads for ASR (default: the config's, 0 = all)")
    latency.add_argument("--music", nargs="+", metavar="FILE",
                         help="play the commands into this music as one continuous stream, in real time, and time "
                              "them from the true end of their speech")
    latency.add_argument("--snr", type=float, help="with --music: command over music, dB, peak-frame rule (default 10)")
    latency.add_argument("--interval", type=float, default=4.0,
                         help="with --music: seconds from one command to the next (default 4)")
    latency.add_argument("--hog", action="store_true",
                         help="with --music: run again beside a CPU hog (a process spinning on one core)")
    add_context_option(latency, "context the commands come from")
    latency.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_set_option(latency)
    latency.set_defaults(func=_latency)

    soak = kinds.add_parser(
        "soak", help="commands over music through a private JACK server for N minutes: heard, audio lost, memory",
        description="Play music with a spoken command every --interval seconds into the live pipeline through a "
                    "private JACK server (dummy driver); report commands played, heard and understood, JACK xruns, "
                    "djtui's overruns, dropped utterances and memory over time.")
    soak.add_argument("--minutes", type=float, default=60.0, help="how long (default 60)")
    soak.add_argument("--interval", type=float, default=6.0, help="seconds between commands (default 6)")
    soak.add_argument("--snr", type=float, default=10.0, help="command over music, dB, peak-frame rule (default 10)")
    soak.add_argument("--commands", type=int, default=20, help="distinct spoken commands, played in turn (default 20)")
    soak.add_argument("--music", nargs="+", metavar="FILE", help="music to play (default: Debian's fretsonfire songs)")
    soak.add_argument("--booth", nargs="?", type=int, const=101, metavar="SEED",
                      help="play the set in a simulated booth (seed: default 101): the music through its PA and room "
                           "into input 1, the clean music into input 2 as the reference; the echo canceller runs")
    add_context_option(soak, "context the commands come from")
    soak.add_argument("--json", action="store_true", help="print JSON instead of a line")
    add_set_option(soak)
    soak.set_defaults(func=_soak)

    echo = kinds.add_parser(
        "echo", help="the echo canceller alone on simulated booths: convergence, ERLE, a +100 ms jump, the voice, CPU",
        description="Music through simulated booths (by seed; default: the README's report booths) into a fresh "
                    "echo canceller each: time to 20 dB, ERLE, a +100 ms jump of the delay at 15 s, the DJ's voice "
                    "during double talk, CPU per second of audio. --drift runs them again on two clocks.")
    echo.add_argument("--booth", nargs="+", type=int, metavar="SEED", help="booth seeds (default 101-108)")
    echo.add_argument("--drift", nargs="+", type=float, default=[0.0], metavar="PPM",
                      help="clock drift between microphone and reference, ppm (default 0: one clock)")
    echo.add_argument("--music", nargs="+", metavar="FILE", help="music (default: Debian's fretsonfire songs)")
    echo.add_argument("--json", action="store_true", help="print JSON instead of tables")
    echo.set_defaults(func=_echo)

    hud = kinds.add_parser("hud", help="end-of-speech-to-MIDI latency with the Live HUD drawing vs headless")
    hud.add_argument("--clips", type=int, default=6, metavar="N", help="spoken commands (default 6)")
    hud.add_argument("--rounds", type=int, default=2, help="times each clip is played each way (default 2)")
    hud.add_argument("--json", action="store_true", help="print JSON instead of a line")
    add_set_option(hud)
    hud.set_defaults(func=_hud)
