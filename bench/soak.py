"""``djtui bench soak --minutes N``: a set's worth of commands over music, through a JACK
server, watching for what long runs break: commands not heard, audio dropped, memory
that grows.

A private JACK server with the dummy driver (:mod:`djtui.bench.jack`) carries the audio:
a player plays music (Debian's fretsonfire songs, or ``--music``) without a break, with a
spoken DJ command mixed in every ``--interval`` seconds at ``--snr`` dB (the benchmark's
peak-frame rule), into djtui's capture, where the live pipeline listens as on stage (dry
run: no MIDI port). The bench reports commands played and heard (an utterance started
while the command was playing), understood (the command sent was the one said), audio
lost (JACK's xruns and djtui's own overrun count), utterances dropped, and the process's
resident memory over time: its growth after the first minute (warm-up: models, caches)
to the end.

``--booth SEED`` plays the set in a simulated booth (:mod:`djtui.evaluation.booth`):
input 1 hears the music through that booth's PA and room, with its crowd and the
command; input 2 carries the clean music, the reference, as a mixer's REC out would. djtui
listens with ``[audio] reference_channel = 2``, so the echo canceller runs all along; the
bench adds the music it removed (ERLE, median over the set) and what the canceller said
of the reference.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from djtui.bench.music import SONGS, read_music, speech_gain

from djtui.core.audio import SAMPLE_RATE
from djtui.core.errors import DjtuiError
from djtui.core.events import Dropped, EchoLevels, Outcome, ReferenceStatus

LEAD_IN_S = 1.0
"""Music alone at the start of each interval, before the command."""
WARM_UP_S = 60.0
"""Memory is compared from here on: loading models and filling caches is not a leak."""


@dataclass
class Soak:
    """What happened: one entry per command played, and the memory samples."""

    played: list[tuple[float, float, tuple[str, dict[str, str]]]] = field(default_factory=list)
    """(start, end, (intent, slots)) of each command on the stream's clock."""
    outcomes: list[Outcome] = field(default_factory=list)
    dropped: int = 0
    rss: list[tuple[float, int]] = field(default_factory=list)
    """(seconds since the start, resident bytes)."""
    erle_db: list[float] = field(default_factory=list)
    """The echo canceller's ERLE, one a second (``--booth``)."""
    references: list[str] = field(default_factory=list)
    """Each state the echo canceller reported (``--booth``)."""

    def summary(self, minutes: float, xruns: int, overruns: int) -> dict[str, Any]:
        heard = understood = 0
        for start, end, said in self.played:
            during = [o for o in self.outcomes if start - 0.5 <= o.speech_s[0] <= end + 0.5]
            heard += bool(during)
            understood += any(o.sent and o.verdict.candidate is not None
                              and (o.verdict.candidate.intent, o.verdict.candidate.slots) == said for o in during)
        after_warm_up = [b for t, b in self.rss if t >= min(WARM_UP_S, minutes * 60 / 4)] or [b for _, b in self.rss]
        first, last = after_warm_up[0], after_warm_up[-1]
        return {
            "minutes": round(minutes, 2), "played": len(self.played), "heard": heard, "understood": understood,
            "utterances": len(self.outcomes), "dropped_utterances": self.dropped,
            "jack_xruns": xruns, "djtui_overruns": overruns,
            "rss_mb_after_warm_up": round(first / 2**20, 1), "rss_mb_end": round(last / 2**20, 1),
            "rss_mb_peak": round(max(b for _, b in self.rss) / 2**20, 1),
            "rss_growth_after_warm_up": round(last / first - 1, 4),
            "load_avg_1m": round(os.getloadavg()[0], 2),
            **({"erle_db_median": round(float(np.median(self.erle_db)), 1), "reference_states": {
                state: self.references.count(state) for state in dict.fromkeys(self.references)}}
               if self.references else {}),
        }


