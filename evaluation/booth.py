"""A DJ booth, simulated: how the mix reaches the microphone, for the echo canceller's
evaluation (``djtui eval --booth``, ``djtui bench soak --booth``).

What the microphone hears in a booth, and the reference djtui cancels it with::

    reference = the mix, clean (what the mixer's REC out or Rekordbox's loopback carries)
    mic       = delay(room ⊛ PA(reference))      the music, through the PA and the room
              + crowd                            people talking: NOT in the reference
              + speech                           the DJ, near the microphone

Everything about a booth comes from its seed (:meth:`Booth.from_seed`): the room
(a pyroomacoustics shoebox, 8-20 m long, RT60 0.3-0.9 s, the DJ 2-6 m from the PA),
the PA's limiter (a ``tanh`` soft clip with an even-order term for a driver's asymmetry,
from none to hard), the bulk delay (10-250 ms: the PA's DSP, the interface's buffers)
and the crowd's level (12-18 dB under the music). The SNR is measured at the
microphone the way ``djtui eval`` measures it (the benchmark's peak-frame rule), speech
against everything else the microphone hears (music and crowd).

Reporting on booths that nothing was tuned on is the caller's part: djtui's constants
were chosen on :data:`TUNING_BOOTHS`; the README's table is on :data:`REPORT_BOOTHS`.
"""

from __future__ import annotations

import functools
import math
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from djtui.core.audio import SAMPLE_RATE
from djtui.core.noise import peak_frame_energy, rms

if TYPE_CHECKING:
    from djtui.core.echo_cancel import EchoCanceller
    from djtui.core.noise import NoiseBank
    from djtui.evaluation.labels import Label
    from djtui.evaluation.trials import Hears, Trial

SONGS = Path("/usr/share/games/fretsonfire/data/songs/muldjord")
"""The music a booth plays unless told otherwise (Debian's fretsonfire-songs-muldjord)."""
TUNING_BOOTHS = tuple(range(1, 9))
"""The seeds djtui's echo-cancelling constants were chosen on."""
REPORT_BOOTHS = tuple(range(101, 109))
"""The seeds the README reports on: never used to choose anything."""
LEAD_IN_S = 6.0
"""Music the canceller hears before each command, as it would have all set long."""
CROWD_LINES = (
    ("en-us+m3", "where is the bar I want another drink before the next set"),
    ("en+f3", "this track is amazing turn it up I love this part"),
    ("en-us+m1", "did you see the lights they were crazy last weekend"),
    ("en-gb+f2", "let's go to the front my friends are already dancing there"),
    ("de+m2", "das ist wirklich laut heute abend komm wir tanzen"),
    ("fr+f4", "on y va la musique est trop bien ce soir"),
    ("es+m4", "vamos a bailar esta canción me encanta"),
    ("en+m5", "hey hey one more tune one more tune"),
)
"""What the crowd says (espeak-ng voices: several talkers, some not in English)."""
VARIANTS = ("as it is", "cancelled", "ceiling")
"""The microphone as it is; cleaned by the echo canceller; with the music removed
perfectly (speech and crowd left): the best any canceller could do."""


