"""``djtui bench latency --music FILE --snr DB``: said → done on stage, where the music
never stops.

The bench's spoken commands are mixed into one continuous stream of music, a command
every ``--interval`` seconds at ``--snr`` dB (the benchmark's peak-frame rule), and the
stream is played in real time into the live :class:`~djtui.core.pipeline.Pipeline`: no
silence between commands, so the VAD must find the end of speech inside the music. Each
block is handed over when a microphone would have delivered it (its last sample heard).

Said → done is measured from the true end of each command's speech, known from the clean
clip (its last frame within 40 dB of its loudest), to the moment its
:class:`~djtui.core.events.Outcome` is published (the MIDI send returned): what the DJ
feels, whatever the VAD and the endpointer decided. The bench also reports the share
finalised early, commands lost (said, nothing sent), wrong (another command sent while
it was said), false triggers (a command sent while nobody spoke), how late the VAD
closed the speech, and the CPU this process spent per second of stream.

``--hog`` starts a CPU hog beside the bench, at normal priority (a process that spins
on one core, as Rekordbox's decoding would), for the whole run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from djtui.core.audio import BLOCK, SAMPLE_RATE
from djtui.core.errors import DjtuiError
from djtui.core.events import Outcome
from djtui.core.stats import percentile

SONGS = Path("/usr/share/games/fretsonfire/data/songs/muldjord")
"""Debian's fretsonfire-songs-muldjord: the music the benches play by default."""

LEAD_IN_S = 1.0
"""Music alone before the first command (and after the last: its hang-over must pass)."""
SPEECH_FLOOR_DB = 40.0
"""A clip's speech ends at its last 10 ms frame within this many dB of its loudest."""
MATCH_S = 0.5
"""An outcome belongs to a command when its speech overlaps the command's, give or take this."""


def read_music(paths: list[Path]) -> np.ndarray:
    """The songs at ``paths``, one after the other, at the model's rate."""
    from djtui.core.audio import read_audio

    tracks = [read_audio(p) for p in paths]
    if not tracks:
        raise DjtuiError("no music to play", f"install Debian's fretsonfire-songs-muldjord ({SONGS}) or give --music")
    return np.concatenate(tracks)


def speech_gain(speech: np.ndarray, music: np.ndarray, snr_db: float) -> float:
    """The factor that puts ``speech`` ``snr_db`` above ``music`` by the peak-frame rule."""
    from djtui.core.noise import peak_frame_energy

    music_energy, speech_energy = peak_frame_energy(music), peak_frame_energy(speech)
    if speech_energy <= 0.0:
        return 1.0
    return float(np.sqrt(music_energy * 10 ** (snr_db / 10) / speech_energy)) if music_energy > 0 else 1.0


