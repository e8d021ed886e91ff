"""The listener's one door: each block is stepped, the step says what is due, and the same
items run inline (process) or on the pipeline's threads. A real Listener (energy VAD,
endpointer, resolver, safety gate, events, session log) with an ASR stand-in that 'hears'
a fixed sentence in loud audio, so no model is needed."""

from __future__ import annotations

from concurrent.futures import CancelledError
from typing import Any

import numpy as np
import pytest

from djtui.core import events
from djtui.core.audio import BLOCK, SAMPLE_RATE
from djtui.core.config import Config
from djtui.core.context_file import parse_context
from djtui.core.listener import DraftDue, GlimpseDue, Listener, Subscribers, UtteranceDue
from djtui.core.sessionlog import SessionLog, read_session
from tests.fixtures.contexts import TWO_DECKS
from tests.fixtures.models import LoudnessEngine

CONTEXT = parse_context(TWO_DECKS)


def listener(*, act: bool = False, session_log: Any = False, events_: Subscribers | None = None,
             **vad: Any) -> tuple[Listener, LoudnessEngine]:
    engine = LoudnessEngine()
    config = Config().updated({"vad": {"engine": "energy", **vad}, "resolver": {"semantic_weight": 0.0}})
    return Listener(config, context=CONTEXT, engine=engine, dry_run=True, session_log=session_log, act=act,
                    events=events_), engine


def blocks(*parts: tuple[str, float]) -> list[np.ndarray]:
    """``("speech", s)`` a loud tone, ``("silence", s)`` nothing, as 512-sample blocks."""
    audio = []
    for kind, seconds in parts:
        n = int(seconds * SAMPLE_RATE)
        t = np.arange(n) / SAMPLE_RATE
        audio.append((0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32) if kind == "speech"
                     else np.zeros(n, np.float32))
    stream = np.concatenate(audio)
    return [stream[i:i + BLOCK] for i in range(0, stream.size - BLOCK + 1, BLOCK)]


def stepped(listening: Listener, stream: list[np.ndarray]) -> list[tuple[int, Any]]:
    """Every due item of the stream with the block it came at (nothing run)."""
    return [(n, due) for n, block in enumerate(stream) for due in listening.step(block)]


def test_a_command_is_glimpsed_while_spoken_drafted_at_the_first_silence_and_due_after_the_hang_over():
    listening, _ = listener(hangover_ms=320, glimpse_ms=320)
    due = stepped(listening, blocks(("silence", 0.32), ("speech", 1.3), ("silence", 0.64)))
    kinds = [type(item).__name__ for _, item in due]
    assert kinds == ["GlimpseDue", "GlimpseDue", "GlimpseDue", "DraftDue", "UtteranceDue"]
    glimpses = [n for n, item in due if isinstance(item, GlimpseDue)]
    # none before "play deck two" (8 phonemes, the shortest command) could be said fast: 0.4 s
    assert glimpses[0] - 10 + 1 == 13 and np.diff(glimpses).tolist() == [10, 10]  # then every 320 ms of speech
    [(drafted_at, draft)] = [(n, item) for n, item in due if isinstance(item, DraftDue)]
    [(ended_at, ended)] = [(n, item) for n, item in due if isinstance(item, UtteranceDue)]
    assert ended_at - drafted_at == 9  # the rest of the 10-block hang-over
    assert ended.ahead is draft.result and draft.utterance.same_speech(ended.utterance)


def test_speech_that_goes_on_after_a_draft_makes_it_stale():
    listening, _ = listener(hangover_ms=320)
    due = stepped(listening, blocks(("speech", 0.5), ("silence", 0.1), ("speech", 0.5), ("silence", 0.64)))
    drafts = [item for _, item in due if isinstance(item, DraftDue)]
    [ended] = [item for _, item in due if isinstance(item, UtteranceDue)]
    assert len(drafts) == 2 and ended.ahead is drafts[-1].result  # the second draft, not the first
    assert not drafts[0].utterance.same_speech(ended.utterance)
    assert drafts[0].cancel() and drafts[0].run() is None  # the pipeline drops a stale draft before it begins


def test_process_runs_what_is_due_at_once_and_understands_each_utterance_once():
    listening, engine = listener()
    outcomes = [o for block in blocks(("silence", 0.3), ("speech", 1.0), ("silence", 0.6))
                if (o := listening.process(block)) is not None]
    [outcome] = outcomes
    assert outcome.best.intent == "play" and outcome.verdict.reason == "accepted" and not outcome.sent
    assert engine.calls == 1  # the draft's understanding was the utterance's
    assert not outcome.ahead  # read as fast as it goes: each stage's own time, not what was left
    assert outcome.stages_ms["asr"] >= 0 and outcome.stages_ms["vad_endpoint"] == 300


def test_flush_closes_the_speech_still_open_at_the_end_of_the_stream():
    listening, _ = listener()
    assert all(listening.process(b) is None for b in blocks(("speech", 1.0)))
    outcome = listening.flush()
    assert outcome is not None and outcome.best.intent == "play"
    assert listening.flush() is None


