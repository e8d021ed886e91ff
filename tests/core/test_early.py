"""When a command may fire at the first silence: clear, complete, stable."""

from __future__ import annotations

from djtui.core.context_file import default_context
from djtui.core.early import EarlyFinalizer
from djtui.core.records import AsrResult, Candidate, Understanding
from djtui.core.safety import SafetyGate

GATE = SafetyGate(default_context())


def understood(intent: str, slots: dict[str, str], score: float = 0.95, more: bool = False) -> Understanding:
    best = Candidate(intent, slots, score, "", {"more": float(more)})
    runner_up = Candidate("cue", slots, 0.05, "", {"more": 0.0})
    return Understanding("", [best, runner_up], AsrResult("", None, "whisper", "test", 0.0))


def finalizer(*glimpses: tuple | None, stable_updates: int = 2) -> EarlyFinalizer:
    early = EarlyFinalizer(stable_updates=stable_updates)
    early.start()
    for key in glimpses:
        early.note(key)
    return early


SYNC_TWO = Candidate("sync", {"deck": "2"}, 0, "").key()


def test_a_clear_complete_command_read_the_same_way_twice_fires():
    assert finalizer(SYNC_TWO).decide(understood("sync", {"deck": "2"}), GATE)


def test_what_might_go_on_waits_for_the_hang_over():
    assert not finalizer(SYNC_TWO).decide(understood("sync", {"deck": "2"}, more=True), GATE)


def test_an_unclear_or_unstable_reading_waits():
    assert not finalizer(SYNC_TWO).decide(understood("sync", {"deck": "2"}, score=0.5), GATE)
    assert not finalizer(Candidate("sync", {"deck": "1"}, 0, "").key()).decide(understood("sync", {"deck": "2"}), GATE)
    assert not finalizer().decide(understood("sync", {"deck": "2"}), GATE)  # no glimpse yet
    assert finalizer(stable_updates=1).decide(understood("sync", {"deck": "2"}), GATE)  # the draft alone suffices


def test_glimpses_come_at_the_cadence_and_only_when_compared():
    early = EarlyFinalizer(glimpse_blocks=10)
    early.start()
    assert [n for n in range(1, 40) if early.glimpse_due(n)] == [10, 20, 30]
    never = EarlyFinalizer(stable_updates=1)
    never.start()
    assert not any(never.glimpse_due(n) for n in range(100))
    off = EarlyFinalizer(enabled=False)
    assert not off.decide(understood("sync", {"deck": "2"}), GATE)


def test_no_glimpse_comes_before_the_shortest_command_could_be_said():
    early = EarlyFinalizer(glimpse_blocks=10, first_blocks=25)
    early.start()
    assert [n for n in range(1, 50) if early.glimpse_due(n)] == [25, 35, 45]
