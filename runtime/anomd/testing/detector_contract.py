"""The detector contract: one call a plugin author runs against their :class:`DetectorSpec`.

The runtime relies on more than "it has ``fit`` and ``score``": it publishes the params Struct
as a JSON schema, learns thresholds from ``training_scores_``, pickles fitted detectors into
signed artifacts, scores one cached model from several worker threads, and scores streaming
rows one at a time. :func:`check_detector` checks each of those assumptions on small planted
data and fails with a message that names the backend and the broken promise, so a plugin author
learns what to fix before an operator finds out in production.

Use it as a plain function or from pytest::

    from anomd.testing import check_detector
    from my_plugin import SPEC

    def test_contract():
        check_detector(SPEC)

Every check runs even when an earlier one fails, so one run lists every problem at once.

A check that cannot apply to an algorithm (only those in :data:`EXEMPTABLE`) is declared exempt
by the plugin itself, with the reason, in ``DetectorSpec.contract_exemptions``; it is then not
run, and the report lists it with the reason.
"""

from __future__ import annotations

import pickle
import random
import sys
import types
import warnings
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, get_args

import msgspec
import numpy as np

from anomd.artifacts import ArtifactCodec
from anomd.detectors import Detector, DetectorSpec, Memory, Speed
from anomd.errors import InvalidInput
from anomd.model import FittedModel, train
from anomd.testing.check_runner import ID_PATTERN, NotRun, describe, raise_failures, run_checks

#: Every check, in the order it runs. Names are what ``expected_failures`` accepts.
CHECKS: tuple[str, ...] = (
    "metadata",
    "params",
    "build_does_not_fit",
    "fit_returns_self",
    "training_scores",
    "score_output",
    "single_row",
    "score_row",
    "row_order",
    "score_read_only",
    "planted_outliers",
    "deterministic",
    "threshold_scale",
    "far_values",
    "artifact_round_trip",
    "min_samples",
)

#: Checks a plugin may declare exempt (``DetectorSpec.contract_exemptions``, with a reason):
#: behaviour every general-purpose detector should have but some algorithms cannot, unlike the
#: runtime's own requirements (pickling, thresholds, row-wise scoring), which no plugin can skip.
EXEMPTABLE: frozenset[str] = frozenset({"far_values"})

#: Feature counts the far-value check fits at (200 Gaussian rows each).
FAR_DIMENSIONS: tuple[int, ...] = (2, 10, 50)
#: Distances beyond a feature's training range, in training standard deviations, over which the
#: score must not fall; plus the row at :data:`FAR_SPREADS` from the median, which must be flagged.
FAR_STEPS: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)
FAR_SPREADS = 50.0
#: Features moved per fit (all of them below this).
_FAR_FEATURES = 10

_UNKNOWN_KEY = "anomd_contract_unknown_key"
_ARTIFACT_KEY = b"anomd-detector-contract-key-0123456789"
_ATOMS = (bool, int, float, complex, str, bytes, type(None))


@dataclass(frozen=True)
class PlantedData:
    """Gaussian inliers plus a few far, scattered outliers, for training and for testing.

    The outliers sit at 5 to 7 standard deviations in *every* feature with random signs, so
    they are far for distance, density, histogram and tail-probability methods alike, and
    they do not form a cluster of their own (which neighbour methods would call normal).
    """

    X_train: np.ndarray
    train_outliers: np.ndarray
    X_test: np.ndarray
    test_outliers: np.ndarray