def _program(music: np.ndarray, clips: list[tuple[Any, np.ndarray]], interval_s: float, snr_db: float,
              index: int, booth: Any = None) -> tuple[np.ndarray, tuple[float, float], tuple[str, dict[str, str]]]:
    """Interval ``index``: music with the next command mixed in after the lead-in; the
    command's span in the interval, and what it says. In a ``booth``: frames × 2, the
    microphone (the music through the booth, its crowd, the command) and the reference."""
    length = int(interval_s * SAMPLE_RATE)
    start = (index * length) % max(1, music.size - length)
    bed = music[start:start + length].copy()
    sentence, speech = clips[index % len(clips)]
    if booth is not None:
        audio, said = _booth_program(booth, music, start, length, speech, snr_db, index)
        return audio, (LEAD_IN_S, LEAD_IN_S + said / SAMPLE_RATE), (sentence.intent, dict(sentence.slots))
    at = int(LEAD_IN_S * SAMPLE_RATE)
    speech = speech[: length - at - int(1.0 * SAMPLE_RATE)]  # the hang-over must fit before the next
    region = bed[at:at + speech.size]
    bed[at:at + speech.size] = region + speech * speech_gain(speech, region, snr_db)
    peak = float(np.max(np.abs(bed)))
    if peak > 1.0:
        bed /= peak
    return bed.astype(np.float32), (LEAD_IN_S, LEAD_IN_S + speech.size / SAMPLE_RATE), (sentence.intent, dict(sentence.slots))


def _booth_program(booth: Any, music: np.ndarray, start: int, length: int, speech: np.ndarray, snr_db: float,
                   index: int) -> tuple[np.ndarray, int]:
    """One interval in ``booth`` (frames × 2) and the command's length: the echo of the
    music from 1.5 s before the interval on (so the room's reverb and the delay carry
    over from the last one), the crowd, the command at ``snr_db`` over both; the clean
    music beside it. The PA's gain is the booth's, not the song's: loud passages are
    louder at the microphone."""
    from djtui.evaluation.booth import crowd, near_field

    gain = _BOOTH_GAIN.get(booth.seed)
    if gain is None:
        sample = music[: 20 * SAMPLE_RATE]
        gain = _BOOTH_GAIN[booth.seed] = 0.05 / max(1e-9, float(np.sqrt(np.mean(booth.echo(sample) ** 2))))
    before = min(start, int(1.5 * SAMPLE_RATE))
    echo = booth.echo(music[start - before:start + length])[before:] * gain
    babble = crowd(length, np.random.default_rng([booth.seed, index])) * 0.05 * 10 ** (booth.crowd_db / 20)
    microphone = echo + babble
    at = int(LEAD_IN_S * SAMPLE_RATE)
    said = near_field(speech[: length - at - int(1.0 * SAMPLE_RATE)], booth.seed)
    region = microphone[at:at + said.size]
    microphone[at:at + said.size] = region + said * speech_gain(said, region, snr_db)
    frames = np.stack([np.clip(microphone, -1, 1), music[start:start + length]], axis=1).astype(np.float32)
    return frames, said.size


_BOOTH_GAIN: dict[int, float] = {}


