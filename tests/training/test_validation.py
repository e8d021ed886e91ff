"""What a training run holds back and how it is scored."""

from __future__ import annotations

import pytest

from djtui.core.errors import DjtuiError
from djtui.training.manifest import Take, read_manifest
from djtui.training.validation import hold_back, score


def take(text: str, intent: str, deck: str, number: int, speaker: str = "ana") -> Take:
    return Take(f"recordings/{intent}{deck}_{number}.wav", text, intent, {"deck": deck}, number, 1.0, 16000,
                speaker, "2026-01-01T00:00:00+00:00")


def test_one_take_of_every_command_said_twice_is_held_back(synthetic_set):
    takes = read_manifest(synthetic_set)
    for seed in range(5):
        train, held = hold_back(takes, seed)
        assert len(train) + len(held) == len(takes) and not set(map(id, train)) & set(map(id, held))
        intents = [t.intent for t in held]
        assert len(intents) == len(set(intents)) == len({t.intent for t in takes})
        assert {t.intent for t in train} == {t.intent for t in takes}  # every command still trains


def test_a_command_said_once_stays_in_training():
    takes = [take("play deck one", "play", "1", 1), take("play deck one", "play", "1", 2),
             take("play deck one", "play", "1", 3), take("sync deck two", "sync", "2", 1)]
    train, held = hold_back(takes)
    assert len(held) == 1 and held[0].intent == "play"
    assert [t for t in train if t.intent == "sync"] == [takes[3]]
    with pytest.raises(DjtuiError, match="only one take"):
        hold_back([takes[0], takes[3]])


def test_a_context_of_few_commands_holds_back_enough_takes_to_judge_by():
    """coffee_maker has one command: one held-back take would validate, stop early and
    calibrate the model on a single order."""
    from djtui.training.validation import MIN_HELD_BACK

    orders = [take(f"a latte number {n}", "orderDrink", "1", n) for n in range(1, 1001)]
    train, held = hold_back(orders)
    assert len(held) == MIN_HELD_BACK and len(train) == 1000 - MIN_HELD_BACK
    assert not {t.path for t in train} & {t.path for t in held}
    assert hold_back(orders, 1)[1] != held  # the seed chooses them
    # Two commands, few takes: a tenth of them, over both, each keeping one to train on.
    few = [take("play deck one", "play", "1", n) for n in range(1, 19)] + [take("sync deck two", "sync", "2", 1),
                                                                             take("sync deck two", "sync", "2", 2)]
    train, held = hold_back(few)
    assert len(held) == 2 and {t.intent for t in held} == {"play", "sync"} == {t.intent for t in train}
    train, held = hold_back(few * 3)  # 60 lines, 20 files: held back by file
    assert not {t.path for t in train} & {t.path for t in held}


def test_scores_count_words_characters_and_commands(small_context):
    from djtui.training.validation import command_checker

    takes = [take("play deck one", "play", "1", 1), take("sync deck two", "sync", "2", 1)]
    checker = command_checker(small_context.source)
    perfect = score([" Play deck one.", "sync deck two"], takes, checker)
    assert (perfect.wer, perfect.cer, perfect.accuracy, perfect.n) == (0.0, 0.0, 1.0, 2)
    wrong = score(["play deck two", ""], takes, checker)
    assert wrong.accuracy == 0.0 and wrong.wer == pytest.approx(4 / 6)


def test_a_take_listed_twice_is_never_held_back_and_trained_on():
    """Whatever the reader let through: the held-back files are out of training."""
    takes = [take("play deck one", "play", "1", 1), take("play deck one", "play", "1", 2),
             take("sync deck two", "sync", "2", 1), take("sync deck two", "sync", "2", 2)]
    for seed in range(8):
        train, held = hold_back(takes + takes, seed)
        assert not {t.path for t in train} & {t.path for t in held}
