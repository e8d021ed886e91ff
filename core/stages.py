"""The one place each stage of djtui is built from the config.

The live pipeline, ``djtui eval``, the benches, training and the TUI all build their
context, resolver, recognizer, endpointer, safety gate, MIDI bridge and ramp player here, so what is
measured is what runs: one change to a setting reaches every front end alike.

Heavy libraries (torch, faster-whisper, sentence-transformers) load inside the builders
that need them; importing this module costs nothing. Loading takes seconds, so the
builders say what they are about to load through ``on_progress(what)`` (:data:`Progress`),
for a front end to show while it waits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from djtui.core.config import Config
from djtui.core.context import Context
from djtui.core.context_file import default_context, load_context
from djtui.core.decks import DeckState
from djtui.core.errors import DjtuiError
from djtui.core.positions import ControlPositions
from djtui.core.tempo import Tempo

if TYPE_CHECKING:
    from djtui.core.asr import AsrEngine
    from djtui.core.audio import AudioSource
    from djtui.core.midi import MidiOut
    from djtui.core.ramps import RampPlayer
    from djtui.core.recognize import Recognizer
    from djtui.core.resolve import Resolver
    from djtui.core.safety import SafetyGate
    from djtui.core.sessionlog import SessionLog
    from djtui.core.vad import Endpointer

Progress = Callable[[str], None]
"""``on_progress(what)``: a builder is about to do something slow, said in words
("loading the grammar decoder (torch, int8)…"), for a status line or a spinner."""


def _say(on_progress: Progress | None, what: str) -> None:
    if on_progress is not None:
        on_progress(what)


DRAFT_TAIL_MS = 32
"""Silence kept after speech in an utterance: one block. The draft (and its ASR) starts
once this much silence has passed, so one block gives ASR the most of the hang-over.
A gap between words that long also starts drafts that speech then makes stale (about
0.6 per command in ``djtui bench latency``'s clips); they cost CPU, yet on 2 shared
cores, clips alternating in one run, wav2vec2-base int8's endpoint-to-MIDI median was
~2 ms against ~105 ms with two blocks and ~200 ms with the former 100 ms tail."""


DECODER_THREADS = 1
"""torch's threads for the grammar search unless ``[asr] threads`` is set. A step decodes
a few prefixes, too little to share, and torch's OpenMP threads spin while they wait for
each other: on 2 cores shared with other work, a search took 1,189 ms of wall time for
300 ms of CPU with torch's default of one thread a core, and a 10-minute file with 30
commands read 7x faster at one thread, every reading the same. (torch's setting is the
process's: it also holds for anything else this process runs in torch.)"""


BLAS_THREADS = 1
"""numpy's BLAS threads unless ``[asr] threads`` is set. djtui's matrix products are
small (a sentence's embedding, Whisper's log-mel filter bank) and OpenBLAS's threads
spin as torch's do: on the shared 2 cores, a 9×384 by 384×1536 product took 18.6 ms at
two threads and 3.1 ms at one, the log-mel features of a command 45 ms and 7 ms."""

Progress = Callable[[str], None]
"""Hears what is about to load, before each slow step: a status line for the CLI or TUI."""


def context_for(config: Config, path: str | Path | None = None) -> Context:
    """``path``, else the config's ``[resolver] context``, else the bundled DJ context."""

    chosen = path or config.resolver.context
    return load_context(Path(chosen).expanduser()) if chosen else default_context()


def resolver_for(context: Context, config: Config, on_progress: Progress | None = None) -> Resolver:
    """The text resolver with the configured embedding model and weight."""
    from djtui.core.resolve import Resolver

    limit_blas_threads(config.asr.threads)
    return Resolver(context, config.resolver.embedding_model, config.resolver.semantic_weight,
                    on_progress=on_progress)


def engine_for(config: Config, context: Context | None = None, on_progress: Progress | None = None) -> AsrEngine:
    """The ASR engine ``[asr]`` asks for; with ``engine = "auto"`` the context model of
    ``context`` once it is built (see :func:`djtui.core.asr.load_engine`)."""
    from djtui.core.asr import choose_engine, load_engine

    if on_progress is not None:
        try:
            what = choose_engine(config.asr, context).summary()
        except DjtuiError:
            what = config.asr.model or config.asr.engine.value  # load_engine says what is wrong with it
        on_progress(f"loading the speech model ({what})…")
    return load_engine(config.asr, context)


def recognizer_for(config: Config, context: Context, engine: AsrEngine | None = None, *,
                   warm_up: bool = True, on_progress: Progress | None = None) -> Recognizer:
    """ASR, resolver and acoustic rescoring for ``context``; ``engine`` defaults to
    :func:`engine_for`. ``warm_up`` runs each model once so the first command does not pay
    for lazy initialisation. ``on_progress(message)`` hears each slow step before it
    starts ("loading the speech model (…)…"), for a status line."""
    from djtui.core import calibration_file
    from djtui.core.asr import WhisperEngine
    from djtui.core.recognize import Recognizer
    from djtui.core.rescore import Rescorer, can_rescore

    engine = engine if engine is not None else engine_for(config, context, on_progress)
    text = resolver_for(context, config, on_progress)
    search = (grammar_search_for(context, engine, config.asr.threads, on_progress)
              if isinstance(engine, WhisperEngine) else None)
    calibrated = calibration_file.for_engine(engine)  # the listening model's own, or the fallback
    if warm_up:
        _say(on_progress, "warming up…")
        getattr(engine, "warm_up", lambda: None)()
        text.warm_up()
    return Recognizer(engine, text, Rescorer(engine) if can_rescore(engine) else None, search=search,
                      calibration=calibrated.calibration if calibrated else None, calibrated=calibrated)


def grammar_search_for(context: Context, engine: Any, threads: int = 0, on_progress: Progress | None = None) -> Any:
    """Whisper's decoder constrained to ``context`` (:mod:`djtui.core.grammar_search`),
    on the weights of the engine's own model. ``threads``: torch's threads for it
    (``[asr] threads``; 0, the default, means one: see :data:`DECODER_THREADS`)."""
    _say(on_progress, "loading the grammar decoder (torch, int8)…")
    import torch

    from djtui.core.grammar_search import GrammarSearch
    from djtui.core.whisper_decoder import WhisperDecoder

    torch.set_num_threads(threads or DECODER_THREADS)
    return GrammarSearch(context, engine.tokenizer, WhisperDecoder.from_folder(engine.model_dir))


def limit_blas_threads(threads: int = 0) -> None:
    """numpy's BLAS on ``threads`` threads (``[asr] threads``; 0, the default, means one:
    see :data:`BLAS_THREADS`), for the whole process."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(threads or BLAS_THREADS, user_api="blas")


def endpointer_for(config: Config, *, listening: bool | None = None) -> Endpointer:
    """The VAD and endpointer with the ``[vad]`` settings. ``listening`` defaults to the
    trigger: always listening unless push-to-talk or a footswitch opens the gate."""
    from djtui.core.vad import Endpointer, load_vad

    vad = config.vad
    return Endpointer(
        load_vad(vad.engine, vad.energy_threshold_dbfs),
        threshold=vad.threshold if vad.engine == "silero" else 0.5,
        hangover_ms=vad.hangover_ms,
        min_speech_ms=vad.min_speech_ms,
        max_speech_ms=vad.max_speech_ms,
        tail_ms=DRAFT_TAIL_MS,
        listening=config.audio.trigger == "always" if listening is None else listening,
    )


def microphone_for(config: Config, on_status: Callable[[str, str], None] | None = None) -> AudioSource:
    """The ``[audio]`` input. With a reference (``reference_channel`` or
    ``reference_device``) the echo canceller stands between it and the listener
    (:class:`~djtui.core.echo_cancel.CancellingSource`); without, the microphone as it
    is. A missing device, or a reference without speexdsp installed, is a
    :class:`DjtuiError` here."""
    from djtui.core.audio import MicrophoneSource

    audio = config.audio
    source = MicrophoneSource(audio.input_device, on_status=on_status, reference_channel=audio.reference_channel,
                              reference_device=audio.reference_device)
    if not audio.has_reference:
        return source
    try:
        from djtui.core.echo_cancel import CancellingSource

        return CancellingSource(source)
    except BaseException:
        source.close()
        raise


def deck_state_for(context: Context) -> DeckState:

    return DeckState.for_context(context)


def gate_for(context: Context, config: Config, decks: DeckState | None = None,
             clock: Callable[[], float] | None = None, *, positions: ControlPositions | None = None,
             tempo: Tempo | None = None) -> SafetyGate:
    """The safety gate with the ``[safety]`` settings and the ``[controls]`` limits."""
    from djtui.core.safety import SafetyGate

    extra = {"clock": clock} if clock is not None else {}
    return SafetyGate(context, config.safety, decks if decks is not None else deck_state_for(context), **extra,
                      positions=positions, tempo=tempo if tempo is not None else tempo_for(config),
                      limits=config.controls)


def tempo_for(config: Config) -> Tempo:
    """The tempo beats are counted in: ``[controls] bpm`` until one is tapped (or tracked)."""
    return Tempo(config.controls.bpm, "config")


def ramps_for(config: Config, positions: ControlPositions, midi_out: MidiOut | None) -> RampPlayer:
    """The ramp player, sending on ``midi_out`` (none: a dry run) every ``[controls] step_ms``."""
    from djtui.core.ramps import RampPlayer

    return RampPlayer(positions, midi_out.send if midi_out is not None else None,
                      step_s=config.controls.step_ms / 1000)


@dataclass
class Stages:
    """Every stage one listener needs, built once; :meth:`close` releases the ports."""

    config: Config
    context: Context
    recognizer: Recognizer
    gate: SafetyGate
    deck_state: DeckState
    midi_out: MidiOut | None
    session_log: SessionLog | None
    closers: list[Callable[[], None]] = field(default_factory=list)
    positions: ControlPositions = field(default_factory=ControlPositions)
    """Where djtui last put each knob and fader (Rekordbox reports none)."""
    tempo: Tempo = field(default_factory=Tempo)
    """The BPM beats and bars are counted in."""
    ramps: RampPlayer | None = None
    """Plays the moves the gate approves (``None``: this listener moves nothing)."""

    @property
    def engine(self) -> Any:
        return self.recognizer.engine

    @property
    def engine_description(self) -> str:
        """Which ASR engine and model run, and why, and whose confidence calibration (for the UI)."""
        engine = self.engine
        described = str(getattr(engine, "description", "")) or f"{engine.name} {engine.model_id}"
        calibrated = self.recognizer.calibrated
        return f"{described} · {calibrated.summary}" if calibrated is not None else described

    @property
    def dry_run(self) -> bool:
        """No MIDI port: what would be sent is reported, nothing is."""
        return self.midi_out is None

    def close(self) -> None:
        """Stop the ramps, then close the MIDI ports (each once; a failing close never
        stops the others)."""
        import logging

        closers, self.closers = self.closers, []
        if self.ramps is not None:
            closers.insert(0, self.ramps.close)
        for close in closers:
            try:
                close()
            except Exception:  # noqa: BLE001 - closing must never stop the rest closing
                logging.getLogger(__name__).exception("closing a stage failed")


def build(config: Config, *, context: Context | None = None, engine: AsrEngine | None = None,
          midi_out: MidiOut | None = None, dry_run: bool = False,
          session_log: SessionLog | Literal[False] | None = None,
          on_status: Callable[[str], None] | None = None, on_progress: Progress | None = None) -> Stages:
    """All stages for one listener. The MIDI port opens last, so a missing model fails
    before a port is taken; a busy port fails here, before listening starts.

    ``midi_out`` replaces the configured port (benches); ``dry_run`` opens none.
    ``session_log``: ``None`` a new log in the user's sessions folder, ``False`` none.
    ``on_status(message)`` hears of a MIDI port that went away or came back;
    ``on_progress(message)`` of each slow step of loading, before it starts
    (:func:`recognizer_for`).
    """
    from djtui.core.midi import MidiOut, open_feedback
    from djtui.core.sessionlog import SessionLog

    chosen = context if context is not None else context_for(config)
    recognize = recognizer_for(config, chosen, engine, on_progress=on_progress)
    decks = deck_state_for(chosen)
    closers: list[Callable[[], None]] = []
    if dry_run:
        midi_out = None
    elif midi_out is None:
        _say(on_progress, "opening the MIDI ports…")
        midi_out = MidiOut(config.midi, on_status=on_status)
        closers.append(midi_out.close)
        try:  # Rekordbox reports play state here; djtui's own presses fill in meanwhile
            closers.append(open_feedback(config.midi, decks, on_status=on_status).close)
        except DjtuiError:
            midi_out.close()
            raise
    log = SessionLog() if session_log is None else (session_log or None)
    positions, tempo = ControlPositions(), tempo_for(config)
    gate = gate_for(chosen, config, decks, positions=positions, tempo=tempo)
    return Stages(config, chosen, recognize, gate, decks, midi_out, log, closers, positions, tempo,
                  ramps_for(config, positions, midi_out))