def soak(config: Any, minutes: float, interval_s: float, snr_db: float, music_paths: list[Path],
         clips: list[tuple[Any, np.ndarray]], booth: Any = None) -> dict[str, Any]:
    import psutil

    from djtui.bench.jack import Player, dummy_server, patch
    from djtui.core.audio import rescan_devices
    from djtui.core.pipeline import Pipeline
    from djtui.core.stages import microphone_for

    music = read_music(music_paths)
    process = psutil.Process()
    result = Soak()
    with dummy_server(prefix="djtui-soak") as server:
        rescan_devices()
        pipeline = Pipeline(config, dry_run=True, session_log=False)
        for channel in range(4):  # Rekordbox reports every deck paused: nothing waits for 'confirm'
            pipeline.deck_state.set("playing", channel, False, source="feedback")
        lock = threading.Lock()
        seen = [0]

        def collect(event: Any) -> None:
            with lock:
                if isinstance(event, Outcome):
                    result.outcomes.append(event)
                elif isinstance(event, Dropped) and event.what == "utterance":
                    result.dropped += event.count
                elif isinstance(event, ReferenceStatus):
                    result.references.append(event.state)
                elif isinstance(event, EchoLevels) and event.erle_db is not None:
                    seen[0] += 1
                    if seen[0] % 31 == 0:  # once a second
                        result.erle_db.append(event.erle_db)

        pipeline.subscribe(collect)
        audio = {"input_device": "system", "reference_channel": 2 if booth is not None else None}
        microphone = microphone_for(config.updated({"audio": audio}))
        player = Player("system", channels=2 if booth is not None else 1)
        try:
            patch()
            pipeline.start(microphone)
            began = time.monotonic()
            intervals = max(1, int(minutes * 60 / interval_s))
            for index in range(intervals):
                audio, (start, end), said = _program(music, clips, interval_s, snr_db, index, booth)
                while player.queued_s > 2 * interval_s:  # stay ahead of the stream, never far ahead
                    time.sleep(0.05)
                    _sample(result, process, began)
                offset = index * interval_s
                result.played.append((offset + start, offset + end, said))
                player.queue(audio)
                _sample(result, process, began)
            while player.queued_s > 0:
                time.sleep(0.1)
            time.sleep(config.vad.hangover_ms / 1000 + 2.0)  # the last command's endpoint and handling
            _sample(result, process, began)
            xruns, overruns = server.xruns(), microphone.overruns
        finally:
            pipeline.stop()
            player.close()
    return result.summary(minutes, xruns, overruns)


def _sample(result: Soak, process: Any, began: float) -> None:
    now = time.monotonic() - began
    if not result.rss or now - result.rss[-1][0] >= 10.0:
        result.rss.append((now, process.memory_info().rss))


def run(args: argparse.Namespace) -> int:
    from djtui.bench.latency import synthesize_clips
    from djtui.commands._shared import config_for, context_for

    if args.minutes <= 0 or args.interval < 4:
        raise DjtuiError("--minutes must be above 0 and --interval at least 4 s", "e.g. --minutes 60 --interval 6")
    config = config_for(args).updated({
        "audio": {"trigger": "always"},
        "safety": {"armed_at_start": True, "cooldown_ms": 0, "max_commands_per_minute": 100_000},
    })
    context = context_for(args, config)
    clips = synthesize_clips(context, args.commands)
    music = [Path(p) for p in args.music] if args.music else sorted(SONGS.glob("*/song.ogg"))
    booth = None
    if args.booth is not None:
        from djtui.core.echo_cancel import speexdsp
        from djtui.evaluation.booth import Booth

        speexdsp()  # a missing library fails before the models load
        booth = Booth.from_seed(args.booth)
    report = soak(config, args.minutes, args.interval, args.snr, music, clips, booth)
    if args.json:
        print(json.dumps(report))
    else:
        print(f"soak {report['minutes']} min: {report['played']} commands played over music at {args.snr:g} dB, "
              f"{report['heard']} heard, {report['understood']} understood; {report['utterances']} utterances, "
              f"{report['dropped_utterances']} dropped; audio lost: {report['jack_xruns']} JACK xruns, "
              f"{report['djtui_overruns']} djtui overruns; memory {report['rss_mb_after_warm_up']} → "
              f"{report['rss_mb_end']} MB after warm-up ({100 * report['rss_growth_after_warm_up']:+.1f} %), "
              f"peak {report['rss_mb_peak']} MB; load average {report['load_avg_1m']}")
        if booth is not None:
            print(f"{booth.describe()}: music removed {report.get('erle_db_median', '—')} dB (median ERLE); "
                  f"reference states {report.get('reference_states', {})}")
    return 0
