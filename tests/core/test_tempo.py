"""The tempo beats and bars are counted in: set, tapped, or none."""

from __future__ import annotations

import pytest

from djtui.core.controls import Duration
from djtui.core.tempo import TapTempo, Tempo


def test_beats_need_a_tempo_and_seconds_do_not() -> None:
    tempo = Tempo(None)
    assert tempo.seconds(Duration(16, "beats")) is None and tempo.seconds(Duration(4, "s")) == 4
    tempo.set(128, "tapped")
    assert tempo.seconds(Duration(8, "beats")) == pytest.approx(3.75)
    assert tempo.describe() == "128.0 BPM (tapped)"
    tempo.clear()
    assert tempo.bpm is None and tempo.describe() == "no tempo"


def test_a_tempo_nobody_dances_to_is_a_mistake() -> None:
    with pytest.raises(ValueError, match="not a tempo"):
        Tempo(900)


def test_taps_give_the_mean_interval_and_a_long_pause_starts_again() -> None:
    taps = TapTempo()
    assert taps.tap(10.0) is None
    assert taps.tap(10.5) == pytest.approx(120)
    assert taps.tap(11.0) == pytest.approx(120) and taps.tap(11.48) == pytest.approx(60 * 3 / 1.48)
    assert taps.tap(20.0) is None  # a new count
    assert taps.tap(20.47) == pytest.approx(60 / 0.47)
