"""Transform plugins: the per-point kernels equal the Polars expressions, and both are causal."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from anomd.errors import InvalidInput
from anomd.plugins import PluginHost
from anomd.streaming.config import StreamConfig
from anomd.streaming.features import FeaturePlan, TransformStep
from anomd.transforms import TransformSpec

COLUMNS = ("pressure", "temp", "vibration")

CASES = {
    "rolling": [("rolling", {"windows": [1, 3, 10]})],
    "rolling-some-stats": [("rolling", {"windows": [4], "stats": ["max", "std"]})],
    "lag": [("lag", {"periods": [1, 2, 5]})],
    "diff": [("diff", {"periods": [1, 3]})],
    "all": [("rolling", {"windows": [5, 10]}), ("lag", {"periods": [1, 2]}), ("diff", {"periods": [1]})],
    "seasonal": [("seasonal", {"period": 7, "cycles": 3, "tolerance": 1})],
    "seasonal-diff": [("seasonal", {"period": 4})],
    "calendar": [("calendar", {"timezone": "America/New_York"})],
    "subsequence": [("subsequence", {"length": 5}), ("subsequence", {"length": 3, "normalize": "none"})],
    "series-pipeline": [("seasonal", {"period": 6, "cycles": 3, "tolerance": 1}),
                        ("rolling", {"windows": [16], "stats": ["mean"]}), ("calendar", {})],
}


@pytest.fixture(scope="module")
def host() -> PluginHost:
    return PluginHost()


def plan_for(host: PluginHost, requests: list[tuple[str, dict]]) -> FeaturePlan:
    """A timed plan: the rows end with their timestamp, as a stream of timestamped points'."""
    steps = [TransformStep(host.transforms.get(t), host.transforms.get(t).parse_options(o)) for t, o in requests]
    return FeaturePlan(COLUMNS, steps, timed=True)


def series(n: int = 80, seed: int = 0) -> np.ndarray:
    # Large offsets and small spreads stress the numerics (rolling std of 1000 ± 0.01); the
    # timestamps (last column) are 10 minutes apart with gaps, across midnight and a weekend.
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(n, 3)) * [0.01, 1.0, 50.0] + [1000.0, -3.0, 0.0]
    times = 1709420400.0 + np.cumsum(600.0 * rng.choice([1, 1, 1, 6], size=n))
    return np.column_stack([values, times])


def test_builtin_transforms_are_registered_as_plugins(host: PluginHost) -> None:
    assert {"rolling", "lag", "diff"} <= set(host.transforms)
    for name in ("rolling", "lag", "diff"):
        record = host.records[f"anomd_builtins.transforms.{name}"]
        assert record.status == "loaded" and f"transform:{name}" in record.provides


@pytest.mark.parametrize("case", sorted(CASES))
def test_kernel_equals_polars_expressions_on_every_row(host: PluginHost, case: str) -> None:
    plan = plan_for(host, CASES[case])
    X = series()
    reference = plan.frame(X)
    assert reference.shape == (len(X), plan.width) and np.isfinite(reference).all()
    for t in range(len(X)):
        tail = X[max(0, t - plan.lookback + 1) : t + 1]
        np.testing.assert_allclose(plan.latest(tail), reference[t], rtol=1e-9, atol=1e-9,
                                   err_msg=f"row {t} of case {case}")


@pytest.mark.parametrize("case", sorted(CASES))
def test_features_are_causal(host: PluginHost, case: str) -> None:
    """Changing or adding later rows never changes an earlier row's features."""
    plan = plan_for(host, CASES[case])
    X = series(seed=1)
    reference = plan.frame(X)
    for cut in (0, 7, 40):
        altered = X.copy()
        later = altered[cut + 1 :, :-1]
        altered[cut + 1 :, :-1] = np.random.default_rng(cut).normal(size=later.shape) * 1e6
        altered[cut + 1 :, -1] += np.random.default_rng(cut).integers(0, 86_400, size=len(later)).cumsum()
        np.testing.assert_array_equal(plan.frame(altered)[: cut + 1], reference[: cut + 1])
        np.testing.assert_array_equal(plan.frame(X[: cut + 1]), reference[: cut + 1])


@pytest.mark.parametrize("case", sorted(CASES))
def test_batch_rows_after_history_equal_whole_series(host: PluginHost, case: str) -> None:
    plan = plan_for(host, CASES[case])
    X = series(seed=2)
    reference = plan.frame(X)
    for split, size in ((0, 5), (3, 1), (30, 25), (79, 1)):
        new = plan.new_rows(X[:split], X[split : split + size])
        np.testing.assert_allclose(new, reference[split : split + size], rtol=1e-12, atol=1e-12)