def planted_data(
    rng_seed: int = 0,
    *,
    n_train: int = 200,
    n_test: int = 100,
    n_features: int = 4,
    n_outliers: int = 6,
) -> PlantedData:
    """Builds the contract's data set; small so slow backends still check in seconds."""
    rng = np.random.default_rng(rng_seed)

    def sample(n_inliers: int, n_far: int) -> tuple[np.ndarray, np.ndarray]:
        inliers = rng.normal(size=(n_inliers, n_features))
        far = rng.choice([-1.0, 1.0], size=(n_far, n_features)) * rng.uniform(
            5, 7, (n_far, n_features)
        )
        mask = np.r_[np.zeros(n_inliers, bool), np.ones(n_far, bool)]
        order = rng.permutation(n_inliers + n_far)
        return np.vstack([inliers, far])[order], mask[order]

    X_train, train_mask = sample(n_train, n_outliers)
    X_test, test_mask = sample(n_test, max(1, n_outliers - 1))
    return PlantedData(X_train, train_mask, X_test, test_mask)


@dataclass
class ContractReport:
    """What :func:`check_detector` found for one backend.

    Attributes:
        backend: The spec's id.
        passed: Checks that passed.
        expected_failures: Checks that failed as the caller declared, with their messages.
        exempt: Checks not run because the spec declares them exempt, with its reasons.
        measurements: Numbers worth seeing in a test log (ROC-AUCs, false-positive rate...).
    """

    backend: str
    passed: list[str] = field(default_factory=list)
    expected_failures: dict[str, str] = field(default_factory=dict)
    exempt: dict[str, str] = field(default_factory=dict)
    measurements: dict[str, float] = field(default_factory=dict)