@dataclass(frozen=True)
class Booth:
    """One simulated booth (see the module); :meth:`from_seed` chooses every value."""

    seed: int
    room_m: tuple[float, float, float]
    rt60_s: float
    distance_m: float
    """From the PA to the DJ's microphone."""
    pa_drive: float
    """The limiter's drive: 0 is a clean PA, 3.5 a PA clipping hard."""
    delay_ms: float
    crowd_db: float
    """The crowd's level against the music at the microphone (RMS)."""
    drift_ppm: float = 0.0
    """The microphone's clock against the reference's (two interfaces); 0 for one."""

    @classmethod
    def from_seed(cls, seed: int, drift_ppm: float = 0.0) -> Booth:
        rng = np.random.default_rng([seed, 0xB007])
        room = (float(rng.uniform(8, 20)), float(rng.uniform(6, 14)), float(rng.uniform(3, 6)))
        return cls(seed=seed, room_m=room, rt60_s=float(rng.uniform(0.3, 0.9)),
                   distance_m=float(rng.uniform(2.0, min(6.0, room[0] - 2.0))),
                   pa_drive=float(rng.choice([0.0, rng.uniform(1.0, 3.5)], p=[0.2, 0.8])),
                   delay_ms=float(rng.uniform(10, 250)), crowd_db=float(rng.uniform(-18, -12)), drift_ppm=drift_ppm)

    def describe(self) -> str:
        x, y, z = self.room_m
        drive = f"limiter drive {self.pa_drive:.1f}" if self.pa_drive else "clean PA"
        drift = f", {self.drift_ppm:g} ppm drift" if self.drift_ppm else ""
        return (f"booth {self.seed}: {x:.0f}×{y:.0f}×{z:.0f} m, RT60 {self.rt60_s:.2f} s, PA {self.distance_m:.1f} m "
                f"away, {drive}, delay {self.delay_ms:.0f} ms, crowd {self.crowd_db:.0f} dB{drift}")

    @property
    def room_response(self) -> np.ndarray:
        """PA to microphone, with the propagation delay (the bulk delay comes on top)."""
        return _room_response(self.room_m, self.rt60_s, self.distance_m, self.seed)

    def pa(self, music: np.ndarray) -> np.ndarray:
        """The PA's limiter: unity at full scale, peaks compressed, a little asymmetry."""
        if self.pa_drive <= 0:
            return music.astype(np.float32)
        y = np.tanh(self.pa_drive * music) / math.tanh(self.pa_drive)
        return (y + 0.05 * self.pa_drive / 3.5 * (y**2 - np.mean(y**2))).astype(np.float32)

    def echo(self, music: np.ndarray, jump_at_s: float | None = None, jump_ms: float = 100.0) -> np.ndarray:
        """What of ``music`` reaches the microphone (as long as it; not yet levelled).
        ``jump_at_s``: the delay grows by ``jump_ms`` from there on."""
        played = _convolve(self.pa(music), self.room_response)[: len(music)]
        delay = int(self.delay_ms * SAMPLE_RATE / 1000)
        echo = _delayed(played, delay)
        if jump_at_s is not None:
            at = int(jump_at_s * SAMPLE_RATE)
            echo[at:] = _delayed(played, delay + int(jump_ms * SAMPLE_RATE / 1000))[at:]
        if self.drift_ppm:
            import soxr

            stretched = soxr.resample(echo, SAMPLE_RATE, SAMPLE_RATE * (1 + self.drift_ppm * 1e-6))[: len(echo)]
            echo = np.pad(stretched, (0, len(echo) - len(stretched)))
        return echo.astype(np.float32)


@functools.lru_cache(maxsize=64)
def _room_response(room_m: tuple[float, float, float], rt60_s: float, distance_m: float, seed: int) -> np.ndarray:
    import pyroomacoustics as pra

    rng = np.random.default_rng([seed, 0x5EED])
    absorption, order = pra.inverse_sabine(rt60_s, list(room_m))
    room = pra.ShoeBox(list(room_m), fs=SAMPLE_RATE, materials=pra.Material(absorption), max_order=min(order, 30),
                       air_absorption=True)
    x, y, _ = room_m
    pa = [1.0, y / 2 + rng.uniform(-1, 1), 2.5]
    mic = [1.0 + distance_m, min(y - 0.5, max(0.5, pa[1] + rng.uniform(-1.5, 1.5))), 1.4]
    room.add_source(pa)
    room.add_microphone(mic)
    room.compute_rir()
    response = np.asarray(room.rir[0][0], dtype=np.float64)[: int(SAMPLE_RATE * min(1.5 * rt60_s, 1.2))]
    return (response / np.max(np.abs(response))).astype(np.float32)


def _convolve(x: np.ndarray, h: np.ndarray) -> np.ndarray:
    n = len(x) + len(h) - 1
    size = 1 << (n - 1).bit_length()
    return np.fft.irfft(np.fft.rfft(x, size) * np.fft.rfft(h, size), size)[:n].astype(np.float32)


