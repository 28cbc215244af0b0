"""The transform contract passes the built-ins and names the promise a broken transform breaks.

The broken transforms below are each wrong in exactly one way, so every test shows that one
check notices its own kind of mistake (and a passing built-in shows the checks are not simply
strict about everything).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import msgspec
import numpy as np
import polars as pl
import pytest

import anomd.testing
from anomd.plugins import PluginHost
from anomd.testing import check_transform
from anomd.testing.transform_contract import CHECKS
from anomd.transforms import TransformSpec

BUILTIN_OPTIONS = {
    "rolling": {"windows": [1, 4, 9]},
    "lag": {"periods": [1, 3]},
    "diff": {"periods": [2]},
    "seasonal": {"period": 5, "cycles": 3, "tolerance": 1},
    "calendar": {"timezone": "Europe/Paris"},
    "subsequence": {"length": 6},
}


@pytest.fixture(scope="module")
def host() -> PluginHost:
    return PluginHost()


@pytest.mark.parametrize("name", sorted(BUILTIN_OPTIONS))
def test_builtin_transforms_pass(host: PluginHost, name: str) -> None:
    report = check_transform(host.transforms.get(name), options=BUILTIN_OPTIONS[name])
    assert report.transform == name
    assert report.passed == list(CHECKS)
    assert report.lookback is not None and report.lookback >= 1
    assert report.features
    # Features are per column, but for the calendar's, which describe each point's time.
    prefixes = ("hour_of_day_", "day_of_week_") if name == "calendar" else ("temp_", "pressure_", "flow_rate_")
    assert all(f.startswith(prefixes) for f in report.features)


def test_builtin_defaults_pass(host: PluginHost) -> None:
    # Every option of these has a default; None must check exactly those (seasonal then finds
    # its period on the probe series, which has none: its feature is 0 throughout).
    for name in ("lag", "diff", "seasonal", "calendar", "subsequence"):
        assert check_transform(host.transforms.get(name)).passed == list(CHECKS)


def test_a_resolve_that_looks_back_further_than_promised_is_caught() -> None:
    import msgspec

    class Opts(msgspec.Struct, forbid_unknown_fields=True):
        span: int | None = None

    spec = TransformSpec(
        id="greedy", description="rolling mean over a span settled on the data", options=Opts,
        expressions=lambda cols, o: [pl.col(c).rolling_mean(o.span or 2, min_samples=1).alias(f"{c}_m") for c in cols],
        lookback=lambda o: o.span or 2,
        resolve=lambda o, rows, times: Opts(span=5) if o.span is None else o,
    )
    with pytest.raises(AssertionError, match=r"resolve: the settled options look back 5 rows, more than the 2"):
        check_transform(spec)


def test_exported_lazily_from_anomd_testing() -> None:
    assert "check_transform" in anomd.testing.__all__
    assert anomd.testing.check_transform is check_transform
    assert anomd.testing.StorageContract.__name__ == "StorageContract"  # still lazy and working


# -- a correct reference transform, and one-mistake variants of it ---------------------------


class MeanOptions(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    window: int = 3


class LooseOptions(msgspec.Struct, kw_only=True):  # accepts unknown keys: a contract failure
    window: int = 3


def mean_expressions(columns: Sequence[str], o: MeanOptions) -> list[pl.Expr]:
    return [pl.col(c).rolling_mean(o.window, min_samples=1).alias(f"{c}_mean_{o.window}") for c in columns]


def mean_latest(tail: np.ndarray, o: MeanOptions) -> np.ndarray:
    return tail[-o.window :].mean(axis=0)


def make(**changes) -> TransformSpec:
    """The reference transform with ``changes`` applied: one deliberate mistake per test."""
    fields = {
        "id": "trailing_mean",
        "description": "Trailing mean of each column.",
        "options": MeanOptions,
        "expressions": mean_expressions,
        "lookback": lambda o: o.window,
        "latest": mean_latest,
    }
    return TransformSpec(**{**fields, **changes})


def failed_checks(spec: TransformSpec) -> dict[str, str]:
    """Runs the contract, expecting failure, and returns ``{check: message}`` it listed."""
    with pytest.raises(AssertionError) as info:
        check_transform(spec)
    message = str(info.value)
    assert message.startswith(f"anomd transform contract: transform {spec.id!r} failed")
    return dict(re.findall(r"^  - (\w+): (.*)$", message, flags=re.MULTILINE))


def test_reference_transform_passes() -> None:
    report = check_transform(make())
    assert report.passed == list(CHECKS) and report.lookback == 3
    # Without a kernel the transform is still valid: the runtime evaluates the expressions.
    assert check_transform(make(latest=None)).passed == list(CHECKS)


def test_look_ahead_is_caught() -> None:
    def peeking(columns, o):
        return [pl.col(c).shift(-1).fill_null(pl.col(c)).alias(f"{c}_next") for c in columns]

    failures = failed_checks(make(expressions=peeking, latest=None, lookback=lambda o: 1))
    assert "causality" in failures and "looks ahead" in failures["causality"]
    assert "expressions" not in failures  # no nulls, unique names: only causality is wrong


def test_disagreeing_kernel_is_caught() -> None:
    def off_by_window(tail, o):  # averages one row too many once enough history exists
        return tail[-(o.window + 1) :].mean(axis=0)

    failures = failed_checks(make(latest=off_by_window, lookback=lambda o: o.window + 1))
    assert set(failures) == {"latest"}
    assert "differs from the expressions" in failures["latest"]


def test_kernel_of_wrong_length_is_caught() -> None:
    failures = failed_checks(make(latest=lambda tail, o: tail[-1, :1]))
    assert set(failures) == {"latest"} and "shape" in failures["latest"]


def test_too_short_lookback_is_caught() -> None:
    failures = failed_checks(make(lookback=lambda o: o.window - 1))
    assert "lookback" in failures and "need more history" in failures["lookback"]
    assert "causality" not in failures  # the expressions themselves are fine


def test_zero_lookback_is_caught() -> None:
    failures = failed_checks(make(lookback=lambda o: 0, latest=None))
    assert set(failures) == {"lookback"} and ">= 1" in failures["lookback"]


def test_nulls_are_caught() -> None:
    def unfilled_lag(columns, o):
        return [pl.col(c).shift(1).alias(f"{c}_prev") for c in columns]

    failures = failed_checks(make(expressions=unfilled_lag, latest=None, lookback=lambda o: 2))
    assert set(failures) == {"expressions"} and "null values" in failures["expressions"]


def test_duplicate_alias_is_caught() -> None:
    def same_name(columns, o):
        return [pl.col(c).rolling_mean(o.window, min_samples=1).alias("mean") for c in columns]

    failures = failed_checks(make(expressions=same_name, latest=None))
    assert "expressions" in failures and "duplicate feature names ['mean']" in failures["expressions"]


def test_raw_column_name_clash_is_caught() -> None:
    def overwrites(columns, o):
        return [pl.col(c).rolling_mean(o.window, min_samples=1).alias(c) for c in columns]

    failures = failed_checks(make(expressions=overwrites, latest=None))
    assert "expressions" in failures and "reuse raw column names" in failures["expressions"]


def test_non_finite_values_are_caught() -> None:
    def log_of_negative(columns, o):
        return [pl.col(c).log().alias(f"{c}_log") for c in columns]

    failures = failed_checks(make(expressions=log_of_negative, latest=None, lookback=lambda o: 1))
    assert set(failures) == {"expressions"} and "non-finite" in failures["expressions"]


def test_unknown_option_accepted_is_caught() -> None:
    failures = failed_checks(make(options=LooseOptions))
    assert set(failures) == {"options"} and "forbid_unknown_fields" in failures["options"]


def test_empty_metadata_is_caught() -> None:
    failures = failed_checks(make(id="Trailing Mean", description=" "))
    assert set(failures) == {"metadata"}
    assert "id 'Trailing Mean'" in failures["metadata"] and "description" in failures["metadata"]


def test_options_that_do_not_parse_are_reported_not_crashing() -> None:
    with pytest.raises(AssertionError, match=r"options: .*invalid options for transform 'trailing_mean'"):
        check_transform(make(), options={"window": "three"})


def test_not_a_spec_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="expects a TransformSpec"):
        check_transform({"id": "rolling"})  # type: ignore[arg-type]