def test_feature_names_follow_the_expressions(host: PluginHost) -> None:
    plan = plan_for(host, CASES["all"])
    assert plan.names[:3] == list(COLUMNS)
    assert "temp_rolling_mean_5" in plan.names and "vibration_rolling_max_10" in plan.names
    assert "pressure_lag_2" in plan.names and "temp_diff_1" in plan.names
    assert plan.width == 3 + 3 * 4 * 2 + 3 * 2 + 3
    assert plan.lookback == 10


def test_a_transform_without_kernel_is_evaluated_through_its_expressions() -> None:
    """Third-party transforms may give only expressions; the streaming path still agrees."""

    import msgspec

    class Opts(msgspec.Struct, forbid_unknown_fields=True):
        span: int = 3

    spec = TransformSpec(
        id="cummax-recent", description="max of the last `span` rows", options=Opts,
        expressions=lambda cols, o: [pl.col(c).rolling_max(o.span, min_samples=1).alias(f"{c}_rmax") for c in cols],
        lookback=lambda o: o.span,
    )
    plan = FeaturePlan(COLUMNS, [TransformStep(spec, Opts())], timed=True)
    X = series(20, seed=3)
    reference = plan.frame(X)
    for t in range(len(X)):
        np.testing.assert_allclose(plan.latest(X[max(0, t - 2) : t + 1]), reference[t])


def test_a_seasonal_period_is_found_on_the_training_rows_and_used_live(host: PluginHost) -> None:
    """resolve() settles the period on the rows a model is fitted on; the settled plan's kernel
    and expressions agree, and a series with a 24-point rhythm gets period 24."""
    plan = plan_for(host, [("seasonal", {"cycles": 3, "tolerance": 1, "max_period": 200})])
    n = 600
    t = np.arange(n)
    values = np.column_stack([np.sin(2 * np.pi * t / 24) * 10 + 100, np.cos(t), t % 5])
    rows = np.column_stack([values, 1709420400.0 + 3600.0 * t])
    settled = plan.resolved(rows)
    assert settled.steps[0].options.period == 24 and plan.steps[0].options.period is None
    reference = settled.frame(rows)
    # A perfect daily rhythm: nothing unexpected, up to what the one-step phase jitter allows
    # at a peak (the median of the neighbouring phases, 10 * (1 - cos(2 pi / 24)) = 0.34).
    assert np.abs(reference[100:, 3]).max() < 0.35 and np.abs(reference[100:, 0] - 100).max() > 9
    for i in range(0, n, 37):
        tail = rows[max(0, i - settled.lookback + 1) : i + 1]
        np.testing.assert_allclose(settled.latest(tail), reference[i], rtol=1e-9, atol=1e-9)
    flat = plan.resolved(np.column_stack([np.random.default_rng(0).normal(size=(600, 3)), rows[:, -1]]))
    assert flat.steps[0].options.period == 0 and not flat.frame(rows).any(axis=0)[3]


def test_calendar_features_need_timestamps(host: PluginHost) -> None:
    step = TransformStep(host.transforms.get("calendar"), host.transforms.get("calendar").parse_options({}))
    with pytest.raises(InvalidInput, match="transform 'calendar' reads the points' timestamps"):
        FeaturePlan(COLUMNS, [step])
    plan = FeaturePlan(COLUMNS, [step], timed=True)
    noon_sunday = 1709467200.0  # 2024-03-03T12:00:00Z
    features = dict(zip(plan.names, plan.latest(np.array([[1.0, 2.0, 3.0, noon_sunday]]))))
    assert features["hour_of_day_sin"] == pytest.approx(0.0, abs=1e-12)
    assert features["hour_of_day_cos"] == pytest.approx(-1.0)
    # Sunday noon is 6.5 days into the week: 2*pi*156/168.
    assert features["day_of_week_sin"] == pytest.approx(np.sin(2 * np.pi * 156 / 168))


def test_duplicate_feature_names_are_refused(host: PluginHost) -> None:
    with pytest.raises(InvalidInput, match="duplicate feature names"):
        plan_for(host, [("lag", {"periods": [1]}), ("lag", {"periods": [1]})])


def test_bad_transform_requests_name_the_problem(host: PluginHost) -> None:
    def steps(**fields):
        return StreamConfig(**fields).steps(host.transforms)

    with pytest.raises(InvalidInput, match="unknown transform 'fft'"):
        steps(transforms=[{"transform": "fft"}])
    with pytest.raises(InvalidInput, match="transform 'rolling'"):
        steps(transforms=[{"transform": "rolling", "windows": [5], "bogus": 1}])
    with pytest.raises(InvalidInput, match="transform 'rolling'"):
        steps(rolling_windows=[0])
    with pytest.raises(InvalidInput, match="looks back 5001 rows, more than 4 times window_size"):
        steps(include_lags=True, lag_periods=[5000], window_size=1000)
    with pytest.raises(InvalidInput, match="must be an object"):
        steps(transforms=["diff"])
    assert [s.spec.id for s in steps(rolling_windows=[3], include_lags=True, transforms=[{"transform": "diff"}])] == [
        "rolling", "lag", "diff"]
