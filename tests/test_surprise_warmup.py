"""A feature still partial at a stream's start (a 64-point mean of the first few points) is kept
out of the ``surprise`` detector's reference until it is whole (``set_warmup``)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from anomd import StreamingAnomalyDetector
from anomd.plugins import PluginHost
from anomd.streaming.features import FeaturePlan, TransformStep
from anomd.timeseries.timestamps import iso
from anomd_builtins.detectors.surprise import SurpriseDetector, SurpriseParams

START = 1_700_000_000.0


def _step(transform: str, **options) -> TransformStep:
    spec = PluginHost().transforms.get(transform)
    return TransformStep(spec, spec.parse_options(options))


def test_the_plan_names_each_features_warm_up_from_its_transforms_lookback() -> None:
    plan = FeaturePlan(("a", "b"), [_step("rolling", windows=[4, 64], stats=["mean"]),
                                    _step("seasonal", period=10, cycles=3, tolerance=1),
                                    _step("lag", periods=[2])])
    assert plan.names == ["a", "b", "a_rolling_mean_4", "b_rolling_mean_4", "a_rolling_mean_64",
                          "b_rolling_mean_64", "a_seasonal", "b_seasonal", "a_lag_2", "b_lag_2"]
    # The raw values are whole from the first row; a transform once it has its lookback (the
    # longest window of a rolling step; three cycles and the jitter of a seasonal one).
    assert plan.warmups == (0, 0, 63, 63, 63, 63, 31, 31, 2, 2)


def _detector(warmup: list[int] | None, X: np.ndarray) -> SurpriseDetector:
    detector = SurpriseDetector(SurpriseParams(), 0.01)
    if warmup is not None:
        detector.set_warmup(warmup, 0)
    return detector.fit(X)


def test_partial_rows_neither_join_the_reference_nor_are_scored() -> None:
    """Feature 1's first ten rows are a start-up artefact 1,000 times its usual size. Kept in
    the reference they make a later excursion of 50 look ordinary (inside the range); kept
    out, it is far past everything whole."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 2))
    X[:10, 1] = 1000.0
    plain, warmed = _detector(None, X), _detector([0, 10], X)
    assert len(plain.windows_[1]) == 300 and len(warmed.windows_[1]) == 290
    assert max(warmed.windows_[1].order) < 10.0
    assert warmed.histories_[1].seen == 290 and warmed.histories_[0].seen == 300
    assert plain.score_row([0.0, 50.0]) < 6.0
    assert warmed.score_row([0.0, 50.0]) > 20.0
    assert warmed.training_scores_[:10].max() < 6.0  # the artefact rows are not scored on it
    assert warmed.row_ == 300


def test_rows_learned_during_the_warm_up_are_left_out_then_counted() -> None:
    """Fitted on the first 30 rows of a series whose feature 1 is partial for 50: the 20 rows
    after the fit are scored without it and not learned into it; the rest are."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 2))
    X[:50, 1] = 1000.0  # partial
    detector = SurpriseDetector(SurpriseParams(), 0.01)
    detector.set_warmup([0, 50], 0)
    detector.fit(X[:30])
    assert len(detector.windows_[1]) == 0
    one_by_one = pickle.loads(pickle.dumps(detector))
    raws = detector.score_learn_many(X[30:])
    for i, row in enumerate(X[30:].tolist()):
        assert one_by_one.score_row(row) == pytest.approx(raws[i])
        one_by_one.learn_row(row)
    for model in (detector, one_by_one):
        assert model.row_ == 200 and model.histories_[1].seen == 150
        assert len(model.windows_[1]) == 30 and max(model.windows_[1].order) < 10.0  # newest 30
    # Rows scored before any whole value of a feature get nothing from it.
    assert (raws[:20] < 5.0).all()


def test_a_model_pickled_before_the_warm_up_existed_treats_every_row_as_whole() -> None:
    X = np.random.default_rng(2).normal(size=(100, 2))
    detector = _detector(None, X)
    state = {k: v for k, v in detector.__dict__.items() if k not in ("warmup_", "row_", "warm_end_")}
    old = SurpriseDetector.__new__(SurpriseDetector)
    old.__setstate__(state)
    assert old.warmup_ is None and old.warm_end_ == 0
    assert old.score_row([0.0, 0.5]) == detector.score_row([0.0, 0.5])
    raws = old.score_learn_many(np.array([[0.0, 0.5], [0.1, 40.0]]))
    assert raws[1] > 10.0 and [len(w) for w in old.windows_] == [100, 100]  # full: one in, one out
    assert [h.seen for h in old.histories_] == [102, 102]


def _spikes(n: int, extra: tuple[int, ...]) -> list[dict]:
    """A spike of 20 every 100 points and 6 points later, from the very first point (a stream
    that starts on a spike), plus spikes at ``extra``; 0 in between."""
    values = np.zeros(n)
    values[::100] = values[6::100] = 20.0
    values[list(extra)] = 20.0
    return [{"timestamp": iso(START + 300.0 * i), "value": float(v)} for i, v in enumerate(values)]


def test_a_stream_that_starts_on_a_spike_still_sees_spikes_come_closer_together() -> None:
    """Spikes twice every 100 points, then four in 15 points. Their recent means are records,
    unless a 64-point mean of the stream's first point (a spike: 20, a record no later mean
    reaches) stands in the reference, as it did before the warm-up."""
    points = _spikes(3000, (2005, 2010, 2015))
    out = StreamingAnomalyDetector("dense").process_many(points)
    assert out.score[2000:2020].max() > 0.25
    assert not out.flag[700:2000].any() and not out.flag[2100:].any()


def test_without_the_warm_up_the_denser_spikes_are_missed(monkeypatch) -> None:
    """The control for the test above: the same stream, the warm-up switched off."""
    monkeypatch.setattr(SurpriseDetector, "set_warmup", lambda self, rows, first: None)
    out = StreamingAnomalyDetector("dense").process_many(_spikes(3000, (2005, 2010, 2015)))
    assert out.score[2000:2020].max() < 0.2


@pytest.mark.data("nab")
def test_nab_increase_spike_density_is_caught_with_nothing_flagged_outside_it() -> None:
    """NAB's art_increase_spike_density: the same shape, labelled. Missed before the warm-up
    (peak 0.18); now flagged in its window and nowhere else after NAB's probation."""
    from benchmarks.nab import load_series
    from benchmarks.nab_scoring import probation_rows

    _, ts, values, windows = next(s for s in load_series() if s[0].endswith("art_increase_spike_density.csv"))
    seconds = ts.astype("datetime64[s]").astype(np.int64).tolist()
    out = StreamingAnomalyDetector("nab").process_many([{"timestamp": t, "value": v} for t, v in zip(seconds, values.tolist())])
    (left, right), = windows
    assert out.flag[left : right + 1].any()
    outside = np.ones(len(values), dtype=bool)
    outside[left : right + 1] = False
    outside[: probation_rows(len(values))] = False
    assert not out.flag[outside].any()