class _Contract:
    """Holds the data and the fitted detectors the checks share, fitting each only once."""

    def __init__(
        self,
        spec: DetectorSpec,
        params: Mapping[str, Any],
        data: PlantedData,
        contamination: float,
        min_auc: float,
        rng_seed: int = 0,
    ) -> None:
        self.spec = spec
        self.raw_params = dict(params)
        self.data = data
        self.rng_seed = rng_seed
        self.contamination = contamination
        self.min_auc = min_auc
        self.report = ContractReport(spec.id)
        self._fitted: Detector | None = None
        self._fit_error: str | None = None
        self._trained: FittedModel | None = None

    # -- shared steps ---------------------------------------------------------------------

    def parsed_params(self) -> msgspec.Struct:
        try:
            return self.spec.parse_params(self.raw_params)
        except InvalidInput as exc:
            raise NotRun(f"the params given to check_detector do not validate: {exc}") from None

    def fresh(self) -> Detector:
        return self.spec.build(self.parsed_params(), self.contamination)

    def fitted(self) -> Detector:
        """The detector fitted on the planted training set (fitted once, on first use)."""
        if self._fitted is None and self._fit_error is None:
            try:
                detector = self.fresh()
                result = detector.fit(self.data.X_train.copy())
                if result is not detector:
                    raise AssertionError(
                        f"fit() returned {type(result).__name__}, not the detector itself"
                    )
                self._fitted = detector
            except NotRun as exc:
                self._fit_error = str(exc)
            except Exception as exc:  # noqa: BLE001 - reported as a contract failure
                self._fit_error = describe(exc)
        if self._fitted is None:
            raise NotRun(f"fitting on the planted data failed: {self._fit_error}")
        return self._fitted

    def scores(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.fitted().score(X.copy()))

    # -- the checks -------------------------------------------------------------------------

    def check_metadata(self) -> None:
        spec = self.spec
        assert isinstance(spec.id, str) and ID_PATTERN.match(spec.id), (
            f"id {spec.id!r} must be lower case letters, digits and '_', starting with a letter "
            "(clients send it as `backend` and it becomes part of model file names)"
        )
        for name in ("name", "description", "category", "best_for"):
            value = getattr(spec, name)
            assert isinstance(value, str) and value.strip(), (
                f"`{name}` must be a non-empty string, got {value!r}"
            )
        assert spec.speed in get_args(Speed), (
            f"speed {spec.speed!r} must be one of {get_args(Speed)}"
        )
        assert spec.memory in get_args(Memory), (
            f"memory {spec.memory!r} must be one of {get_args(Memory)}"
        )
        assert isinstance(spec.requires, tuple) and all(
            isinstance(r, str) and r for r in spec.requires
        ), f"requires must be a tuple of import names, got {spec.requires!r}"
        if spec.requires:
            assert spec.install_hint.strip(), (
                f"the backend requires {', '.join(spec.requires)} but has no install_hint telling an "
                "operator what to install"
            )
        exemptions = spec.contract_exemptions
        assert isinstance(exemptions, Mapping), (
            f"contract_exemptions must be a mapping of check name to reason, got {exemptions!r}"
        )
        for name, reason in exemptions.items():
            assert name in EXEMPTABLE, (
                f"contract_exemptions names {name!r}, which cannot be exempted (only "
                f"{', '.join(sorted(EXEMPTABLE))}: the runtime relies on the others)"
            )
            assert isinstance(reason, str) and reason.strip(), (
                f"the exemption from {name!r} needs a reason (a non-empty string), got {reason!r}"
            )
        needed = spec.min_samples(self.parsed_params())
        assert isinstance(needed, int) and needed >= 1, (
            f"min_samples(params) must be an int >= 1, got {needed!r}"
        )
        assert needed <= len(self.data.X_train), (
            f"min_samples(params) is {needed}, more than the contract's "
            f"{len(self.data.X_train)} training rows"
        )

    def check_params(self) -> None:
        spec = self.spec
        assert isinstance(spec.params, type) and issubclass(spec.params, msgspec.Struct), (
            f"params must be a msgspec.Struct type, got {spec.params!r}"
        )
        try:
            defaults = spec.parse_params({})
        except InvalidInput as exc:
            raise AssertionError(
                f"the defaults do not validate (every field needs a valid default): {exc}"
            ) from None
        assert isinstance(defaults, spec.params), f"parse_params returned {type(defaults).__name__}"
        try:
            spec.parse_params({_UNKNOWN_KEY: 1})
        except InvalidInput as exc:
            assert _UNKNOWN_KEY in str(exc), f"the error for an unknown key does not name it: {exc}"
        else:
            raise AssertionError(
                f"an unknown key {_UNKNOWN_KEY!r} was accepted; declare the Struct with "
                "forbid_unknown_fields=True so a typo in `params` is a 422, not silently ignored"
            )
        builtins = msgspec.to_builtins(defaults)
        assert spec.parse_params(builtins) == defaults, (
            "the defaults do not survive a JSON round trip (to_builtins -> parse_params); model "
            f"manifests store params as JSON: {builtins!r}"
        )
        schema = spec.params_schema()
        assert isinstance(schema, dict) and schema.get("type") == "object", (
            f"params_schema() must be a JSON schema of an object, got {schema!r}"
        )
        msgspec.json.encode(schema)  # /backends publishes it as JSON
        fields = set(spec.params.__struct_fields__)
        published = set(schema.get("properties", {}))
        assert published == fields, (
            f"the JSON schema publishes {sorted(published)} but the Struct has fields {sorted(fields)}"
        )
        self.parsed_params()  # the caller's overrides must validate too

    def check_build_does_not_fit(self) -> None:
        detector = self.fresh()
        for method in ("fit", "score"):
            assert callable(getattr(detector, method, None)), (
                f"build() returned {type(detector).__name__}, which has no {method}() method"
            )
        assert not hasattr(detector, "training_scores_"), (
            "build() returned a detector that already has training_scores_; build must only store "
            "settings, fit() learns (learned state ends in `_`)"
        )

    def check_fit_returns_self(self) -> None:
        self.fitted()

    def check_training_scores(self) -> None:
        detector = self.fitted()
        assert hasattr(detector, "training_scores_"), "fit() did not set training_scores_"
        scores = np.asarray(detector.training_scores_)
        n = len(self.data.X_train)
        assert scores.shape == (n,), (
            f"training_scores_ has shape {scores.shape}; expected ({n},), one per training row"
        )
        _assert_finite_floats(scores, "training_scores_")

    def check_score_output(self) -> None:
        X = self.data.X_test.copy()
        before = X.copy()
        scores = np.asarray(self.fitted().score(X))
        assert np.array_equal(X, before), "score() modified its input matrix"
        assert scores.shape == (len(X),), (
            f"score() returned shape {scores.shape}; expected ({len(X)},)"
        )
        _assert_finite_floats(scores, "score()")

    def check_single_row(self) -> None:
        batch = self.scores(self.data.X_test)
        rows = range(min(5, len(batch)))
        alone = np.array(
            [
                np.asarray(self.fitted().score(self.data.X_test[i : i + 1].copy())).reshape(-1)[0]
                for i in rows
            ]
        )
        assert np.allclose(alone, batch[: len(alone)], rtol=1e-6, atol=1e-9), (
            "a row scored alone gets a different score than in a batch (alone: "
            f"{_fmt(alone)}, in the batch: {_fmt(batch[: len(alone)])}); a row's score must not "
            "depend on the other rows sent with it (streaming scores one row at a time)"
        )

    def check_score_row(self) -> None:
        """The optional one-row fast path (:class:`anomd.detectors.RowScorer`) agrees with
        ``score`` and leaves the detector picklable (streaming checkpoints pickle it)."""
        detector = self.fitted()
        score_row = getattr(detector, "score_row", None)
        self.report.measurements["score_row"] = score_row is not None
        if score_row is None:
            return
        X = np.vstack([self.data.X_test[:8], self.data.X_train[:4]])  # new and seen values
        batch = self.scores(X)
        alone = np.array([float(score_row(row.tolist())) for row in X])
        assert np.allclose(alone, batch, rtol=1e-6, atol=1e-9), (
            f"score_row() disagrees with score() (score_row: {_fmt(alone)}, score: {_fmt(batch)}); "
            "the streaming engine uses score_row for single points, so they must be the same scores"
        )
        try:
            pickle.dumps(detector)
        except Exception as exc:  # noqa: BLE001 - typically a cache of memoryviews or locks
            raise AssertionError(
                f"after score_row() the detector no longer pickles ({describe(exc)}); "
                "drop derived caches in __getstate__"
            ) from None

    def check_row_order(self) -> None:
        X = self.data.X_test
        order = np.random.default_rng(1).permutation(len(X))
        plain = self.scores(X)
        shuffled = self.scores(X[order])
        assert np.allclose(shuffled, plain[order], rtol=1e-6, atol=1e-9), (
            "shuffling the rows changed their scores; score() must be row-wise"
        )

    def check_score_read_only(self) -> None:
        detector = self.fitted()
        self.scores(self.data.X_test[:3])  # let lazy caches settle before the snapshot
        before = _state(detector)
        self.scores(self.data.X_test)
        changed = _changed(before, _state(detector))
        assert not changed, (
            f"score() changed the fitted state ({', '.join(changed[:5])}); the server scores one "
            "cached model from several threads at once, so score() must not write to the detector"
        )

    def check_planted_outliers(self) -> None:
        from sklearn.metrics import roc_auc_score

        data = self.data
        train_auc = float(roc_auc_score(data.train_outliers, self.fitted().training_scores_))
        test_scores = self.scores(data.X_test)
        test_auc = float(roc_auc_score(data.test_outliers, test_scores))
        self.report.measurements.update(train_auc=round(train_auc, 4), test_auc=round(test_auc, 4))
        assert train_auc >= self.min_auc and test_auc >= self.min_auc, (
            f"planted far outliers are not ranked above the inliers: ROC-AUC {train_auc:.3f} on "
            f"training_scores_ and {test_auc:.3f} on score() (need >= {self.min_auc}); the planted "
            f"test rows rank {_ranks(test_scores, data.test_outliers)} of {len(test_scores)} "
            "(1 = most anomalous). Are higher scores more anomalous?"
        )

    def check_deterministic(self) -> None:
        first = self.fitted()
        other = self.fresh()
        _disturb_global_rngs()
        other.fit(self.data.X_train.copy())
        same_train = np.array_equal(first.training_scores_, other.training_scores_)
        same_test = np.array_equal(
            self.scores(self.data.X_test), np.asarray(other.score(self.data.X_test.copy()))
        )
        if same_train and same_test:
            return
        if "random_state" in self.spec.params.__struct_fields__:
            hint = (
                "the `random_state` parameter does not seed every source of randomness used in fit"
            )
        else:
            hint = (
                "randomised detectors must take their seed from a `random_state` parameter and use "
                "it instead of the global random state"
            )
        raise AssertionError(
            "two fits with the same params gave different "
            f"{'scores' if not same_test else 'training_scores_'}; {hint}"
        )

    def check_threshold_scale(self) -> None:
        fitted = self._train()
        scores = fitted.score(self.data.X_test)
        outliers = self.data.test_outliers
        found = int(scores.is_anomaly[outliers].sum())
        false_rate = float(scores.is_anomaly[~outliers].mean())
        self.report.measurements["test_false_positive_rate"] = round(false_rate, 4)
        limit = max(0.2, 3 * self.contamination)
        assert found == outliers.sum() and false_rate <= limit, (
            f"with the threshold learned from training_scores_ (contamination {self.contamination}) "
            f"{found} of {int(outliers.sum())} planted test outliers are flagged and {false_rate:.0%} "
            f"of test inliers (allowed {limit:.0%}); training_scores_ must be on the scale of "
            "score(), as if the training rows were unseen"
        )

    def check_far_values(self) -> None:
        """One feature moved ever further from the training data: the score must not fall, and
        at :data:`FAR_SPREADS` standard deviations from the median the row must be flagged.

        Rows hold every other feature at its training median (the row the data would call most
        normal) and the moved one past its training minimum or maximum, so nothing but that
        value can explain a high score. A detector that sees a value beyond the training range
        like the most extreme training value (rank and histogram methods, tree splits) fails
        here: a sensor reading fifty standard deviations out must be an anomaly.
        """
        problems: list[str] = []
        for d in FAR_DIMENSIONS:
            problems += self._far_values_in(d)
        assert not problems, (
            "a value far beyond the training data must score at least as high the further out "
            "it is, and be flagged at 50 standard deviations (other features at their medians): "
            + "; ".join(problems[:4])
            + (f"; and {len(problems) - 4} more" if len(problems) > 4 else "")
        )

    def _far_values_in(self, d: int) -> list[str]:
        rng = np.random.default_rng([self.rng_seed, d])
        X = rng.normal(size=(200, d))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fitted = train(
                    self.spec, X, name="contract", contamination=self.contamination,
                    params=self.raw_params,
                )
        except Exception as exc:  # noqa: BLE001 - a crash is the finding
            return [f"fitting 200 rows of {d} features failed with {describe(exc)}"]
        centre, spread = np.median(X, axis=0), X.std(axis=0)
        features = range(d) if d <= _FAR_FEATURES else sorted(rng.choice(d, _FAR_FEATURES, replace=False))
        walks = []  # (feature, side, values ordered outwards, index of the 50-spread row)
        blocks = []  # their rows: every other feature at its median
        for j in features:
            for side in (1.0, -1.0):
                edge = X[:, j].max() if side > 0 else X[:, j].min()
                far = centre[j] + side * FAR_SPREADS * spread[j]
                values = sorted([edge + side * step * spread[j] for step in FAR_STEPS] + [far], key=lambda v, s=side: s * v)
                walks.append((j, side, values, values.index(far)))
                blocks.append(np.tile(centre, (len(values), 1)))
                blocks[-1][:, j] = values
        scores = fitted.score(np.vstack(blocks))
        problems = []
        start = 0
        for j, side, values, far_at in walks:
            raw = scores.raw[start : start + len(values)]
            flags = scores.is_anomaly[start : start + len(values)]
            start += len(values)
            where = f"{d} features, feature {j} moved {'up' if side > 0 else 'down'}"
            falls = np.flatnonzero(raw[1:] < raw[:-1] - 1e-9 * np.maximum(1.0, np.abs(raw[:-1])))
            if falls.size:
                i = int(falls[0])
                problems.append(
                    f"{where}: the score falls from {raw[i]:.6g} at {values[i]:.4g} to "
                    f"{raw[i + 1]:.6g} at {values[i + 1]:.4g} (training range "
                    f"{X[:, j].min():.3g} to {X[:, j].max():.3g})"
                )
            if not flags[far_at]:
                problems.append(
                    f"{where} to {values[far_at]:.4g} ({FAR_SPREADS:g} standard deviations): raw "
                    f"score {raw[far_at]:.6g} is not above the threshold {fitted.info.raw_threshold:.6g}"
                )
        return problems

    def check_artifact_round_trip(self) -> None:
        fitted = self._train()
        codec = ArtifactCodec(_ARTIFACT_KEY)
        try:
            blob, _ = codec.encode(fitted)
        except Exception as exc:  # noqa: BLE001 - the usual cause is an unpicklable attribute
            raise AssertionError(f"the fitted model cannot be stored: {describe(exc)}") from None
        loaded = codec.decode(blob, "contract")
        X = self.data.X_test
        original, restored = fitted.score(X), loaded.score(X)
        assert np.array_equal(original.raw, restored.raw) and np.array_equal(
            original.is_anomaly, restored.is_anomaly
        ), (
            "scores differ after an artifact encode/decode round trip (is all fitted state picklable?)"
        )

    def check_min_samples(self) -> None:
        needed = self.spec.min_samples(self.parsed_params())
        X = np.random.default_rng(2).normal(size=(needed, self.data.X_train.shape[1]))
        try:
            with warnings.catch_warnings():  # degenerate on purpose; the backend may say so
                warnings.simplefilter("ignore")
                fitted = train(
                    self.spec,
                    X,
                    name="contract",
                    contamination=self.contamination,
                    params=self.raw_params,
                )
                scores = fitted.detector.score(self.data.X_test[:3].copy())
        except Exception as exc:  # noqa: BLE001 - anything but success is the finding
            raise AssertionError(
                f"min_samples(params) is {needed}, but fitting {needed} rows fails with "
                f"{describe(exc)}; "
                "the runtime refuses fewer rows than min_samples with a clear 422, so it must be "
                "the real minimum for these params"
            ) from None
        _assert_finite_floats(np.asarray(scores), f"score() after a fit on {needed} rows")

    def _train(self) -> FittedModel:
        if self._trained is None:
            self._trained = train(
                self.spec,
                self.data.X_train,
                name="contract",
                contamination=self.contamination,
                params=self.raw_params,
            )
        return self._trained


