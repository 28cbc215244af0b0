"""The detector contract (``anomd.testing.check_detector``) over the 12 built-ins, and proof that
the contract itself catches each broken promise it claims to check."""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

import msgspec
import numpy as np
import pytest
from helpers import BACKENDS, REQUIRE_ALL_BACKENDS

import anomd
from anomd.detectors import DetectorSpec
from anomd.errors import BackendUnavailable
from anomd.plugins import PluginHost
from anomd.service import AnomalyService
from anomd.settings import load_settings
from anomd.testing import check_detector
from anomd.testing.detector_contract import CHECKS

#: Keeps the slow backends to a few seconds on the contract's 206 training rows.
CONTRACT_PARAMS: dict[str, dict[str, Any]] = {
    "autoencoder": {"epochs": 5, "hidden_neurons": [8, 4]},
}

#: Known contract violations of built-ins, each with its cause. check_detector fails if one of
#: these starts passing, so the entry must be removed as soon as the backend is fixed.
#: Checks a built-in is known to fail, with the reason (strict: a listed check that passes is an
#: error, so a fixed problem cannot stay waived). Empty: every built-in keeps the whole contract.
KNOWN_FAILURES: dict[str, set[str]] = {}


@pytest.fixture(scope="module")
def host() -> PluginHost:
    return PluginHost()


@pytest.mark.parametrize("backend", BACKENDS)
def test_builtin_detector_keeps_the_contract(backend: str, host: PluginHost, tmp_path) -> None:
    spec = host.detectors.get(backend)
    assert spec is not None, f"built-in backend {backend!r} is not registered"
    if not spec.available:
        if REQUIRE_ALL_BACKENDS:
            pytest.fail(
                f"backend {backend!r} must run in this environment but is missing "
                f"{spec.missing_dependencies()}: {spec.install_hint}"
            )
        assert_unavailable_is_refused(spec, host, tmp_path)
        return
    report = check_detector(
        spec, params=CONTRACT_PARAMS.get(backend), expected_failures=KNOWN_FAILURES.get(backend, ())
    )
    assert set(report.passed) == set(CHECKS) - KNOWN_FAILURES.get(backend, set())
    assert report.measurements["test_auc"] >= 0.95


def assert_unavailable_is_refused(spec: DetectorSpec, host: PluginHost, tmp_path) -> None:
    """What a server without the optional dependency must do: list it, refuse it clearly."""
    missing = spec.missing_dependencies()
    assert missing and spec.install_hint.strip()
    service = AnomalyService(load_settings(env={}, data_dir=str(tmp_path)), plugins=host)
    row = next(r for r in service.backends() if r.backend == spec.id)
    assert row.available is False and row.install_hint == spec.install_hint
    with pytest.raises(BackendUnavailable, match="not available") as caught:
        service.detector(spec.id)
    assert spec.install_hint in caught.value.detail and missing[0] in caught.value.detail
    with pytest.raises(BackendUnavailable):
        service.fit(np.zeros((30, 2)), model="unavailable", backend=spec.id)
    with pytest.raises(AssertionError, match="not available"):
        check_detector(spec)


def test_a_backend_with_a_missing_dependency_is_refused_not_crashed(
    host: PluginHost, tmp_path
) -> None:
    """The unavailable path runs everywhere, not only where torch or suod is missing."""
    ecod = host.detectors.get("ecod")
    spec = dataclasses.replace(
        ecod,
        id="needs_missing_dep",
        requires=("anomd_no_such_module_xyz",),
        install_hint="pip install anomd-no-such-module",
    )

    class MissingDependencyPlugin:
        @anomd.hookimpl
        def register_detectors(self, register):
            register(spec)

    with_missing = PluginHost(extra=[MissingDependencyPlugin()])
    assert_unavailable_is_refused(
        with_missing.detectors.get("needs_missing_dep"), with_missing, tmp_path
    )


# -- the contract catches what it promises to catch --------------------------------------------