def _delayed(x: np.ndarray, samples: int) -> np.ndarray:
    return np.concatenate([np.zeros(samples, dtype=np.float32), x[: len(x) - samples]]).astype(np.float32)


def near_field(speech: np.ndarray, seed: int) -> np.ndarray:
    """The DJ's voice a hand's width from the microphone: the direct sound and a little
    of the booth (a short diffuse tail ~22 dB under it)."""
    rng = np.random.default_rng([seed, 0x5BEE])
    t = np.arange(int(0.25 * SAMPLE_RATE)) / SAMPLE_RATE
    tail = rng.standard_normal(len(t)) * np.exp(-6.9 * t / 0.25)
    tail[: int(0.003 * SAMPLE_RATE)] = 0.0
    tail *= 0.08 / max(1e-9, float(np.sqrt(np.sum(tail**2))))
    return (speech + _convolve(speech, tail.astype(np.float32))[: len(speech)]).astype(np.float32)


@functools.lru_cache(maxsize=1)
def _crowd_voices() -> tuple[np.ndarray, ...]:
    from djtui.training import tts

    return tuple(tts.espeak(text, voice=voice) for voice, text in CROWD_LINES)


def crowd(samples: int, rng: np.random.Generator) -> np.ndarray:
    """Babble of the :data:`CROWD_LINES` talkers, each looping with pauses, through a
    diffuse room (RMS 1)."""
    out = np.zeros(samples, dtype=np.float32)
    for voice in _crowd_voices():
        voice = voice / max(1e-9, rms(voice))
        at = -int(rng.integers(0, len(voice)))  # mid-sentence at the start
        while at < samples:
            start, end = max(0, at), min(samples, at + len(voice))
            out[start:end] += voice[start - at:end - at] * float(rng.uniform(0.5, 1.0))
            at += len(voice) + int(rng.uniform(0.3, 2.0) * SAMPLE_RATE)
    t = np.arange(int(0.5 * SAMPLE_RATE)) / SAMPLE_RATE
    diffuse = rng.standard_normal(len(t)) * np.exp(-6.9 * t / 0.5)
    diffuse[0] = 3.0
    out = _convolve(out, diffuse.astype(np.float32))[:samples]
    return (out / max(1e-9, rms(out))).astype(np.float32)


@dataclass(frozen=True)
class Scene:
    """One command in a booth: the microphone, the reference, and the parts the
    microphone is the sum of (for the ceiling and for ERLE)."""

    mic: np.ndarray
    reference: np.ndarray
    echo: np.ndarray
    crowd: np.ndarray
    speech: np.ndarray
    start: int
    """Where the command's clip begins (after :data:`LEAD_IN_S` of music)."""

    @property
    def ceiling(self) -> np.ndarray:
        """The microphone with the music removed perfectly (the crowd left in)."""
        return self.crowd + self.speech


def scene(booth: Booth, speech: np.ndarray, music: np.ndarray, snr_db: float, rng: np.random.Generator,
          lead_in_s: float = LEAD_IN_S) -> Scene:
    """``speech`` said in ``booth`` over ``music`` (at least :data:`LEAD_IN_S` longer
    than it), at ``snr_db`` by the peak-frame rule at the microphone."""
    start = int(lead_in_s * SAMPLE_RATE)
    n = start + len(speech)
    reference = np.ascontiguousarray(music[:n], dtype=np.float32)
    echo = booth.echo(reference)
    echo *= 1.0 / max(1e-9, rms(echo))
    babble = crowd(n, rng) * 10 ** (booth.crowd_db / 20)
    voice = np.zeros(n, dtype=np.float32)
    voice[start:] = near_field(speech, booth.seed)
    # the music and the crowd together, against the speech, where the command is
    noise = (echo + babble)[start:]
    gain = math.sqrt(peak_frame_energy(voice[start:]) / (peak_frame_energy(noise) * 10 ** (snr_db / 10)))
    echo, babble = echo * gain, babble * gain
    mic = voice + echo + babble
    peak = float(np.max(np.abs(mic)))
    scale = 0.9 / peak if peak > 0.9 else 1.0  # an input that clips is a set-up error, not a booth
    reference *= 0.5 / max(1e-9, float(np.max(np.abs(reference))))
    return Scene(mic * scale, reference, echo * scale, babble * scale, voice * scale, start)


