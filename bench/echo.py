"""``djtui bench echo``: the echo canceller alone on simulated booths, no speech
recognition: how fast it converges, how much music it removes, how it takes a +100 ms
jump of the delay, what it does to the DJ's voice, what it costs, and how two clocks
(``--drift``) degrade it.

Each booth (:class:`~djtui.evaluation.booth.Booth`, by seed; default: the README's
report booths, which nothing was tuned on) plays 25 s of music through a fresh canceller
(:func:`~djtui.evaluation.booth.convergence`): the delay jumps by 100 ms at 15 s; a
second run adds the DJ speaking from 9 s, 6 dB under the music, for the voice's change.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import numpy as np

from djtui.core.audio import SAMPLE_RATE


def run(args: argparse.Namespace) -> int:
    from djtui.core.echo_cancel import EchoCanceller, speexdsp
    from djtui.core.noise import NoiseBank
    from djtui.evaluation import booth as booth_
    from djtui.training import tts

    speexdsp()
    music = NoiseBank(args.music or [str(p) for p in sorted(booth_.SONGS.glob("*/song.ogg"))])
    voice = np.concatenate([tts.espeak(text) for text in ("loop eight on the left", "play deck two",
                                                          "kill the bass on the right")])
    rows: list[dict[str, Any]] = []
    for drift in args.drift:
        curves = []
        for seed in args.booth or booth_.REPORT_BOOTHS:
            booth = booth_.Booth.from_seed(seed, drift_ppm=drift)
            excerpt = music.excerpt(int(booth_.CONVERGENCE_S * SAMPLE_RATE), np.random.default_rng([seed, 0xEC0]))
            curves.append(booth_.convergence(booth, excerpt, voice))
        rows.extend({"drift_ppm": drift, **booth_.convergence_dict(c)} for c in curves)
        if not args.json:
            print(f"{'one clock' if not drift else f'two clocks, {drift:g} ppm apart'}:")
            print(booth_.convergence_markdown(curves))
            print(_summary(curves, EchoCanceller().latency_ms))
    if args.json:
        print(json.dumps(rows))
    return 0


def _summary(curves: list[Any], latency_ms: float) -> str:
    reached = [c.to_20_db_s for c in curves if c.to_20_db_s is not None]
    return (f"ERLE median {np.median([c.steady_db for c in curves]):.1f} dB (min {min(c.steady_db for c in curves):.1f}); "
            f"20 dB within {max(reached):.1f} s in {len(reached)} of {len(curves)} booths; "
            f"voice {min(c.speech_db for c in curves):+.1f} to {max(c.speech_db for c in curves):+.1f} dB; "
            f"CPU {max(c.cpu_percent for c in curves):.2f} % of a core at most; latency {latency_ms:.0f} ms\n"
            if reached else "never reached 20 dB\n")
