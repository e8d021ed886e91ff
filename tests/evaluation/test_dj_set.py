"""A DJ test set of one's own: seeded, with chatter to reject, readable by djtui eval."""

from __future__ import annotations

import json

from djtui.core.context_file import parse_context
from djtui.evaluation.dj_set import CHATTER, build, held_out_voices
from djtui.evaluation.labels import read_labels
from djtui.training.synth import default_voices, split_voices

TINY = parse_context("""
context:
  slots:
    deck: {"1": [one, left], "2": [two, right]}
  intents:
    play: {expressions: ["play deck $deck:deck"]}
    sync: {expressions: ["sync the $deck:deck deck"]}
""")


def test_the_set_is_commands_and_chatter_by_held_out_voices(tmp_path):
    voices = held_out_voices()[:2]
    labels_file = build(TINY, tmp_path / "set", per_intent=2, chatter=3, voices=voices, seed=3)
    labels = read_labels(labels_file)
    commands = [label for label in labels if label.intent]
    chatter = [label for label in labels if label.intent is None]
    assert len(commands) == 4 and {label.intent for label in commands} == {"play", "sync"}
    assert len(chatter) == 3 and {label.text for label in chatter} <= set(CHATTER)
    assert all(label.path.is_file() for label in labels)
    speakers = {json.loads(line).get("speaker") for line in labels_file.read_text().splitlines() if '"intent": null' in line}
    assert speakers <= {v.id for v in voices}
    train = {v.id for v in split_voices(default_voices(), seed=0)[0]}
    assert not train & {v.id for v in held_out_voices()}  # no voice a model trains on


def test_the_same_seed_gives_the_same_set_and_a_rerun_resumes(tmp_path):
    voices = held_out_voices()[:2]
    first = build(TINY, tmp_path / "a", per_intent=2, chatter=2, voices=voices, seed=5).read_text()
    second_file = build(TINY, tmp_path / "b", per_intent=2, chatter=2, voices=voices, seed=5)
    assert second_file.read_text() == first
    clip = tmp_path / "b" / "chatter" / "000.wav"
    stamp = clip.stat().st_mtime_ns
    build(TINY, tmp_path / "b", per_intent=2, chatter=2, voices=voices, seed=5)
    assert clip.stat().st_mtime_ns == stamp  # nothing spoken twice


def test_a_set_of_some_commands_only(tmp_path):
    """``djtui testset --intents``: the knobs and faders alone, say."""
    import pytest

    from djtui.core.errors import DjtuiError

    labels = read_labels(build(TINY, tmp_path / "set", per_intent=2, chatter=0, voices=held_out_voices()[:1],
                               intents=["sync"]))
    assert [label.intent for label in labels] == ["sync", "sync"]
    with pytest.raises(DjtuiError, match="no intent 'fade_in'"):
        build(TINY, tmp_path / "other", intents=["fade_in"])