def booth_for(booths: Sequence[Booth], name: str) -> Booth:
    """Which of ``booths`` a labelled file is said in (by a hash of its name)."""
    return booths[zlib.crc32(name.encode()) % len(booths)]


# --- the evaluation --------------------------------------------------------------------


@dataclass
class BoothRun:
    """What ``djtui eval --booth`` measured: trials per variant (:data:`VARIANTS`),
    the echo removed per trial, and the canceller's cost."""

    booths: list[Booth]
    trials: dict[str, list[Trial]] = field(default_factory=lambda: {v: [] for v in VARIANTS})
    erle_db: list[tuple[str, str, float]] = field(default_factory=list)
    """(file, condition, dB of music removed over the lead-in's last 3 s)."""
    cpu_s: float = 0.0
    audio_s: float = 0.0
    latency_ms: float = 0.0


def run_booth_trials(listener: Hears, labels: Sequence[Label], snrs: Sequence[float], booths: Sequence[Booth],
                     music: NoiseBank, seed: int = 0,
                     canceller: Callable[[], EchoCanceller] | None = None,
                     on_trial: Callable[[str, Trial], None] | None = None) -> BoothRun:
    """Each labelled file said in its booth (:func:`booth_for`) at each SNR, heard three
    ways (:data:`VARIANTS`) by the same listener. The canceller (a fresh one per file
    and SNR) hears the lead-in and the command; the listener the command's clip alone,
    as in a plain ``djtui eval``."""
    from djtui.core.audio import read_audio
    from djtui.core.echo_cancel import EchoCanceller, cancel_echo
    from djtui.evaluation.trials import format_snr, hear, judge_trial, trial_rng

    make = canceller or EchoCanceller
    run = BoothRun(list(booths))
    for label in labels:
        speech = read_audio(label.path)
        name = label.path.name
        booth = booth_for(booths, name)
        for snr in snrs:
            condition = format_snr(snr)
            rng = trial_rng(seed, name, f"booth {condition}")
            music_part = music.excerpt(int(LEAD_IN_S * SAMPLE_RATE) + len(speech), rng)
            heard = scene(booth, speech, music_part, snr, rng)
            cleaner = make()
            cleaned = cancel_echo(heard.mic, heard.reference, cleaner)
            run.cpu_s += cleaner.cpu_s
            run.audio_s += len(heard.mic) / SAMPLE_RATE
            run.latency_ms = cleaner.latency_ms
            echo_only = cancel_echo(heard.echo, heard.reference, make())
            steady = slice(heard.start - 3 * SAMPLE_RATE, heard.start)
            run.erle_db.append((name, condition, erle_db(heard.echo[steady], echo_only[steady])))
            for variant, audio in zip(VARIANTS, (heard.mic, cleaned, heard.ceiling)):
                trial = judge_trial(label, condition, hear(listener, audio[heard.start:]))
                run.trials[variant].append(trial)
                if on_trial:
                    on_trial(variant, trial)
    return run


def erle_db(echo: np.ndarray, out: np.ndarray) -> float:
    """Echo return loss enhancement: the echo's power over what is left of it, dB."""
    left = float(np.mean(np.square(out, dtype=np.float64)))
    return 10 * math.log10(float(np.mean(np.square(echo, dtype=np.float64))) / left) if left > 0 else math.inf


# --- convergence, jumps, cost ------------------------------------------------------------


@dataclass(frozen=True)
class Convergence:
    """One booth's music alone through a fresh canceller: when it reached 20 dB, how
    much it removes once there, and how it takes a +100 ms jump of the delay."""

    booth: Booth
    to_20_db_s: float | None
    """First moment from which every half second stays at 20 dB or more until the
    jump (``None``: never)."""
    steady_db: float
    """ERLE over the last 5 s before the jump."""
    after_jump_s: float | None
    """The same rule as :attr:`to_20_db_s`, from the jump."""
    after_jump_db: float
    """ERLE over the last 5 s."""
    speech_db: float
    """How much the DJ's voice changed through the canceller during double talk
    (commands over the music): the output's speech over the microphone's, dB."""
    cpu_percent: float
    """One core's processor time per second of audio, in %."""
    curve: list[float]
    """ERLE per half second."""


