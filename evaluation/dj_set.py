"""A DJ test set of one's own, built reproducibly from a seed.

Commands of the context, spoken by voices chosen for the test (by default the held-out
part of djtui's seeded voice split, voices no model of djtui's is trained on), and
*chatter*: things said in a booth that are not commands, which must be rejected. The
music goes in at evaluation time, mixed at the benchmark's peak-frame SNR (``djtui eval
--noise SONGS --snr 0 10 20``), and music alone gives the false accepts per hour
(``--negatives SONGS``).

Layout::

    DIR/test.jsonl        the labels (djtui eval --labels DIR/test.jsonl)
    DIR/commands/         the commands: djtui synth's manifest and clips
    DIR/chatter/          the chatter clips and chatter.jsonl
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from djtui.core.errors import DjtuiError
from djtui.core.fileio import write_atomic, write_text_atomic

if TYPE_CHECKING:
    from djtui.core.context import Context
    from djtui.training.synth import SynthProgress, Voice

CHATTER = (
    "what a tune", "turn it up a bit", "can I get a drink", "where is the bathroom", "this crowd is amazing",
    "hands up in the air", "one more song please", "do you have any requests", "play something we can dance to",
    "thanks for coming out tonight", "is the bar still open", "the next track is a classic", "I love this song",
    "make some noise", "who is ready to party", "it's getting hot in here", "let me check the time",
    "my headphones are broken", "can you hear me at the back", "the lights look great", "we have two more hours",
    "that was a long set", "are you having a good time", "this one goes out to my friends", "I need some water",
    "the speakers sound good tonight", "say it louder", "keep it going", "give it up for the band", "nice shoes",
    "I forgot my charger", "see you next week", "check check one two", "the left monitor is too loud",
    "pass me the cable", "what time do we close", "everybody on the floor", "let's go", "bring it back",
    "drop the beat",
)
"""Booth talk. Some of it is near the DJ context on purpose ("drop the beat", "bring it
back", "let's go"): a voice control that takes those for commands is dangerous."""

LABELS = "test.jsonl"


def held_out_voices(seed: int = 0) -> list[Voice]:
    """The held-out part of djtui's seeded voice split (``djtui synth --held-out test``)."""
    from djtui.training.synth import default_voices, split_voices

    return split_voices(default_voices(), seed=seed)[1]


def build(context: Context, out_dir: str | Path, *, per_intent: int = 6, chatter: int = len(CHATTER),
          voices: list[Voice] | None = None, seed: int = 7, intents: Sequence[str] | None = None,
          on_progress: Callable[[SynthProgress], None] | None = None) -> Path:
    """Write the test set into ``out_dir`` and return its labels file. The same arguments
    give the same set; running it again resumes where it stopped. ``intents`` limits the
    commands to those (the knobs and faders alone, say); the labels still mean the whole
    context's commands, so ``djtui eval`` judges them against every other reading."""
    from djtui.core.audio import SAMPLE_RATE
    from djtui.training.synth import synthesize

    if intents is not None:
        if unknown := [name for name in intents if name not in context.intents]:
            raise DjtuiError(f"no intent {unknown[0]!r} in context '{context.name}'",
                             "`djtui contexts show` lists them")
        context = replace(context, intents={name: context.intents[name] for name in intents})

    out = Path(out_dir)
    voices = voices if voices is not None else held_out_voices()
    manifest = synthesize(context, out / "commands", per_intent=per_intent, voices=voices, seed=seed,
                          on_progress=on_progress)
    lines = []
    for line in manifest.read_text(encoding="utf-8").splitlines():
        take = json.loads(line)
        lines.append({"path": f"commands/{take['path']}", "text": take["text"], "intent": take["intent"],
                      "slots": take["slots"]})
    rng = random.Random(seed)
    said = list(CHATTER)
    rng.shuffle(said)
    chatter_lines = []
    for n, text in enumerate(said[:chatter]):
        voice = voices[n % len(voices)]
        path = out / "chatter" / f"{n:03d}.wav"
        if not path.exists():
            audio = voice.speak(text, random.Random(rng.random()))
            pad = np.zeros(int(0.2 * SAMPLE_RATE), dtype=np.float32)
            write_atomic(path, lambda f, a=np.concatenate([pad, audio, pad]): _write_wav(f, a, SAMPLE_RATE))
        chatter_lines.append({"path": f"chatter/{path.name}", "text": text, "intent": None, "slots": {},
                              "speaker": voice.id})
    write_text_atomic(out / "chatter" / "chatter.jsonl", "".join(json.dumps(c) + "\n" for c in chatter_lines))
    labels = out / LABELS
    write_text_atomic(labels, "".join(json.dumps(line) + "\n" for line in lines + chatter_lines))
    return labels


def _write_wav(f: object, audio: np.ndarray, sample_rate: int) -> None:
    import soundfile as sf

    sf.write(f, np.clip(audio, -1.0, 1.0), sample_rate, format="WAV", subtype="PCM_16")
