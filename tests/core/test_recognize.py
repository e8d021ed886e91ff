"""The Recognizer: spoken audio in, the commands it means out, every stage timed."""

from __future__ import annotations

import math

import numpy as np
import pytest

from djtui.core.asr import Wav2Vec2Engine
from djtui.core.context_file import default_context
from djtui.core.recognize import Recognizer
from djtui.core.records import Understanding
from djtui.core.rescore import Rescorer
from djtui.core.resolve import Resolver


@pytest.fixture(scope="module")
def resolver() -> Resolver:
    return Resolver(default_context(), semantic_weight=0.0)


@pytest.mark.parametrize("spoken, intent, slots", [
    ("play deck two", "play", {"deck": "2"}),
    ("pause the left deck", "pause", {"deck": "1"}),
    ("sync deck two", "sync", {"deck": "2"}),
])
def test_spoken_command_is_understood(whisper_engine, resolver, speak, spoken, intent, slots):
    recognizer = Recognizer(whisper_engine, resolver, Rescorer(whisper_engine))
    understanding = recognizer.understand(speak(spoken))
    assert isinstance(understanding, Understanding)
    assert understanding.transcript == understanding.asr.text
    best = understanding.best
    assert (best.intent, best.slots) == (intent, slots), [(c.label(), round(c.score, 3)) for c in understanding.candidates]
    assert 1 <= len(understanding.candidates) <= 5
    assert [c.score for c in understanding.candidates] == sorted((c.score for c in understanding.candidates), reverse=True)
    assert "acoustic" in best.evidence
    assert set(understanding.timings) == {"asr", "resolve", "rescore"}
    assert all(ms >= 0 for ms in understanding.timings.values()) and understanding.timings["asr"] > 0


def test_without_a_rescorer_the_resolver_decides(whisper_engine, resolver, speak):
    understanding = Recognizer(whisper_engine, resolver).understand(speak("play left"))
    assert understanding.best.key() == ("play", (("deck", "1"),))
    assert "acoustic" not in understanding.best.evidence
    assert understanding.timings["rescore"] == 0.0


def test_silence_means_no_command(whisper_engine, resolver):
    understanding = Recognizer(whisper_engine, resolver, Rescorer(whisper_engine)).understand(np.zeros(16000, np.float32))
    assert all(c.score < 0.6 for c in understanding.candidates)


def test_wav2vec2_folder_runs_the_whole_path(tiny_wav2vec2, resolver, speak):
    # random weights: the transcript is noise, but every stage must run and be timed
    engine = Wav2Vec2Engine(tiny_wav2vec2)
    understanding = Recognizer(engine, resolver, Rescorer(engine)).understand(speak("play deck one"))
    assert understanding.asr.logprobs is not None
    assert len(understanding.candidates) <= 5
    assert set(understanding.timings) == {"asr", "resolve", "rescore"}


# --- the grammar search (Whisper) ------------------------------------------------------


@pytest.fixture(scope="module")
def searching(whisper_engine) -> Recognizer:
    from djtui.core.config import Config
    from djtui.core.stages import recognizer_for

    config = Config().updated({"resolver": {"semantic_weight": 0.0}})
    return recognizer_for(config, default_context(), whisper_engine, warm_up=False)


@pytest.mark.parametrize("spoken, intent, slots", [
    ("loop eight on the left deck", "loop", {"beats": "8", "deck": "1"}),
    ("kill the bass on the right", "eq_kill", {"band": "low", "deck": "2"}),
    ("jump back sixteen beats on deck two", "beat_jump", {"direction": "back", "beats": "16", "deck": "2"}),
])
def test_the_grammar_search_decides_from_the_audio(searching, speak, spoken, intent, slots):
    understanding = searching.understand(speak(spoken))
    best = understanding.best
    assert (best.intent, best.slots) == (intent, slots), [(c.label(), round(c.score, 3)) for c in understanding.candidates]
    assert best.score >= 0.8  # clear enough for the safety gate's default
    assert [c.score for c in understanding.candidates] == sorted((c.score for c in understanding.candidates), reverse=True)
    assert {"audio", "gap", "text", "pace", "clarity", "fit"} <= set(best.evidence)
    assert set(understanding.timings) == {"asr", "search", "resolve", "rescore"}


def test_a_garbled_transcript_is_no_obstacle(searching, speak):
    """espeak's Caribbean voice: Whisper writes nonsense, the grammar search still hears
    the command in the audio."""
    understanding = searching.understand(speak("pause deck four", voice="en-029", variant="m1"))
    assert (understanding.best.intent, understanding.best.slots) == ("pause", {"deck": "4"})