def check_detector(
    spec: DetectorSpec,
    *,
    params: Mapping[str, Any] | None = None,
    rng_seed: int = 0,
    contamination: float = 0.05,
    min_auc: float = 0.95,
    expected_failures: Collection[str] = (),
) -> ContractReport:
    """Runs the detector contract against ``spec`` and raises if any promise is broken.

    Args:
        spec: The detector spec a plugin registers.
        params: Overrides for the backend's params (validated by ``spec.parse_params``); use
            them to keep slow backends quick, e.g. ``{"epochs": 5}`` for a neural network.
        rng_seed: Seed of the planted data set.
        contamination: Passed to ``build``; the planted share is about 3 %.
        min_auc: Least ROC-AUC the raw scores must reach on the (clearly separated) planted
            outliers, on the training rows and on fresh test rows.
        expected_failures: Check names (see :data:`CHECKS`) known to fail for this backend.
            They are reported instead of raised, and one that unexpectedly passes is an error,
            so a stale waiver is noticed as soon as the backend is fixed.

    Returns:
        A :class:`ContractReport` with the passed checks and a few measurements.

    Raises:
        AssertionError: The backend is unavailable, or checks failed; the message names the
            backend and lists every failing check with what it saw.
        TypeError: ``spec`` is not a DetectorSpec.
        ValueError: ``expected_failures`` names a check that does not exist.
    """
    __tracebackhide__ = True  # pytest shows the message, not this function's frames
    unknown = set(expected_failures) - set(CHECKS)
    if unknown:
        raise ValueError(
            f"unknown contract checks in expected_failures: {sorted(unknown)}; known: {CHECKS}"
        )
    label = f"backend {getattr(spec, 'id', spec)!r}"
    if not isinstance(spec, DetectorSpec):
        raise TypeError(f"check_detector expects a DetectorSpec, got {type(spec).__name__}")
    if not spec.available:
        raise AssertionError(
            f"anomd detector contract: {label} is not available here: missing "
            f"{', '.join(spec.missing_dependencies())}. {spec.install_hint}"
        )
    contract = _Contract(spec, params or {}, planted_data(rng_seed), contamination, min_auc, rng_seed)
    exemptions = getattr(spec, "contract_exemptions", None) or {}
    exempt = {name: str(reason) for name, reason in exemptions.items() if name in EXEMPTABLE}
    contract.report.exempt = exempt
    failures = run_checks(contract, [c for c in CHECKS if c not in exempt], contract.report.passed)
    expected = set(expected_failures)
    problems = {name: msg for name, msg in failures.items() if name not in expected}
    contract.report.expected_failures = {
        name: msg for name, msg in failures.items() if name in expected
    }
    for name in sorted(expected - set(failures)):
        problems[name] = "passed, but is listed in expected_failures; remove it from the list"
    raise_failures("detector", label, problems, CHECKS)
    return contract.report