def test_a_reading_no_grammar_search_vouched_for_waits_out_the_hang_over():
    """Early finalisation needs the grammar search's word that no longer sentence could
    follow; the text resolver alone cannot say so, so even a draft trusted alone waits.
    (With Whisper it fires: tests/core/test_pipeline.py.)"""
    listening, _ = listener(stable_updates=1)
    seen: list[Any] = []
    listening.subscribe(seen.append)
    [outcome] = [o for b in blocks(("speech", 1.0), ("silence", 0.6)) if (o := listening.process(b)) is not None]
    assert not outcome.early and outcome.stages_ms["vad_endpoint"] == 300
    assert [e.accepted for e in seen if isinstance(e, events.SpeechEnded)] == [True]


def test_acting_judges_with_the_whole_gate_and_publishes_what_arming_changed():
    listening, _ = listener(act=True)
    seen: list[Any] = []
    listening.subscribe(seen.append)
    [outcome] = [o for b in blocks(("speech", 1.0), ("silence", 0.6)) if (o := listening.process(b)) is not None]
    assert outcome.verdict.reason == "disarmed" and not outcome.sent
    listening.arm()
    assert listening.armed and events.ArmedChanged(True) in seen


def test_events_reach_every_subscriber_even_past_a_broken_one_and_the_log_hears_them_last(tmp_path):
    log = SessionLog(tmp_path)
    order: list[str] = []
    hub = Subscribers()

    def broken(event: Any) -> None:
        raise RuntimeError("a display that fails")

    hub.subscribe(broken)
    hub.subscribe(lambda e: order.append("display") if isinstance(e, events.Outcome) else None)
    listening, _ = listener(session_log=log, events_=hub)
    recorded = log.record_outcome

    def record(outcome: Any) -> Any:
        order.append("log")
        return recorded(outcome)

    log.record_outcome = record  # type: ignore[method-assign]
    [outcome] = [o for b in blocks(("speech", 1.0), ("silence", 0.6)) if (o := listening.process(b)) is not None]
    hub.publish(events.Dropped("utterance", 1, 1, "still busy"))
    assert order == ["display", "log"]
    lines = read_session(log.path)
    assert lines[0]["transcript"] == outcome.transcript and lines[0]["verdict"]["reason"] == "accepted"
    assert lines[1]["dropped"] == "utterance" and lines[1]["total"] == 1


def test_a_log_that_cannot_be_written_is_said_once_and_listening_goes_on(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    listening, _ = listener(session_log=SessionLog(blocked / "sessions"))
    seen: list[Any] = []
    listening.subscribe(seen.append)
    stream = blocks(("speech", 0.8), ("silence", 0.6), ("speech", 0.8), ("silence", 0.6))
    outcomes = [o for b in stream if (o := listening.process(b)) is not None]
    assert len(outcomes) == 2
    errors = [e for e in seen if isinstance(e, events.Error)]
    assert len(errors) == 1 and "session log stopped" in errors[0].message


@pytest.mark.parametrize("trigger, listening_at_start", [("always", True), ("push_to_talk", False)])
def test_the_microphone_gate_follows_the_trigger_and_push_to_talk(trigger, listening_at_start):
    engine = LoudnessEngine()
    config = Config().updated({"vad": {"engine": "energy"}, "audio": {"trigger": trigger},
                               "resolver": {"semantic_weight": 0.0}})
    listening = Listener(config, context=CONTEXT, engine=engine, dry_run=True, session_log=False, act=False)
    assert listening.listening is listening_at_start
    listening.set_listening(True)
    assert listening.listening


def test_a_draft_the_speech_went_on_after_stops_at_its_next_stage():
    """On the pipeline's threads a draft may still be understood when the DJ speaks on:
    it stops after its ASR instead of searching the grammar for audio nobody will use,
    and the next draft does not wait behind it."""
    import threading

    class Slow(LoudnessEngine):
        def __init__(self) -> None:
            super().__init__()
            self.entered, self.release = threading.Event(), threading.Event()

        def transcribe(self, audio: np.ndarray) -> Any:
            self.entered.set()
            self.release.wait(10)
            return super().transcribe(audio)

    engine = Slow()
    config = Config().updated({"vad": {"engine": "energy", "hangover_ms": 320}, "resolver": {"semantic_weight": 0.0}})
    listening = Listener(config, context=CONTEXT, engine=engine, dry_run=True, session_log=False, act=False)
    stream = blocks(("speech", 0.5), ("silence", 0.1), ("speech", 0.5), ("silence", 0.64))
    steps = iter(stream)
    while not (draft := next((d for d in listening.step(next(steps)) if isinstance(d, DraftDue)), None)):
        pass
    ran: list[Any] = []
    worker = threading.Thread(target=lambda: ran.append(draft.run()))
    worker.start()
    assert engine.entered.wait(10)
    for block in steps:  # speech goes on while the draft is being understood
        listening.step(block)
        if draft.stale.is_set():  # the listener says so as soon as speech goes on
            break
    assert draft.stale.is_set()
    engine.release.set()
    worker.join(10)
    assert ran == [None] and engine.calls == 1
    with pytest.raises(CancelledError):  # the utterance it was not is never concluded with it
        draft.result.result()
