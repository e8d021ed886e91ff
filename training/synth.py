"""Synthetic training speech: a context's sentences spoken by many TTS voices.

Used to bootstrap a model before any recording, to cover new commands without
re-recording, and in tests. Writes ``OUT/synth/*.wav`` and ``OUT/manifest.jsonl`` in the
recording format (:mod:`djtui.training.manifest`); ``speaker`` is the voice id, so a
model can be validated on voices it never heard (pick them with ``voices``).

:func:`synthesize_session` speaks the Record screen's script instead (one phrasing of
every command, a few takes each, :func:`djtui.training.recording.prompts_for`): a DJ's
recording session, by a TTS voice — for measuring what a model of one voice gains.

Voice ids: ``espeak:<language>`` or ``espeak:<language>+<variant>`` (``espeak:en-gb+f2``)
and ``piper:joe``. Each clip also gets a random speaking rate and pitch.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from djtui.core.context import Context
from djtui.core.errors import DjtuiError
from djtui.training import tts
from djtui.core.text import normalize_text
from djtui.training.manifest import ManifestWriter, Reconciliation, ScriptedTake, Take
from djtui.training.recording import Prompt, check_take, prompts_for

ESPEAK_LANGUAGES = ("en-us", "en-gb", "en-gb-scotland", "en-029", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd")
ESPEAK_VARIANTS = (None, "m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5", "klatt")
PIPER_VOICES = ("joe",)
ENGINES = ("espeak", "piper")


@dataclass(frozen=True)
class Voice:
    """A TTS voice: ``engine`` and its parameters; ``id`` is what the manifest records."""

    engine: str
    name: str
    variant: str | None = None

    @property
    def id(self) -> str:
        return f"{self.engine}:{self.name}" + (f"+{self.variant}" if self.variant else "")

    @classmethod
    def parse(cls, voice_id: str) -> Voice:
        engine, sep, rest = voice_id.partition(":")
        if not sep or engine not in ENGINES or not rest:
            raise DjtuiError(f"unknown voice {voice_id!r}", "voice ids look like espeak:en-gb+m3 or piper:joe "
                             "(list them with `djtui synth --list-voices`)")
        name, _, variant = rest.partition("+")
        if engine == "piper" and name not in PIPER_VOICES:
            raise DjtuiError(f"unknown Piper voice {name!r}", f"Piper voices: {', '.join(PIPER_VOICES)}")
        return cls(engine, name, variant or None)

    def speak(self, text: str, rng: random.Random) -> np.ndarray:
        """``text`` as 16 kHz float32, at a random rate (and pitch, for espeak)."""
        if self.engine == "piper":
            return tts.piper(text, length_scale=rng.uniform(0.85, 1.2))
        return tts.espeak(text, voice=self.name, variant=self.variant, rate=rng.randint(130, 200),
                          pitch=rng.randint(25, 75))


def default_voices(engines: Iterable[str] = ENGINES) -> list[Voice]:
    """Every voice of the given engines: espeak languages x variants, and Piper's."""
    engines = list(engines)
    unknown = [e for e in engines if e not in ENGINES]
    if unknown:
        raise DjtuiError(f"unknown TTS engine {unknown[0]!r}", f"engines: {', '.join(ENGINES)}")
    voices = []
    if "espeak" in engines:
        voices += [Voice("espeak", lang, var) for lang in ESPEAK_LANGUAGES for var in ESPEAK_VARIANTS]
    if "piper" in engines:
        voices += [Voice("piper", name) for name in PIPER_VOICES]
    return voices


def split_voices(voices: list[Voice], held_out: float = 0.2, seed: int = 0) -> tuple[list[Voice], list[Voice]]:
    """(train voices, held-out voices): a seeded split for testing on unheard voices."""
    shuffled = sorted(voices, key=lambda v: v.id)
    random.Random(seed).shuffle(shuffled)
    n = max(1, round(len(shuffled) * held_out)) if len(shuffled) > 1 else 0
    return sorted(shuffled[n:], key=lambda v: v.id), sorted(shuffled[:n], key=lambda v: v.id)


@dataclass(frozen=True)
class SynthProgress:
    done: int
    total: int
    take: Take | None