JUMP_AT_S = 15.0
CONVERGENCE_S = 25.0


def convergence(booth: Booth, music: np.ndarray, speech: np.ndarray, canceller: Callable[[], Any] | None = None) -> Convergence:
    """Run ``music`` (at least :data:`CONVERGENCE_S` long) through ``booth`` with the
    delay jumping by 100 ms at :data:`JUMP_AT_S`, twice: alone, and with ``speech``
    (the DJ) said from 9 s at 6 dB under the music (RMS) for the voice's change."""
    from djtui.core.echo_cancel import EchoCanceller, cancel_echo

    make = canceller or EchoCanceller
    n = int(CONVERGENCE_S * SAMPLE_RATE)
    reference = np.ascontiguousarray(music[:n], dtype=np.float32)
    reference *= 0.5 / max(1e-9, float(np.max(np.abs(reference))))
    echo = booth.echo(reference, jump_at_s=JUMP_AT_S)
    echo *= 0.1 / max(1e-9, rms(echo))
    cleaner = make()
    out = cancel_echo(echo, reference, cleaner)
    cpu = 100 * cleaner.cpu_s / (n / SAMPLE_RATE)
    half = SAMPLE_RATE // 2
    curve = [erle_db(echo[i:i + half], out[i:i + half]) for i in range(0, n - half + 1, half)]

    def reached(start_s: float, end_s: float) -> float | None:
        windows = curve[int(start_s * 2):int(end_s * 2)]
        for k in range(len(windows)):
            if all(v >= 20.0 for v in windows[k:]):
                return (k + 1) / 2
        return None

    jump = int(JUMP_AT_S * SAMPLE_RATE)
    voice = np.zeros(n, dtype=np.float32)
    at = 9 * SAMPLE_RATE
    said = near_field(speech[: min(len(speech), jump - at)], booth.seed)
    voice[at:at + len(said)] = said
    active = slice(at, at + len(said))
    voice *= rms(echo[active]) * 10 ** (-6 / 20) / max(1e-9, rms(voice[active]))
    with_voice = cancel_echo(echo + voice, reference, make())
    lag = int(round(cleaner.latency_ms * SAMPLE_RATE / 1000))
    kept = (with_voice - out)[active.start + lag:active.stop + lag]
    frames = _loud_frames(voice[active])
    speech_db = 10 * math.log10(max(1e-20, float(np.mean(kept[: len(frames)][frames] ** 2)))
                                / max(1e-20, float(np.mean(voice[active][frames] ** 2))))
    return Convergence(booth, reached(0, JUMP_AT_S), erle_db(echo[jump - 5 * SAMPLE_RATE:jump], out[jump - 5 * SAMPLE_RATE:jump]),
                       reached(JUMP_AT_S, CONVERGENCE_S), erle_db(echo[-5 * SAMPLE_RATE:], out[-5 * SAMPLE_RATE:]),
                       speech_db, cpu, curve)


def _loud_frames(speech: np.ndarray, frame: int = 512, floor_db: float = 30.0) -> np.ndarray:
    """Samples of the 32 ms frames within ``floor_db`` of the loudest (where it speaks)."""
    n = len(speech) // frame * frame
    energy = np.mean(speech[:n].reshape(-1, frame) ** 2, axis=1)
    loud = energy > energy.max() * 10 ** (-floor_db / 10)
    return np.concatenate([np.repeat(loud, frame), np.zeros(len(speech) - n, dtype=bool)])


# --- the report ----------------------------------------------------------------------------