def speech_span(clip: np.ndarray) -> tuple[float, float]:
    """Seconds into ``clip`` where its speech starts and ends (:data:`SPEECH_FLOOR_DB`)."""
    frame = SAMPLE_RATE // 100
    n = max(1, clip.size // frame)
    energy = np.square(clip[: n * frame].astype(np.float64)).reshape(n, -1).mean(axis=1) if clip.size >= frame \
        else np.array([float(np.mean(np.square(clip)))])
    loud = np.flatnonzero(energy >= energy.max() * 10 ** (-SPEECH_FLOOR_DB / 10))
    return float(loud[0] * frame / SAMPLE_RATE), float((loud[-1] + 1) * frame / SAMPLE_RATE)


@dataclass(frozen=True)
class Program:
    """The stream to play: ``audio``, and for each command its speech's ``(start, end)``
    in seconds on the stream's clock and what it says, ``(intent, slots)``."""

    audio: np.ndarray
    spans: list[tuple[float, float]]
    said: list[tuple[str, dict[str, str]]]


def program(music: np.ndarray, clips: list[tuple[Any, np.ndarray]], interval_s: float, snr_db: float) -> Program:
    """``clips`` (``(sentence, speech)``) over ``music`` (looped as needed), one every
    ``interval_s`` seconds after :data:`LEAD_IN_S`, each at ``snr_db`` over the music
    under it."""

    step = int(interval_s * SAMPLE_RATE)
    length = int(2 * LEAD_IN_S * SAMPLE_RATE) + step * len(clips)
    bed = np.resize(music.astype(np.float32), length)  # repeats the music to the length
    spans, said = [], []
    for index, (sentence, speech) in enumerate(clips):
        at = int(LEAD_IN_S * SAMPLE_RATE) + index * step
        speech = speech[: step - int(0.5 * SAMPLE_RATE)]  # the next command never starts inside this one
        region = bed[at:at + speech.size]
        bed[at:at + speech.size] = region + speech * speech_gain(speech, region, snr_db)
        start, end = speech_span(speech)
        spans.append((at / SAMPLE_RATE + start, at / SAMPLE_RATE + end))
        said.append((sentence.intent, dict(sentence.slots)))
    peak = float(np.max(np.abs(bed)))
    return Program(bed / peak if peak > 1.0 else bed, spans, said)


class LiveStream:
    """An :class:`~djtui.core.audio.AudioSource` that plays ``audio`` in real time: each
    block when its last sample would have reached a microphone. :attr:`started` is the
    ``perf_counter`` of the stream's first sample."""

    def __init__(self, audio: np.ndarray, block: int = BLOCK) -> None:
        self.audio = audio
        self.block = block
        self.started = 0.0
        self._closed = threading.Event()

    def blocks(self) -> Iterator[np.ndarray]:
        block_s = self.block / SAMPLE_RATE
        self.started = time.perf_counter()
        for emitted, at in enumerate(range(0, len(self.audio) - self.block + 1, self.block)):
            if self._closed.is_set():
                return
            delay = self.started + (emitted + 1) * block_s - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            yield self.audio[at:at + self.block]

    def wall_time(self, stream_s: float) -> float:
        """The ``perf_counter`` at which the stream reached ``stream_s`` seconds."""
        return self.started + stream_s

    def close(self) -> None:
        self._closed.set()


@contextmanager
def cpu_hog(enabled: bool = True) -> Iterator[None]:
    """A process spinning on one core at normal priority for the ``with`` block."""
    if not enabled:
        yield
        return
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"], stdin=subprocess.DEVNULL)
    try:
        yield
    finally:
        hog.kill()
        hog.wait(timeout=10)


@dataclass
class MusicRun:
    """One pass over the stream: what was sent, when, against what was said."""

    early_finalize: bool
    hog: bool
    outcomes: list[tuple[float, Outcome]] = field(default_factory=list)
    """Each outcome with the ``perf_counter`` at which it was published."""
    cpu_s: float = 0.0
    stream_s: float = 0.0
    load_avg: float = 0.0

    def summary(self, played: Program, stream: LiveStream) -> dict[str, Any]:
        said_to_done, vad_late, lost, wrong, early, right = [], [], 0, 0, 0, 0
        claimed: set[int] = set()
        for (start, end), said in zip(played.spans, played.said):
            during = [(n, at, o) for n, (at, o) in enumerate(self.outcomes)
                      if o.speech_s[0] <= end + MATCH_S and o.speech_s[1] >= start - MATCH_S]
            claimed.update(n for n, _, _ in during)
            sent = [(at, o) for _, at, o in during if o.sent]
            hit = [(at, o) for at, o in sent if o.verdict.candidate is not None
                   and (o.verdict.candidate.intent, o.verdict.candidate.slots) == said]
            if hit:
                at, outcome = hit[0]
                right += 1
                early += outcome.early
                said_to_done.append((at - stream.wall_time(end)) * 1000)
                vad_late.append((outcome.speech_s[1] - end) * 1000)
            elif sent:
                wrong += 1
            else:
                lost += 1
        false = sum(1 for n, (_, o) in enumerate(self.outcomes) if n not in claimed and o.sent)
        commands = len(played.spans)
        return {
            "early_finalize": self.early_finalize, "hog": self.hog, "commands": commands, "right": right,
            "wrong": wrong, "lost": lost, "false_triggers": false, "utterances": len(self.outcomes),
            "finalised_early": early,
            "said_to_done": _p50_p95(said_to_done),
            "vad_end_late": _p50_p95(vad_late),
            "stream_s": round(self.stream_s, 1), "cpu_s": round(self.cpu_s, 2),
            "cpu_per_stream_s": round(self.cpu_s / self.stream_s, 3) if self.stream_s else None,
            "load_avg_1m": round(self.load_avg, 2),
        }


def _p50_p95(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50_ms": None, "p95_ms": None}
    return {"p50_ms": round(percentile(values, 50), 1), "p95_ms": round(percentile(values, 95), 1)}


def measure(engine: Any, played: Program, context: Any, config: Any, midi_out: Any, hog: bool) -> dict[str, Any]:
    """Play ``played`` once into a live pipeline built from ``config``; its summary."""
    from djtui.core.pipeline import Pipeline

    pipeline = Pipeline(config, context=context, engine=engine, midi_out=midi_out, dry_run=midi_out is None,
                        session_log=False)
    for channel in range(4):  # Rekordbox reports every deck paused: nothing waits for 'confirm'
        pipeline.deck_state.set("playing", channel, False, source="feedback")
    run = MusicRun(config.vad.early_finalize, hog)
    lock = threading.Lock()

    def on_event(event: Any) -> None:
        if isinstance(event, Outcome):
            with lock:
                run.outcomes.append((time.perf_counter(), event))

    pipeline.subscribe(on_event)
    stream = LiveStream(played.audio)
    with cpu_hog(hog):
        cpu = time.process_time()
        try:
            pipeline.start(stream)
            pipeline.wait(timeout=played.audio.size / SAMPLE_RATE + 120)
        finally:
            pipeline.stop()
        run.cpu_s = time.process_time() - cpu
        run.load_avg = os.getloadavg()[0]
    run.stream_s = played.audio.size / SAMPLE_RATE
    return run.summary(played, stream)