class CentreParams(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    power: float = 1.0


class DistanceToCentre:
    """A correct reference detector: Euclidean distance to the training mean."""

    def __init__(self, params: CentreParams, contamination: float) -> None:
        self.power = params.power

    def fit(self, X: np.ndarray) -> DistanceToCentre:
        self.centre_ = X.mean(axis=0)
        self.training_scores_ = self.score(X)
        return self

    def score(self, X: np.ndarray) -> np.ndarray:
        return np.linalg.norm(X - self.centre_, axis=1) ** self.power


GOOD = DetectorSpec(
    id="distance_to_centre",
    name="Distance to centre",
    description="Euclidean distance to the mean.",
    category="proximity",
    speed="fast",
    memory="low",
    best_for="Contract tests.",
    params=CentreParams,
    build=DistanceToCentre,
)


def broken(detector: type | None = None, **changes: Any) -> DetectorSpec:
    if detector is not None:
        changes["build"] = detector
    return dataclasses.replace(GOOD, **changes)


def failed_checks(spec: DetectorSpec, **kwargs: Any) -> str:
    with pytest.raises(AssertionError) as caught:
        check_detector(spec, **kwargs)
    message = str(caught.value)
    assert "backend 'distance_to_centre'" in message, message
    return message


def test_the_reference_detector_passes_every_check() -> None:
    report = check_detector(GOOD)
    assert report.passed == list(CHECKS)
    assert report.measurements["train_auc"] == 1.0


class LooseParams(msgspec.Struct, kw_only=True):
    power: float = 1.0


class FitsInBuild(DistanceToCentre):
    def __init__(self, params, contamination):
        super().__init__(params, contamination)
        self.training_scores_ = np.zeros(1)


class FitReturnsNone(DistanceToCentre):
    def fit(self, X):
        super().fit(X)


class LowerIsAnomalous(DistanceToCentre):
    def score(self, X):
        return -super().score(X)


class ReturnsNaN(DistanceToCentre):
    def score(self, X):
        scores = super().score(X)
        scores[0] = np.nan
        return scores


class BatchStandardised(DistanceToCentre):
    def score(self, X):
        raw = super().score(X)
        return (raw - raw.mean()) / (raw.std() + 1.0)


class RemembersLastBatch(DistanceToCentre):
    def score(self, X):
        self.last_batch_ = X
        return super().score(X)


class UsesGlobalRandomState(DistanceToCentre):
    def fit(self, X):
        super().fit(X)
        self.centre_ = self.centre_ + np.random.normal(scale=1e-3, size=self.centre_.shape)
        return self


class InSampleTrainingScores(DistanceToCentre):
    def fit(self, X):
        super().fit(X)
        self.training_scores_ = self.training_scores_ * 0.1
        return self


class NeedsTenRows(DistanceToCentre):
    def fit(self, X):
        if len(X) < 10:
            raise IndexError("too few rows for the warm-up window")
        return super().fit(X)


class CapsAtTheTrainingRange(DistanceToCentre):
    """What PyOD's rank and histogram detectors do: a value beyond the training range counts
    like the most extreme training value."""

    def fit(self, X):
        self.lo_, self.hi_ = X.min(axis=0), X.max(axis=0)
        return super().fit(X)

    def score(self, X):
        return super().score(np.clip(X, self.lo_, self.hi_))


class FallsFarOut(DistanceToCentre):
    """Scores rise, then fall again far out (a kernel density estimate with a floor does this)."""

    def score(self, X):
        distance = super().score(X)
        return distance * np.exp(-distance / 20.0)


class HoldsALock(DistanceToCentre):
    def fit(self, X):
        self.lock = threading.Lock()
        return super().fit(X)


@pytest.mark.parametrize(
    ("spec", "check", "says"),
    [
        pytest.param(broken(speed="quick"), "metadata", "speed 'quick'", id="bad-speed"),
        pytest.param(broken(description=" "), "metadata", "`description`", id="blank-description"),
        pytest.param(
            broken(requires=("numpy",), install_hint=""),
            "metadata",
            "install_hint",
            id="no-install-hint",
        ),
        pytest.param(
            broken(params=LooseParams), "params", "forbid_unknown_fields", id="unknown-keys-pass"
        ),
        pytest.param(
            broken(FitsInBuild),
            "build_does_not_fit",
            "already has training_scores_",
            id="fits-in-build",
        ),
        pytest.param(
            broken(FitReturnsNone),
            "fit_returns_self",
            "not the detector itself",
            id="fit-returns-none",
        ),
        pytest.param(
            broken(LowerIsAnomalous),
            "planted_outliers",
            "Are higher scores more anomalous",
            id="inverted-scores",
        ),
        pytest.param(broken(ReturnsNaN), "score_output", "non-finite", id="nan-scores"),
        pytest.param(broken(BatchStandardised), "single_row", "scored alone", id="batch-dependent"),
        pytest.param(
            broken(RemembersLastBatch),
            "score_read_only",
            "detector.last_batch_",
            id="writes-in-score",
        ),
        pytest.param(
            broken(UsesGlobalRandomState),
            "deterministic",
            "`random_state` parameter",
            id="global-random-state",
        ),
        pytest.param(
            broken(InSampleTrainingScores),
            "threshold_scale",
            "on the scale of score()",
            id="in-sample-scores",
        ),
        pytest.param(
            broken(HoldsALock), "artifact_round_trip", "cannot be stored", id="unpicklable"
        ),
        pytest.param(
            broken(CapsAtTheTrainingRange),
            "far_values",
            "(50 standard deviations): raw score",
            id="capped-beyond-the-range",
        ),
        pytest.param(broken(FallsFarOut), "far_values", "the score falls from", id="falls-far-out"),
        pytest.param(
            broken(contract_exemptions={"far_values": " "}),
            "metadata",
            "needs a reason",
            id="exemption-without-reason",
        ),
        pytest.param(
            broken(contract_exemptions={"artifact_round_trip": "we never save models"}),
            "metadata",
            "cannot be exempted",
            id="exemption-from-a-runtime-requirement",
        ),
        pytest.param(
            broken(NeedsTenRows),
            "min_samples",
            "fitting 2 rows fails with IndexError",
            id="min-too-low",
        ),
    ],
)
def test_the_contract_catches_a_broken_promise(spec: DetectorSpec, check: str, says: str) -> None:
    message = failed_checks(spec)
    line = next((ln for ln in message.splitlines() if ln.startswith(f"  - {check}:")), None)
    assert line is not None, f"check {check!r} did not fail:\n{message}"
    assert says in line, line


def test_a_fit_that_crashes_is_reported_once_and_dependent_checks_say_why() -> None:
    class Crashes(DistanceToCentre):
        def fit(self, X):
            raise RuntimeError("singular matrix, sorry")

    message = failed_checks(broken(Crashes))
    assert (
        "fit_returns_self: not run: fitting on the planted data failed: RuntimeError: singular matrix"
        in message
    )
    assert "  - planted_outliers: not run:" in message
    assert "  - metadata" not in message and "  - params" not in message


def test_expected_failures_are_reported_and_a_stale_one_is_an_error() -> None:
    report = check_detector(
        broken(LowerIsAnomalous), expected_failures={"planted_outliers", "threshold_scale", "far_values"}
    )
    assert set(report.expected_failures) == {"planted_outliers", "threshold_scale", "far_values"}
    assert "Are higher scores more anomalous" in report.expected_failures["planted_outliers"]
    message = failed_checks(GOOD, expected_failures={"deterministic"})
    assert "deterministic: passed, but is listed in expected_failures" in message
    with pytest.raises(ValueError, match="unknown contract checks"):
        check_detector(GOOD, expected_failures={"determinism"})


def test_a_declared_exemption_skips_the_check_and_is_reported_with_its_reason() -> None:
    reason = "values are angles in degrees: 359 is next to 0, so nothing is far"
    report = check_detector(
        broken(CapsAtTheTrainingRange, contract_exemptions={"far_values": reason})
    )
    assert report.exempt == {"far_values": reason}
    assert "far_values" not in report.passed
    assert set(report.passed) == set(CHECKS) - {"far_values"}


def test_params_overrides_are_validated_and_used() -> None:
    message = failed_checks(GOOD, params={"powr": 2})
    assert "unknown parameter `powr`" in message
    report = check_detector(GOOD, params={"power": 2.0})
    assert "params" in report.passed


class SchemaHidingSpec(DetectorSpec):
    """A spec subclass publishing a hand-written schema that forgot a field."""

    def params_schema(self) -> dict[str, Any]:
        return {"type": "object", "properties": {}}


def test_a_published_schema_that_hides_fields_is_caught() -> None:
    spec = SchemaHidingSpec(**{f.name: getattr(GOOD, f.name) for f in dataclasses.fields(GOOD)})
    assert "publishes [] but the Struct has fields ['power']" in failed_checks(spec)