# -- helpers ---------------------------------------------------------------------------------


def _assert_finite_floats(values: np.ndarray, what: str) -> None:
    assert np.issubdtype(values.dtype, np.floating), (
        f"{what} has dtype {values.dtype}; expected floats"
    )
    bad = np.flatnonzero(~np.isfinite(values))
    assert bad.size == 0, (
        f"{what} has {bad.size} non-finite values (first at rows {bad[:5].tolist()})"
    )


def _disturb_global_rngs() -> None:
    """Moves every global generator, so only a detector's own seed can make fits repeat."""
    seed = random.SystemRandom().randrange(2**31)
    random.seed(seed)
    np.random.seed(seed)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(seed)


def _state(obj: Any) -> dict[str, Any]:
    """The objects reachable from ``obj``'s attributes, by path (a few levels deep).

    Values are kept (not their ids) so a replaced attribute cannot reuse a freed id.
    """
    out: dict[str, Any] = {}
    seen: set[int] = set()

    def walk(value: Any, path: str, depth: int) -> None:
        if id(value) in seen or depth > 6:
            return
        seen.add(id(value))
        if isinstance(value, dict):
            items = [(repr(k), v) for k, v in value.items()]
        elif isinstance(value, (list, tuple)):
            items = [(str(i), v) for i, v in enumerate(value)]
        elif hasattr(value, "__dict__") and not isinstance(
            value, (type, types.ModuleType, types.FunctionType)
        ):
            items = list(vars(value).items())
        else:
            return
        for key, child in items:
            out[f"{path}.{key}"] = child
            walk(child, f"{path}.{key}", depth + 1)

    walk(obj, "detector", 0)
    return out


def _changed(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    changed = []
    for path in sorted(before.keys() | after.keys()):
        if path not in before or path not in after:
            changed.append(path)
            continue
        old, new = before[path], after[path]
        if old is new or (isinstance(old, _ATOMS) and type(old) is type(new) and old == new):
            continue
        changed.append(path)
    return changed


def _ranks(scores: np.ndarray, mask: np.ndarray) -> list[int]:
    order = np.argsort(-scores, kind="stable")
    rank = np.empty(len(scores), dtype=int)
    rank[order] = np.arange(1, len(scores) + 1)
    return sorted(rank[mask].tolist())


def _fmt(values: np.ndarray) -> str:
    return "[" + ", ".join(f"{v:.6g}" for v in values) + "]"