def _rates(trials: Sequence[Trial]) -> dict[str, Any]:
    commands = [t for t in trials if t.expected_intent is not None]
    chatter = [t for t in trials if t.expected_intent is None]
    n = len(commands)
    understood = sum(t.outcome == "understood" for t in commands)
    wrong = sum(t.outcome == "misunderstood" for t in commands)
    return {
        "n": n,
        "accepted": round(understood / n, 4) if n else None,
        "top1": round(sum(t.best_correct for t in commands) / n, 4) if n else None,
        "misunderstood": wrong,
        "misunderstood_rate": round(wrong / n, 4) if n else None,
        "chatter": len(chatter),
        "chatter_accepted": sum(t.outcome == "false accept" for t in chatter),
    }


def summarize(run: BoothRun) -> dict[str, Any]:
    """Per SNR, each variant's commands accepted (right and accepted), top-1 and
    misunderstood, chatter accepted, the share of the way from "as it is" to the ceiling
    the canceller went, and the music removed; then the canceller's cost."""
    conditions = sorted({t.condition for t in run.trials[VARIANTS[0]]}, key=float)
    rows = []
    for condition in conditions:
        row: dict[str, Any] = {"snr_db": float(condition)}
        for variant in VARIANTS:
            row[variant] = _rates([t for t in run.trials[variant] if t.condition == condition])
        low, got, high = (row[v]["accepted"] for v in VARIANTS)
        row["share_of_the_way"] = (round((got - low) / (high - low), 3)
                                   if None not in (low, high, got) and high != low else None)
        erle = sorted(e for _, c, e in run.erle_db if c == condition)
        row["erle_db_median"] = round(float(np.median(erle)), 1) if erle else None
        row["erle_db_min"] = round(erle[0], 1) if erle else None
        rows.append(row)
    return {
        "booths": [b.describe() for b in run.booths],
        "rows": rows,
        "cpu_percent_of_a_core": round(100 * run.cpu_s / run.audio_s, 2) if run.audio_s else None,
        "latency_ms": run.latency_ms,
    }


def to_markdown(summary: dict[str, Any]) -> str:
    """The before/after table, one row per SNR and variant."""
    from djtui.evaluation.report import percent

    lines = ["| SNR | microphone | accepted | top-1 | misunderstood | chatter accepted | music removed (median, min) |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for row in summary["rows"]:
        for variant in VARIANTS:
            r = row[variant]
            removed = (f"{row['erle_db_median']:.1f} dB, {row['erle_db_min']:.1f} dB"
                       if variant == "cancelled" and row["erle_db_median"] is not None else "")
            way = (f" ({100 * row['share_of_the_way']:.0f} % of the way)"
                   if variant == "cancelled" and row["share_of_the_way"] is not None else "")
            lines.append(f"| {row['snr_db']:g} dB | {variant} | {percent(r['accepted'])}{way} | {percent(r['top1'])} | "
                         f"{r['misunderstood']} of {r['n']} | {r['chatter_accepted']} of {r['chatter']} | {removed} |")
    return "\n".join(lines)


def convergence_dict(c: Convergence) -> dict[str, Any]:
    return {"booth": c.booth.seed, "to_20_db_s": c.to_20_db_s, "steady_db": round(c.steady_db, 1),
            "after_jump_s": c.after_jump_s, "after_jump_db": round(c.after_jump_db, 1),
            "speech_db": round(c.speech_db, 2), "cpu_percent": round(c.cpu_percent, 2),
            "curve": [round(v, 1) for v in c.curve]}


def convergence_markdown(curves: Sequence[Convergence]) -> str:
    """Per booth: time to 20 dB, steady ERLE, the +100 ms jump, the voice's change."""

    def seconds(value: float | None) -> str:
        return f"{value:.1f} s" if value is not None else "not within the run"

    lines = ["| booth | RT60 | delay | to 20 dB | ERLE | after +100 ms: back to 20 dB | ERLE after | voice during double talk |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for c in curves:
        b = c.booth
        lines.append(f"| {b.seed} | {b.rt60_s:.2f} s | {b.delay_ms:.0f} ms | {seconds(c.to_20_db_s)} | {c.steady_db:.1f} dB | "
                     f"{seconds(c.after_jump_s)} | {c.after_jump_db:.1f} dB | {c.speech_db:+.1f} dB |")
    return "\n".join(lines)
