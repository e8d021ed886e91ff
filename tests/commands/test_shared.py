"""What every sub-command shares: ``--set`` overrides, named as they were typed."""

from __future__ import annotations

import argparse

import pytest

from djtui.commands._shared import config_for
from djtui.core.errors import DjtuiError


def _args(*settings: str) -> argparse.Namespace:
    return argparse.Namespace(config=None, settings=list(settings))


def test_set_changes_one_setting_for_this_run() -> None:
    config = config_for(_args("vad.hangover_ms=400", "audio.trigger=push_to_talk", "midi.output_port=2"))
    assert config.vad.hangover_ms == 400 and config.audio.trigger == "push_to_talk"
    assert config.midi.output_port == "2"  # a port called "2" is text, however TOML reads it


def test_a_bad_value_names_the_setting_as_typed_and_what_it_expects() -> None:
    with pytest.raises(DjtuiError) as info:
        config_for(_args("vad.hangover_ms=abc"))
    assert info.value.message.startswith("--set vad.hangover_ms='abc': ")
    assert "expected a whole number from 32 to 3000" in info.value.message
    assert "delete the line" not in info.value.hint  # there is no line
    assert "--set vad.hangover_ms=300" in info.value.hint  # the default, to copy


@pytest.mark.parametrize("setting, suggestion", [
    ("vad.hangover=400", "did you mean hangover_ms?"),
    ("safety.min_confidense=0.7", "did you mean min_confidence?"),
    ("vda.threshold=0.5", "did you mean vad?"),
])
def test_an_unknown_name_gets_the_closest_known_one(setting: str, suggestion: str) -> None:
    with pytest.raises(DjtuiError) as info:
        config_for(_args(setting))
    assert suggestion in info.value.message and info.value.message.startswith("--set ")


def test_flags_are_checked_apart_from_set() -> None:
    config = config_for(_args("asr.engine=wav2vec2"), asr={"engine": "whisper", "model": None})
    assert config.asr.engine == "whisper"  # the command's own flag wins, as before
