"""The transform contract: one call a plugin author runs against their :class:`TransformSpec`.

A transform's expressions build the training matrix of every streaming retrain, while live
points go through its ``latest`` kernel (or through the expressions on the last ``lookback``
rows). The runtime can only keep those two paths in agreement if the transform keeps a few
promises: its features are causal, its look-back is long enough, its kernel follows its
expressions, and it never emits nulls or clashing names. A broken promise does not crash
anything; it quietly makes live scores mean something else than training scores. That is
why :func:`check_transform` checks each promise on a small random series and reports every
broken one by name before an operator meets it as unexplained false alarms.

Use it as a plain function or from pytest::

    from anomd.testing import check_transform
    from my_plugin import SPEC

    def test_contract():
        check_transform(SPEC, options={"span": 10})

Every check runs even when an earlier one fails, so one run lists every problem at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec
import numpy as np
import polars as pl

from anomd.errors import InvalidInput
from anomd.testing.check_runner import ID_PATTERN, NotRun, describe, raise_failures, run_checks
from anomd.transforms import TIME_COLUMN, TransformSpec

#: Every check, in the order it runs.
CHECKS: tuple[str, ...] = (
    "metadata",
    "options",
    "expressions",
    "causality",
    "lookback",
    "latest",
    "resolve",
)

#: Raw column names of the probe series; deliberately not ``x0``... so a transform that
#: hard-codes a column name instead of using ``columns`` is caught.
COLUMNS: tuple[str, ...] = ("temp", "pressure", "flow_rate")

_UNKNOWN_KEY = "anomd_contract_unknown_key"
# Row-by-row agreement tolerances: the kernel may sum in another order than Polars does.
_RTOL = 1e-9
_ATOL = 1e-9


@dataclass
class TransformReport:
    """What :func:`check_transform` found for one transform.

    Attributes:
        transform: The spec's id.
        passed: Checks that passed.
        features: The feature names the expressions produced on the probe series.
        lookback: What the spec's ``lookback`` returned for the options checked.
    """

    transform: str
    passed: list[str] = field(default_factory=list)
    features: list[str] = field(default_factory=list)
    lookback: int | None = None


def probe_times(seed: int = 0, rows: int = 64) -> np.ndarray:
    """Timestamps of the probe series (seconds): every 5 minutes with a few gaps, across a
    midnight and a week boundary, so calendar features change along the series."""
    rng = np.random.default_rng(seed + 1)
    steps = 300.0 * rng.choice([1, 1, 1, 2, 12], size=rows)
    return 1709420400.0 + np.cumsum(steps)  # from 2024-03-02T23:00:00Z (a Saturday)


def probe_series(seed: int = 0, rows: int = 64) -> np.ndarray:
    """The random multi-column series the checks evaluate transforms on.

    Columns have very different offsets and spreads (around 1000 ± 0.01, -3 ± 1, 0 ± 50) so
    numerically careless kernels (e.g. a one-pass variance) disagree visibly with Polars, and
    so a transform mixing up column order produces different numbers, not the same ones.
    """
    rng = np.random.default_rng(seed)
    return rng.normal(size=(rows, len(COLUMNS))) * [0.01, 1.0, 50.0] + [1000.0, -3.0, 0.0]


class _Contract:
    """Holds the parsed options and the reference features the checks share."""

    def __init__(self, spec: TransformSpec, options: Mapping[str, Any] | None, seed: int) -> None:
        self.spec = spec
        self.raw_options = dict(options or {})
        self.X = probe_series(seed)
        self.times = probe_times(seed)
        self.report = TransformReport(spec.id)
        self._options: msgspec.Struct | None = None
        self._options_error: str | None = None
        self._reference: np.ndarray | None = None
        self._reference_error: str | None = None

    # -- shared steps ---------------------------------------------------------------------

    def parsed(self) -> msgspec.Struct:
        """The parsed options as given; parsed once, so a bad default is reported once."""
        if self._options is None and self._options_error is None:
            try:
                self._options = self.spec.parse_options(self.raw_options)
            except Exception as exc:  # noqa: BLE001 - reported by the options check
                self._options_error = describe(exc)
        if self._options is None:
            raise NotRun(f"the options {self.raw_options!r} do not parse: {self._options_error}")
        return self._options

    def options(self) -> msgspec.Struct:
        """The options the features are computed with: settled on the probe series if the
        transform settles any (``resolve``), as the runtime does at every fit."""
        options = self.parsed()
        if self.spec.resolve is None:
            return options
        try:
            return self.spec.resolve(options, self.X, self.times)
        except Exception as exc:  # noqa: BLE001 - reported by the resolve check
            raise NotRun(f"resolve failed: {describe(exc)}") from None

    def rows_with_time(self, rows: np.ndarray, times: np.ndarray) -> np.ndarray:
        return np.column_stack([rows, times])

    def features(self, rows: np.ndarray, times: np.ndarray | None = None) -> pl.DataFrame:
        """The transform's output columns on ``rows`` (oldest first), as Polars gives them.

        The frame has the timestamps column too (``TIME_COLUMN``), as a timed stream's has;
        transforms that do not read it never see the difference.
        """
        times = self.times[: len(rows)] if times is None else times
        frame = pl.from_numpy(np.ascontiguousarray(self.rows_with_time(rows, times)),
                              schema=[*COLUMNS, TIME_COLUMN], orient="row")
        return frame.select(self.spec.expressions(COLUMNS, self.options()))

    def matrix(self, rows: np.ndarray, times: np.ndarray | None = None) -> np.ndarray:
        """Like :meth:`features` but as floats; nulls become NaN so comparisons still work."""
        return self.features(rows, times).cast(pl.Float64).to_numpy().astype(np.float64, copy=False)

    def reference(self) -> np.ndarray:
        """Features of the whole probe series: the ground truth the later checks compare to."""
        if self._reference is None and self._reference_error is None:
            try:
                self._reference = self.matrix(self.X)
            except NotRun:
                raise
            except Exception as exc:  # noqa: BLE001 - reported by the expressions check
                self._reference_error = describe(exc)
        if self._reference is None:
            raise NotRun(f"the expressions cannot be evaluated: {self._reference_error}")
        return self._reference

    def lookback(self) -> int:
        value = self.spec.lookback(self.parsed())
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise NotRun(f"lookback returned {value!r}; it must be an int >= 1")
        return int(value)

    # -- checks ---------------------------------------------------------------------------

    def check_metadata(self) -> None:
        spec = self.spec
        problems = []
        if not isinstance(spec.id, str) or not ID_PATTERN.match(spec.id):
            problems.append(f"id {spec.id!r} must be lower-case letters, digits and '_'")
        if not isinstance(spec.description, str) or not spec.description.strip():
            problems.append("description is empty; GET /v1/plugins and the docs show it")
        if not (isinstance(spec.options, type) and issubclass(spec.options, msgspec.Struct)):
            problems.append(f"options must be a msgspec.Struct subclass, got {spec.options!r}")
        for name in ("expressions", "lookback"):
            if not callable(getattr(spec, name)):
                problems.append(f"{name} is not callable")
        if spec.latest is not None and not callable(spec.latest):
            problems.append("latest is neither None nor callable")
        if spec.resolve is not None and not callable(spec.resolve):
            problems.append("resolve is neither None nor callable")
        assert not problems, "; ".join(problems)

    def check_options(self) -> None:
        self.parsed()
        try:
            self.spec.parse_options({**self.raw_options, _UNKNOWN_KEY: 1})
        except InvalidInput:
            pass
        else:
            raise AssertionError(
                f"an unknown option {_UNKNOWN_KEY!r} was accepted; declare the options Struct "
                "with forbid_unknown_fields=True so a client's typo is refused, not ignored"
            )
        schema = self.spec.options_schema()
        assert isinstance(schema, dict) and schema.get("type") == "object", (
            f"options_schema() gave {schema!r}; expected a JSON schema of an object"
        )

    def check_expressions(self) -> None:
        exprs = self.spec.expressions(COLUMNS, self.options())
        assert isinstance(exprs, list) and exprs, (
            f"expressions returned {type(exprs).__name__} {exprs!r:.80}; expected a non-empty list"
        )
        bad = [i for i, e in enumerate(exprs) if not isinstance(e, pl.Expr)]
        assert not bad, f"items {bad[:5]} of expressions are not polars expressions"
        # Names are read from the expressions before evaluating them: Polars refuses duplicate
        # output names with its own error, and this message says what to change instead.
        names = [e.meta.output_name(raise_if_undetermined=False) for e in exprs]
        dupes = sorted({n for n in names if n is not None and names.count(n) > 1})
        assert not dupes, (
            f"duplicate feature names {dupes[:5]}; alias each expression to a unique name "
            "that includes the column and the option (e.g. f'{column}_lag_{period}')"
        )
        out = self.features(self.X)
        names = out.columns
        self.report.features = list(names)
        clashes = sorted(set(names) & set(COLUMNS))
        assert not clashes, (
            f"features {clashes} reuse raw column names; the runtime keeps the raw columns, so "
            "alias every expression to a new name (e.g. f'{column}_mean_5')"
        )
        assert out.height == len(self.X), (
            f"{out.height} output rows for {len(self.X)} input rows; a transform must give "
            "one row of features per input row (no aggregation, no filtering)"
        )
        nulls = {n: c for n, c in zip(names, out.null_count().row(0)) if c}
        assert not nulls, (
            f"null values in {dict(list(nulls.items())[:5])}; fill them causally, e.g. with "
            "the row's own value or 0"
        )
        non_numeric = [n for n, t in out.schema.items() if not t.is_numeric()]
        assert not non_numeric, f"non-numeric features {non_numeric[:5]}"
        values = self.reference()
        bad_rows = np.flatnonzero(~np.isfinite(values).all(axis=1))
        assert bad_rows.size == 0, (
            f"non-finite features from finite input, first at rows {bad_rows[:5].tolist()}"
        )

    def check_causality(self) -> None:
        reference = self.reference()
        failed = []
        for i in range(len(self.X)):
            truncated = self.matrix(self.X[: i + 1], self.times[: i + 1])
            if truncated.shape[0] != i + 1 or not _close(truncated[i], reference[i]):
                failed.append(i)
        assert not failed, (
            f"row features change when later rows are added (rows {failed[:5]}"
            f"{'...' if len(failed) > 5 else ''} of {len(self.X)}): the transform looks ahead "
            "(e.g. shift(-1), centred windows, whole-series statistics); live points have no "
            "future, so training features would mean something else"
        )

    def check_lookback(self) -> None:
        reference = self.reference()
        size = self.lookback()
        self.report.lookback = size
        failed = []
        for i in range(len(self.X)):
            lo = max(0, i - size + 1)
            if not _close(self.matrix(self.X[lo : i + 1], self.times[lo : i + 1])[-1], reference[i]):
                failed.append(i)
        assert not failed, (
            f"lookback is {size} but the newest row's features need more history (they differ "
            f"from the full series at rows {failed[:5]}); the streaming path keeps only the "
            "last lookback rows"
        )

    def check_latest(self) -> None:
        kernel = self.spec.latest
        if kernel is None:
            return  # optional: the runtime then evaluates the expressions itself
        reference = self.reference()
        size = self.lookback()
        failed = []
        for i in range(len(self.X)):
            tail = self.tail(i, size)
            got = np.asarray(kernel(tail, self.options()))
            assert got.shape == (reference.shape[1],), (
                f"latest() returned shape {got.shape} on row {i}; expected "
                f"({reference.shape[1]},), one value per expression, in their order"
            )
            if not _close(got, reference[i]):
                failed.append(i)
        if failed:
            first = failed[0]
            got = np.asarray(kernel(self.tail(first, size), self.options()))
            raise AssertionError(
                f"latest() differs from the expressions' newest row at rows {failed[:5]}"
                f"{'...' if len(failed) > 5 else ''} of {len(self.X)} (row {first}: kernel "
                f"{got[:4].tolist()} vs expressions {reference[first][:4].tolist()}); the "
                "kernel is an optimisation and must follow the expressions"
            )

    def tail(self, i: int, size: int) -> np.ndarray:
        """What the streaming path hands ``latest`` for row ``i``: the last ``size`` rows, with
        the timestamps as a last column for a transform that reads them."""
        lo = max(0, i - size + 1)
        rows = self.X[lo : i + 1]
        if self.spec.uses_time:
            rows = self.rows_with_time(rows, self.times[lo : i + 1])
        return rows.copy()

    def check_resolve(self) -> None:
        resolve = self.spec.resolve
        if resolve is None:
            return  # optional: nothing settled on the data
        given = self.parsed()
        settled = resolve(given, self.X.copy(), self.times.copy())
        assert isinstance(settled, self.spec.options), (
            f"resolve returned {type(settled).__name__}; it must return the options Struct"
        )
        again = resolve(given, self.X.copy(), self.times.copy())
        assert settled == again, "resolve gave different options for the same rows (it must be deterministic)"
        bound, resolved_lookback = self.spec.lookback(given), self.spec.lookback(settled)
        assert resolved_lookback <= bound, (
            f"the settled options look back {resolved_lookback} rows, more than the {bound} the "
            "given options promise; the window keeps only that many"
        )
        assert resolve(settled, self.X.copy(), self.times.copy()) == settled, (
            "resolving settled options changed them; settled options must be left as they are"
        )


def check_transform(
    spec: TransformSpec, *, options: Mapping[str, Any] | None = None, seed: int = 0
) -> TransformReport:
    """Runs the transform contract against ``spec`` and raises if any promise is broken.

    Args:
        spec: The transform spec a plugin registers.
        options: The options to check with (validated by ``spec.parse_options``); ``None``
            checks the defaults. Give them when the transform has required options, and pick
            values that exercise the look-back (e.g. a window longer than one row).
        seed: Seed of the random probe series.

    Returns:
        A :class:`TransformReport` with the passed checks, feature names and look-back.

    Raises:
        AssertionError: Checks failed; the message names the transform and lists every
            failing check with what it saw.
        TypeError: ``spec`` is not a TransformSpec.
    """
    __tracebackhide__ = True  # pytest shows the message, not this function's frames
    if not isinstance(spec, TransformSpec):
        raise TypeError(f"check_transform expects a TransformSpec, got {type(spec).__name__}")
    contract = _Contract(spec, options, seed)
    failures = run_checks(contract, CHECKS, contract.report.passed)
    raise_failures("transform", f"transform {spec.id!r}", failures, CHECKS)
    return contract.report


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=_RTOL, atol=_ATOL, equal_nan=True))

