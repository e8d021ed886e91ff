"""``djtui bench hud``: does the HUD slow the pipeline? End-of-speech → MIDI latency of the
same clips, with the live HUD running and headless (the pipeline with ``djtui listen``'s
printer), alternating clip by clip in one process so both see the same machine load.

Latency is each :class:`~djtui.core.events.Outcome`'s ``said_to_done_ms``: from the end
of speech to the MIDI send returning (dry run: no port). Both sides share one
loaded ASR engine. The HUD side runs the full app (80×24, Textual's headless driver: every
widget laid out and rendered, only the terminal write is skipped) with the clip as its
microphone, played in real time so the meters refresh as they would on stage.
"""

from __future__ import annotations

import asyncio
import io
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from djtui.core.config import Config
from djtui.core.events import Event, Finished, Outcome
from djtui.tui.host import Host


@dataclass
class Latencies:
    headless_ms: list[float] = field(default_factory=list)
    hud_ms: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        from djtui.core.stats import percentile

        def stats(values: list[float]) -> dict[str, float]:
            return {"n": len(values), "p50_ms": round(percentile(values, 50), 1), "p95_ms": round(percentile(values, 95), 1),
                    "mean_ms": round(sum(values) / len(values), 1)}

        headless, hud = stats(self.headless_ms), stats(self.hud_ms)
        return {"headless": headless, "hud": hud,
                "ratio_p50": round(hud["p50_ms"] / headless["p50_ms"], 3),
                "ratio_mean": round(hud["mean_ms"] / headless["mean_ms"], 3)}


class _ClipHost(Host):
    """The clip as the microphone, the shared engine, no MIDI port, no session log, and
    no context model built in the background (it would train beside the measurement)."""

    background_builds = False

    def __init__(self, clip: Path, engine: Any, traces: list[float], finished: threading.Event) -> None:
        self.clip, self.engine, self.traces, self.finished = clip, engine, traces, finished

    def microphone(self, config: Config, on_status: Any = None) -> Any:
        return self.file_source(self.clip, realtime=True)

    def pipeline(self, config: Config) -> Any:
        pipeline = _pipeline(config, self.engine)
        pipeline.subscribe(lambda event: _collect(event, self.traces, self.finished))
        return pipeline


def _pipeline(config: Config, engine: Any) -> Any:
    from djtui.core.pipeline import Pipeline

    return Pipeline(config, engine=engine, dry_run=True, session_log=False)


def _collect(event: Event, traces: list[float], finished: threading.Event) -> None:
    match event:
        case Outcome():
            traces.append(event.said_to_done_ms)
        case Finished():
            finished.set()


def headless(clip: Path, config: Config, engine: Any) -> list[float]:
    """The clip through the pipeline with ``djtui listen``'s printer as the only subscriber."""
    from djtui.commands.listen import Printer
    from djtui.core.audio import FileSource

    traces: list[float] = []
    finished = threading.Event()
    pipeline = _pipeline(config, engine)
    pipeline.subscribe(Printer(io.StringIO(), io.StringIO()))
    pipeline.subscribe(lambda event: _collect(event, traces, finished))
    pipeline.start(FileSource(clip, realtime=True))
    finished.wait(600)
    pipeline.stop()
    return traces


def with_hud(clip: Path, config: Config, engine: Any) -> list[float]:
    """The clip through the pipeline started from the Live screen of the running app."""
    from djtui.tui.app import DjtuiApp

    traces: list[float] = []
    finished = threading.Event()

    async def run() -> None:
        app = DjtuiApp(config, host=_ClipHost(clip, engine, traces, finished))
        try:
            async with app.run_test(size=(80, 24)) as pilot:
                await pilot.press("l", "space")
                while not finished.is_set():
                    await pilot.pause(0.05)
                await pilot.pause(0.2)
        finally:
            app.session.stop()  # as djtui's own exit does: nothing left running into the next clip
            app.context_build.stop()

    asyncio.run(run())
    return traces


def measure(clips: list[Path], config: Config, engine: Any, rounds: int = 2) -> Latencies:
    """Each clip ``rounds`` times each way, alternating which side goes first."""
    result = Latencies()
    for round_number in range(rounds):
        for i, clip in enumerate(clips):
            order = [headless, with_hud] if (round_number + i) % 2 == 0 else [with_hud, headless]
            for run in order:
                (result.headless_ms if run is headless else result.hud_ms).extend(run(clip, config, engine))
    return result


def run(args: Any) -> int:
    import json
    import tempfile

    import soundfile as sf

    from djtui.bench.latency import synthesize_clips
    from djtui.commands._shared import config_for
    from djtui.core.audio import SAMPLE_RATE
    from djtui.core.errors import DjtuiError
    from djtui.core.stages import context_for, engine_for

    if args.clips < 1 or args.rounds < 1:
        raise DjtuiError("--clips and --rounds must be at least 1", "e.g. --clips 6 --rounds 2")
    config = config_for(args).updated({"audio": {"trigger": "always"}})
    context = context_for(config)
    engine = engine_for(config, context)
    engine.warm_up()
    with tempfile.TemporaryDirectory(prefix="djtui-bench-hud-") as scratch:
        clips = []
        for i, (_, speech) in enumerate(synthesize_clips(context, args.clips)):
            path = Path(scratch) / f"{i:02d}.wav"
            silence = np.zeros(int(0.5 * SAMPLE_RATE), np.float32)
            sf.write(path, np.concatenate([silence, speech, silence, silence]), SAMPLE_RATE)
            clips.append(path)
        result = measure(clips, config, engine, rounds=args.rounds).summary()
    if args.json:
        print(json.dumps(result))
    else:
        print(f"end of speech → MIDI, HUD vs headless: p50 {result['hud']['p50_ms']} vs {result['headless']['p50_ms']} ms "
              f"(ratio {result['ratio_p50']}), mean {result['hud']['mean_ms']} vs {result['headless']['mean_ms']} ms "
              f"(ratio {result['ratio_mean']}), n={result['hud']['n']}/{result['headless']['n']}")
    return 0