def _synthetic_qc(audio: np.ndarray) -> dict[str, object]:
    return {**check_take(audio).as_dict(), "synthetic": True}


def synthesize(context: Context, out_dir: str | Path, *, per_intent: int = 20,
               voices: list[Voice] | None = None, engines: Iterable[str] = ENGINES, seed: int = 0,
               pad_s: float = 0.2, on_progress: Callable[[SynthProgress], None] | None = None,
               on_reconciled: Callable[[Reconciliation], None] | None = None) -> Path:
    """Speak ``per_intent`` random sentences of every intent, each with a random voice of
    ``voices`` (default: all voices of ``engines``), into ``out_dir``. Deterministic for a
    seed, and resumable: clips already in the manifest are skipped, and clips whose lines
    were lost get them back. Returns the manifest; ``on_reconciled`` hears what opening
    the folder did (see :meth:`ManifestWriter.reconcile`)."""
    voices = list(voices) if voices is not None else default_voices(engines)
    if not voices:
        raise DjtuiError("no voices to synthesize with", "pick engines or voices that exist")
    rng = random.Random(seed)
    jobs = []
    for name in context.intents:
        for sentence in context.sample(per_intent, rng, intent=name):
            voice = rng.choice(voices)
            jobs.append((normalize_text(sentence.text), sentence, voice, rng.random()))
    counts: dict[tuple[str, str], int] = {}
    script = []
    for text, sentence, voice, voice_seed in jobs:
        take = counts[(voice.id, text)] = counts.get((voice.id, text), 0) + 1
        script.append(_Job(Prompt(text, sentence.intent, dict(sentence.slots), take), voice, voice_seed))
    return _speak_all(script, out_dir, pad_s, on_progress, on_reconciled)


def synthesize_session(context: Context, out_dir: str | Path, voices: list[Voice], *, takes: int = 3,
                       phrasings: int = 1, seed: int = 0, pad_s: float = 0.2,
                       on_progress: Callable[[SynthProgress], None] | None = None,
                       on_reconciled: Callable[[Reconciliation], None] | None = None) -> Path:
    """Each of ``voices`` speaks the Record screen's script: ``phrasings`` sentences of
    every intent, ``takes`` takes each, every take at its own random rate and pitch.
    Deterministic for a seed and resumable, like :func:`synthesize`. Returns the manifest."""
    if not voices:
        raise DjtuiError("no voices to synthesize with", "pick voices that exist")
    rng = random.Random(seed)
    prompts = prompts_for(context, takes=takes, phrasings=phrasings, seed=seed, shuffle=False)
    script = [_Job(p, voice, rng.random()) for voice in voices for p in prompts]
    return _speak_all(script, out_dir, pad_s, on_progress, on_reconciled)


@dataclass(frozen=True)
class _Job:
    """One take to speak: what (a recording session's prompt), by which voice, and the
    seed of that take's rate and pitch."""

    prompt: Prompt
    voice: Voice
    voice_seed: float


def _speak_all(script: list[_Job], out_dir: str | Path, pad_s: float,
               on_progress: Callable[[SynthProgress], None] | None,
               on_reconciled: Callable[[Reconciliation], None] | None) -> Path:
    scripted = [ScriptedTake(job.voice.id, job.prompt.text, job.prompt.intent, job.prompt.slots, job.prompt.take)
                for job in script]
    writer = ManifestWriter(out_dir, "synth", script=scripted, check=_synthetic_qc)
    if on_reconciled:
        on_reconciled(writer.reconciled)
    already = writer.done()
    for done, job in enumerate(script, 1):
        entry = None
        said = job.prompt
        if (job.voice.id, said.text, said.take) not in already:
            audio = job.voice.speak(said.text, random.Random(job.voice_seed))
            pad = np.zeros(int(pad_s * tts.SAMPLE_RATE), dtype=np.float32)
            peak = float(np.max(np.abs(audio))) if len(audio) else 0.0
            audio = np.concatenate([pad, audio * (0.7 / peak if peak > 0 else 1.0), pad])
            entry = writer.add(audio, text=said.text, intent=said.intent, slots=said.slots, take=said.take,
                               speaker=job.voice.id, qc=_synthetic_qc(audio))
        if on_progress:
            on_progress(SynthProgress(done, len(script), entry))
    return writer.manifest