@pytest.mark.parametrize("spoken", ["what a great tune tonight", "can I get a drink at the bar", "thanks for coming out"])
def test_speech_outside_the_grammar_is_rejected(searching, speak, spoken):
    from djtui.core.safety import SafetyGate

    understanding = searching.understand(speak(spoken))
    verdict = SafetyGate(default_context()).screen(understanding.candidates)
    assert verdict is not None and verdict.reason in ("out_of_grammar", "low_confidence"), understanding.candidates[:2]


def test_music_is_rejected(searching):
    from pathlib import Path

    from djtui.core.audio import read_audio
    from djtui.core.safety import SafetyGate

    songs = sorted(Path("/usr/share/games/fretsonfire/data/songs/muldjord").glob("*/song.ogg"))
    if not songs:
        pytest.skip("Debian's fretsonfire-songs-muldjord is not installed")
    gate = SafetyGate(default_context())
    for song in songs[:2]:
        music = read_audio(song)
        for start in (30, 60, 90):  # three 2 s stretches, as the VAD would hand them over at worst
            understanding = searching.understand(music[start * 16000:(start + 2) * 16000])
            assert gate.screen(understanding.candidates) is not None, (song, start, understanding.candidates[:1])


def test_a_glimpse_reads_the_speech_so_far_on_a_window_that_fits_it(searching, speak, monkeypatch):
    """A glimpse encodes the speech plus 2 s, not the engine's 10 s window: the encoder's
    cost grows with its window; the command read is the one the whole utterance means."""
    from djtui.core.recognize import GLIMPSE_MARGIN_S

    engine = searching.engine
    windows: list[int | None] = []
    encode = engine.encode
    monkeypatch.setattr(engine, "encode", lambda audio, window=None: windows.append(window) or encode(audio, window))
    audio = speak("loop eight on the left deck")
    glimpse = searching.glimpse(audio)
    assert windows == [100 * math.ceil(len(audio) / 16000 + GLIMPSE_MARGIN_S)] and windows[0] < engine.window_frames
    assert glimpse.key == searching.understand(audio).best.key() and "loop" in glimpse.text.lower()


# --- knobs and faders, spoken over music ----------------------------------------------------

MOVES_SPOKEN = [
    ("set the bass on the right to the middle", "knob_to", {"knob": "eq_low", "level": "0.5", "deck": "2"}),
    ("a little more filter on the left", "knob_by", {"amount": "0.05", "way": "more", "knob": "filter", "deck": "1"}),
    ("the left fader all the way up", "fader_to", {"level": "1", "deck": "1"}),
    ("fade out the left deck slowly", "fade_out", {"deck": "1", "duration": "4 s"}),
    ("crossfade to the left over sixteen beats", "crossfader_to", {"xfade": "0", "duration": "16 beats"}),
    ("tempo plus two on the left", "tempo_by", {"way": "up", "percent": "2", "deck": "1"}),
    ("bring back the bass on the left", "eq_reset", {"band": "low", "deck": "1"}),
    ("cut the right fader", "fader_cut", {"deck": "2"}),
    ("filter off on deck two", "filter_off", {"deck": "2"}),
    ("hold it", "hold", {}),
]


def test_knob_and_fader_commands_are_found_in_speech_over_music(searching, speak):
    """espeak's voice over a song at 10 dB (the benchmark's peak-frame SNR): the grammar
    search finds most; what it gets wrong, the safety gate would not act on."""
    from pathlib import Path

    from djtui.core.audio import read_audio
    from djtui.core.noise import mix_at_peak_snr
    from djtui.core.safety import SafetyGate

    songs = sorted(Path("/usr/share/games/fretsonfire/data/songs/muldjord").glob("*/song.ogg"))
    if not songs:
        pytest.skip("Debian's fretsonfire-songs-muldjord is not installed")
    music = read_audio(songs[0])
    gate = SafetyGate(default_context())
    right, wrong_accepted = [], []
    for n, (spoken, intent, slots) in enumerate(MOVES_SPOKEN):
        speech = speak(spoken)
        start = (40 + 3 * n) * 16000
        understanding = searching.understand(mix_at_peak_snr(speech, music[start:start + len(speech)], 10.0))
        best = understanding.best
        if (best.intent, best.slots) == (intent, slots):
            right.append(spoken)
        elif gate.screen(understanding.candidates) is None:
            wrong_accepted.append(f"{spoken!r} -> {best.label()} {best.score:.2f}")
    print(f"\n{len(right)} of {len(MOVES_SPOKEN)} knob and fader commands found at 10 dB")
    assert len(right) >= 8 and not wrong_accepted, wrong_accepted
