"""The surprise detector's long-run history: a record of the last 1,000 values must also be rare
over the last ``long_reference`` values to score as one.

The history keeps only the extremes of each past block of 1,000 values; these tests hold it to
a brute-force count over the values it stands for, check that it survives refits and
checkpoint restores, and that on a stream it silences a repeat of an old burst while still
catching a burst larger than any before.
"""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

from anomd import StreamingAnomalyDetector
from anomd.timeseries.timestamps import iso
from anomd_builtins.detectors._long_run import LongRunExtremes
from anomd_builtins.detectors.surprise import SurpriseDetector, SurpriseParams

START = 1709251200.0  # 2024-03-01T00:00:00Z


def _brute_force(values: np.ndarray, v: float, window: int, horizon: int, block: int) -> float | None:
    """The long-run surprise of ``v`` after ``values``, from every value of the eligible blocks."""
    seen = len(values)
    oldest, reach = seen - window, seen - horizon
    eligible = [values[b * block : (b + 1) * block] for b in range(seen // block)
                if (b + 1) * block <= oldest and b * block >= reach]
    if not eligible:
        return None
    older = np.concatenate(eligible)
    recent = values[oldest:]
    count = int((older >= v).sum()) if v > recent.max() else int((older <= v).sum())
    if count == 0:
        return None
    return -math.log(2.0 * (count + 1) / (window + older.size + 1))


@pytest.mark.parametrize("n", [999, 1000, 4321, 12_000])
def test_building_from_values_equals_adding_them_one_by_one(n: int) -> None:
    values = np.random.default_rng(n).normal(size=n)
    added = LongRunExtremes(5000)
    for v in values.tolist():
        added.add(v)
    built = LongRunExtremes.of(values, 5000)
    assert (built.seen, built.high, built.low, list(built.closed)) == (added.seen, added.high, added.low, list(added.closed))


def test_the_surprise_of_a_record_is_its_rank_among_the_older_values() -> None:
    """With every value of a block kept (k = block), the count is exact; with k = 8 it is exact
    for any value that at most 8 values of each block reach."""
    rng = np.random.default_rng(1)
    values = rng.standard_t(3, size=7_400)
    window, horizon, block = 1000, 5000, 1000
    exact = LongRunExtremes.of(values, horizon, block, k=block)
    compact = LongRunExtremes.of(values, horizon, block, k=8)
    recent = values[-window:]
    low, high = float(recent.min()), float(recent.max())
    checked = 0
    for v in np.concatenate([np.linspace(high + 1e-9, high + 6, 40), np.linspace(low - 6, low - 1e-9, 40)]).tolist():
        truth = _brute_force(values, v, window, horizon, block)
        assert exact.surprise(v, low, high, window) == pytest.approx(truth) if truth is not None else exact.surprise(v, low, high, window) is None
        blocks = [values[b * block : (b + 1) * block] for b in range(len(values) // block)]
        if max(int((b >= v).sum()) if v > high else int((b <= v).sum()) for b in blocks) <= 8:
            got = compact.surprise(v, low, high, window)
            assert (got is None and truth is None) or got == pytest.approx(truth)
            checked += 1
    assert checked > 40  # the comparison ran on most of the values


def test_the_history_stays_small_however_long_the_stream() -> None:
    history = LongRunExtremes(5000)
    for v in np.random.default_rng(2).normal(size=60_000).tolist():
        history.add(v)
    assert len(history.closed) <= 5000 // 1000 + 1
    assert all(len(extremes) == 2 * 8 for _, extremes in history.closed)
    assert len(pickle.dumps(history)) < 2_000


def _bursts(n: int, at: dict[int, float], seed: int = 0) -> list[dict]:
    """Noisy counts every 5 minutes, with a burst of ``size`` at each position of ``at``."""
    rng = np.random.default_rng(seed)
    value = 100 + rng.normal(scale=5, size=n)
    for i, size in at.items():
        value[i : i + 3] += size
    t = START + 300.0 * np.arange(n)
    return [{"timestamp": iso(ts), "value": v} for ts, v in zip(t.tolist(), value.tolist())]


def _peak(out, at: int) -> float:
    return float(out.score[at : at + 5].max())


def test_a_repeat_of_an_old_burst_is_not_an_incident_but_a_larger_one_is() -> None:
    """A burst of +70 at point 1,500, a smaller one of +60 at 3,600 (2,100 points later: older
    than the reference of 1,000, inside the long run of 5,000), then one of +120 at 5,400.
    Judged on the reference alone, the second is far beyond anything in it (score over 0.4:
    rarer than one in 10,000); with the long run it is what it is, about the third most
    extreme value in 3,000, while the first and the largest stay far out."""
    points = _bursts(6000, {1500: 70.0, 3600: 60.0, 5400: 120.0})
    default = StreamingAnomalyDetector("bursts").process_many(points)
    short_only = StreamingAnomalyDetector("bursts", params={"long_reference": 0}).process_many(points)
    assert _peak(default, 1500) > 0.4 and _peak(short_only, 1500) > 0.4
    assert _peak(short_only, 3600) > 0.4, "the reference alone must call the repeat far out"
    assert _peak(default, 3600) < 0.25, "a burst smaller than one 2,100 points old is a record, no more"
    assert _peak(default, 5400) > 0.4, "a burst twice as large as any before must stand out"
    assert default.raw[3600:3603].max() < short_only.raw[3600:3603].max()


def test_refits_carry_the_history_over_and_replays_agree() -> None:
    """Refits every 500 points rebuild the references from the window; the long run lives on
    in the model that lands, and two replays give the same scores."""
    points = _bursts(4200, {1500: 60.0, 3600: 60.0}, seed=3)
    first = StreamingAnomalyDetector("carry")
    out = first.process_many(points)
    histories = first._model.detector.histories_
    assert first.get_stats()["retrains_completed"] >= 7
    # Every point counts, but for the rows where a feature is still partial (the value: none;
    # the seasonal residual of a series without a period: its first; the rolling means: the 63
    # before their longest window is full).
    whole = [len(points) - warm for warm in first._model.plan.warmups]
    assert whole == [len(points), len(points) - 1] + [len(points) - 63] * 3
    assert [h.seen for h in histories] == whole
    again = StreamingAnomalyDetector("carry")
    for i in range(0, len(points), 700):
        again.process_many(points[i : i + 700])
    replayed = StreamingAnomalyDetector("carry").process_many(points)
    np.testing.assert_array_equal(out.raw, replayed.raw)
    assert [h.seen for h in again._model.detector.histories_] == whole


def test_a_model_pickled_before_the_long_run_existed_still_scores() -> None:
    """Checkpoints written by earlier versions hold a detector without ``histories_``: it judges
    records on its reference alone until its next refit."""
    X = np.random.default_rng(4).normal(size=(1500, 2))
    detector = SurpriseDetector(SurpriseParams(reference=500), 0.01).fit(X)
    assert detector.histories_ is not None
    state = dict(detector.__dict__)
    del state["histories_"]
    old = SurpriseDetector.__new__(SurpriseDetector)
    old.__setstate__(state)
    plain = SurpriseDetector(SurpriseParams(reference=500, long_reference=0), 0.01).fit(X)
    rows = np.array([[9.0, 0.0], [0.1, -9.0]])
    np.testing.assert_array_equal(old.score(rows), plain.score(rows))
    old.learn_row([1.0, 1.0])  # learning works without a history too


def test_batch_fit_on_a_long_training_set_uses_its_older_rows() -> None:
    """``/fit`` with a short ``reference``: rows older than the reference are the long run."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(4000, 1))
    X[1200, 0] = 8.0  # an old extreme, outside the last 1,000 rows
    with_history = SurpriseDetector(SurpriseParams(reference=1000), 0.01).fit(X)
    reference_only = SurpriseDetector(SurpriseParams(reference=1000, long_reference=0), 0.01).fit(X)
    row = np.array([[7.5]])  # past the reference's range, below the old extreme
    assert with_history.score(row)[0] < reference_only.score(row)[0]
    assert with_history.score_row([7.5]) == with_history.score(row)[0]
    far = np.array([[12.0]])  # beyond everything: the long run has nothing as extreme
    assert with_history.score(far)[0] == reference_only.score(far)[0]
