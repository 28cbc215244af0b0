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
}


@pytest.fixture(scope="module")
def host() -> PluginHost:
    return PluginHost()


def plan_for(host: PluginHost, requests: list[tuple[str, dict]]) -> FeaturePlan:
    steps = [TransformStep(host.transforms.get(t), host.transforms.get(t).parse_options(o)) for t, o in requests]
    return FeaturePlan(COLUMNS, steps)


def series(n: int = 80, seed: int = 0) -> np.ndarray:
    # Large offsets and small spreads stress the numerics (rolling std of 1000 ± 0.01).
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 3)) * [0.01, 1.0, 50.0] + [1000.0, -3.0, 0.0]


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
        altered[cut + 1 :] = np.random.default_rng(cut).normal(size=altered[cut + 1 :].shape) * 1e6
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
    plan = FeaturePlan(COLUMNS, [TransformStep(spec, Opts())])
    X = series(20, seed=3)
    reference = plan.frame(X)
    for t in range(len(X)):
        np.testing.assert_allclose(plan.latest(X[max(0, t - 2) : t + 1]), reference[t])


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
    with pytest.raises(InvalidInput, match="looks back 5001 rows"):
        steps(include_lags=True, lag_periods=[5000], window_size=1000)
    with pytest.raises(InvalidInput, match="must be an object"):
        steps(transforms=["diff"])
    assert [s.spec.id for s in steps(rolling_windows=[3], include_lags=True, transforms=[{"transform": "diff"}])] == [
        "rolling", "lag", "diff"]
