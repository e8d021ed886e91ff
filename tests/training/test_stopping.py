"""Early stopping keeps the epoch that understands the most commands."""

from __future__ import annotations

from djtui.training.stopping import EarlyStopping
from djtui.training.validation import Metrics


def test_the_best_epoch_understands_most_commands_then_has_the_fewest_word_errors():
    early = EarlyStopping(patience=2)
    assert early.improved(Metrics(0.5, 0.3, 0.50, 10), 1)
    assert early.improved(Metrics(0.6, 0.3, 0.60, 10), 2)  # more commands right beats a lower WER
    assert not early.improved(Metrics(0.2, 0.1, 0.55, 10), 3)
    assert early.improved(Metrics(0.4, 0.2, 0.60, 10), 4)
    assert not early.improved(Metrics(0.4, 0.2, 0.60, 10), 5) and not early.exhausted
    assert not early.improved(Metrics(0.9, 0.9, 0.10, 10), 6) and early.exhausted
    assert early.best_epoch == 4
