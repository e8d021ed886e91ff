"""The one place each stage of djtui is built from the config.

The live pipeline, ``djtui eval``, the benches, training and the TUI all build their
context, resolver, recognizer, endpointer, safety gate and MIDI bridge here, so what is
measured is what runs: one change to a setting reaches every front end alike.

Heavy libraries (torch, faster-whisper, sentence-transformers) load inside the builders
that need them; importing this module costs nothing.
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

if TYPE_CHECKING:
    from djtui.core.asr import AsrEngine
    from djtui.core.midi import MidiOut
    from djtui.core.recognize import Recognizer
    from djtui.core.resolve import Resolver
    from djtui.core.safety import SafetyGate
    from djtui.core.sessionlog import SessionLog
    from djtui.core.vad import Endpointer

DRAFT_TAIL_MS = 32
"""Silence kept after speech in an utterance: one block. The draft (and its ASR) starts
once this much silence has passed, so one block gives ASR the most of the hang-over.
A gap between words that long also starts drafts that speech then makes stale (about
0.6 per command in ``djtui bench latency``'s clips); they cost CPU, yet on 2 shared
cores, clips alternating in one run, wav2vec2-base int8's endpoint-to-MIDI median was
~2 ms against ~105 ms with two blocks and ~200 ms with the former 100 ms tail."""


def context_for(config: Config, path: str | Path | None = None) -> Context:
    """``path``, else the config's ``[resolver] context``, else the bundled DJ context."""

    chosen = path or config.resolver.context
    return load_context(Path(chosen).expanduser()) if chosen else default_context()


def resolver_for(context: Context, config: Config) -> Resolver:
    """The text resolver with the configured embedding model and weight."""
    from djtui.core.resolve import Resolver

    return Resolver(context, config.resolver.embedding_model, config.resolver.semantic_weight)


def engine_for(config: Config, context: Context | None = None) -> AsrEngine:
    """The ASR engine ``[asr]`` asks for; with ``engine = "auto"`` the context model of
    ``context`` once it is built (see :func:`djtui.core.asr.load_engine`)."""
    from djtui.core.asr import load_engine

    return load_engine(config.asr, context)


def recognizer_for(config: Config, context: Context, engine: AsrEngine | None = None, *,
                   warm_up: bool = True) -> Recognizer:
    """ASR, resolver and acoustic rescoring for ``context``; ``engine`` defaults to
    :func:`engine_for`. ``warm_up`` runs each model once so the first command does not pay
    for lazy initialisation."""
    from djtui.core import calibration_file
    from djtui.core.asr import WhisperEngine
    from djtui.core.recognize import Recognizer
    from djtui.core.rescore import Rescorer, can_rescore

    engine = engine if engine is not None else engine_for(config, context)
    text = resolver_for(context, config)
    search = grammar_search_for(context, engine) if isinstance(engine, WhisperEngine) else None
    calibrated = calibration_file.for_engine(engine)  # the listening model's own, or the fallback
    if warm_up:
        getattr(engine, "warm_up", lambda: None)()
        text.warm_up()
    return Recognizer(engine, text, Rescorer(engine) if can_rescore(engine) else None, search=search,
                      calibration=calibrated.calibration if calibrated else None, calibrated=calibrated)


def grammar_search_for(context: Context, engine: Any) -> Any:
    """Whisper's decoder constrained to ``context`` (:mod:`djtui.core.grammar_search`),
    on the weights of the engine's own model."""
    from djtui.core.grammar_search import GrammarSearch
    from djtui.core.whisper_decoder import WhisperDecoder

    return GrammarSearch(context, engine.tokenizer, WhisperDecoder.from_folder(engine.model_dir))


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


def deck_state_for(context: Context) -> DeckState:

    return DeckState.for_context(context)


def gate_for(context: Context, config: Config, decks: DeckState | None = None,
             clock: Callable[[], float] | None = None) -> SafetyGate:
    """The safety gate with the ``[safety]`` settings."""
    from djtui.core.safety import SafetyGate

    extra = {"clock": clock} if clock is not None else {}
    return SafetyGate(context, config.safety, decks if decks is not None else deck_state_for(context), **extra)


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
        """Close the MIDI ports (each once; a failing close never stops the others)."""
        import logging

        closers, self.closers = self.closers, []
        for close in closers:
            try:
                close()
            except Exception:  # noqa: BLE001 - closing must never stop the rest closing
                logging.getLogger(__name__).exception("closing a stage failed")


def build(config: Config, *, context: Context | None = None, engine: AsrEngine | None = None,
          midi_out: MidiOut | None = None, dry_run: bool = False,
          session_log: SessionLog | Literal[False] | None = None,
          on_status: Callable[[str], None] | None = None) -> Stages:
    """All stages for one listener. The MIDI port opens last, so a missing model fails
    before a port is taken; a busy port fails here, before listening starts.

    ``midi_out`` replaces the configured port (benches); ``dry_run`` opens none.
    ``session_log``: ``None`` a new log in the user's sessions folder, ``False`` none.
    ``on_status(message)`` hears of a MIDI port that went away or came back.
    """
    from djtui.core.midi import MidiOut, open_feedback
    from djtui.core.sessionlog import SessionLog

    chosen = context if context is not None else context_for(config)
    recognize = recognizer_for(config, chosen, engine)
    decks = deck_state_for(chosen)
    closers: list[Callable[[], None]] = []
    if dry_run:
        midi_out = None
    elif midi_out is None:
        midi_out = MidiOut(config.midi, on_status=on_status)
        closers.append(midi_out.close)
        try:  # Rekordbox reports play state here; djtui's own presses fill in meanwhile
            closers.append(open_feedback(config.midi, decks, on_status=on_status).close)
        except DjtuiError:
            midi_out.close()
            raise
    log = SessionLog() if session_log is None else (session_log or None)
    return Stages(config, chosen, recognize, gate_for(chosen, config, decks), decks, midi_out, log, closers)
