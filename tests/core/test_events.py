"""The events front ends receive are one closed union of frozen records."""

from __future__ import annotations

import dataclasses
import inspect
import typing

import pytest

from djtui.core import events
from djtui.core.records import Candidate, MidiCommand, Move, Verdict


def test_every_event_record_is_in_the_union_and_frozen():
    defined = {cls for _, cls in inspect.getmembers(events, inspect.isclass)
               if dataclasses.is_dataclass(cls) and cls.__module__ in (events.__name__, "djtui.core.records")}
    in_union = set(typing.get_args(events.Event))
    assert defined - {Candidate, MidiCommand, Move, Verdict} == in_union
    for cls in in_union:
        assert cls.__dataclass_params__.frozen, cls.__name__


def _outcome(**changes) -> events.Outcome:
    play = Candidate("play", {"deck": "2"}, 0.93, "play deck two")
    sent = MidiCommand("PlayPause", "note", 1, 11)
    fields = dict(number=1, transcript="Play deck two.", candidates=(play,), verdict=Verdict(True, "ok", "", play, (sent,)),
                  sent=(sent,), dry_run=False, stages_ms={"vad_endpoint": 32.0, "asr": 120.0}, total_ms=0.4,
                  engine="whisper", model="tiny.en", speech_s=(1.0, 2.0))
    return events.Outcome(**{**fields, **changes})


def test_said_to_done_is_the_silence_waited_plus_what_came_after_the_endpoint():
    assert _outcome().said_to_done_ms == pytest.approx(32.4)


def test_an_outcome_names_the_command_only_when_approved():
    assert _outcome().command == "play(deck=2)" and _outcome().best.intent == "play"
    refused = _outcome(verdict=Verdict(False, "low_confidence", "", Candidate("play", {"deck": "2"}, 0.4, "")))
    assert refused.command == ""
    with pytest.raises(dataclasses.FrozenInstanceError):
        refused.number = 2  # type: ignore[misc]
