import pytest

from djtui.core.stats import percentile, summary


def test_percentiles_interpolate_like_numpy() -> None:
    np = pytest.importorskip("numpy")
    values = [5.0, 1.0, 3.0, 10.0, 7.5, 2.0]
    for q in (0, 10, 50, 90, 95, 100):
        assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))


def test_summary_and_bad_input() -> None:
    assert summary([]) == {}
    assert summary([1, 2, 3, 4]) == {"n": 4, "p50": 2.5, "p90": 3.7, "p95": 3.9, "p99": 4.0, "mean": 2.5}
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0], 101)
