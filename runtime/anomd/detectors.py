"""What a detector plugin provides: a spec with metadata, a parameter Struct and a factory.

The estimator contract follows scikit-learn and PyOD: building a detector only stores its
parameters, ``fit`` learns state, ``score`` returns raw scores where higher means more
anomalous. Thresholding and normalisation are the runtime's job, not the detector's, so every
backend gets the same semantics.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

import msgspec
import numpy as np

from anomd.errors import BackendUnavailable
from anomd.struct_schema import inline_schema, parse_struct

Speed = Literal["fast", "medium", "slow"]
Memory = Literal["low", "medium", "high"]


@runtime_checkable
class Detector(Protocol):
    """A fitted-or-unfitted anomaly detector over a float matrix.

    Attributes:
        training_scores_: Raw scores of the training rows, set by ``fit``. The runtime learns
            the threshold and the normalisation from them, so they should be the scores the
            detector would give those rows as unseen data (leave-one-out style where the
            algorithm supports it, as PyOD's ``decision_scores_`` are).
    """

    training_scores_: np.ndarray

    def fit(self, X: np.ndarray) -> Detector:
        """Learns from ``X`` (n_rows × n_features, finite float64) and returns ``self``."""
        ...

    def score(self, X: np.ndarray) -> np.ndarray:
        """Returns one raw score per row of ``X``; higher means more anomalous."""
        ...


class RowScorer(Protocol):
    """Optional: a detector that can score one row of plain floats cheaply.

    Streaming scores each point on its own, where numpy's per-call overhead (a microsecond
    or more per operation) dwarfs the arithmetic of a small row. A detector may add
    ``score_row``; the streaming engine then calls it instead of ``score`` on a 1 × d
    matrix. It must return what ``score`` returns for that row, up to rounding;
    ``anomd.testing.check_detector`` checks that when the method exists.
    """

    def score_row(self, row: Sequence[float]) -> float:
        """The raw score of one row given as ``d`` floats."""
        ...


class NoParams(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Parameter Struct for a detector without hyper-parameters."""


#: Bytes of one cell of the float64 matrices detectors work on.
CELL = 8


@dataclass(frozen=True)
class MemoryCost:
    """How much memory a backend needs, in bytes, from the shape of its data.

    The server admits a request only if its estimated working memory fits in
    ``max_request_memory_mb`` (see ``anomd.admission``); the backend's part of that estimate
    comes from here. Each function returns what the detector allocates *beyond* its input
    matrix, at the peak of the operation, for ``rows`` rows of ``features`` float64 columns
    and the parsed parameter Struct ``params``. Over-estimating refuses requests that would
    have fitted; under-estimating lets one exhaust the machine, so measure peak RSS on data of
    a realistic shape (``tests/test_admission_rss.py`` shows how) and round up.

    Attributes:
        fit: ``fit(rows, features, params)``: the peak of ``fit``, the fitted model included.
        score: ``score(rows, features, trained_rows, params)``: the peak of ``score`` on
            ``rows`` rows with a model fitted on ``trained_rows``.
        model: ``model(rows, features, params)``: the fitted model's size (about its pickled
            size; saving it to storage serialises it once more).
    """

    fit: Callable[[int, int, Any], float]
    score: Callable[[int, int, int, Any], float]
    model: Callable[[int, int, Any], float]


def copies(fit: float, score: float, model: float = 1.0, fixed: float = 0.0) -> MemoryCost:
    """A cost model that grows with the input matrix: ``fit`` copies of it while fitting,
    ``score`` copies of the scored rows while scoring, a model of ``model`` copies of the
    training matrix, plus ``fixed`` bytes for each."""
    return MemoryCost(
        fit=lambda rows, features, params: fixed + fit * rows * features * CELL,
        score=lambda rows, features, trained, params: fixed + score * rows * features * CELL,
        model=lambda rows, features, params: fixed + model * rows * features * CELL,
    )


#: For a backend that declares nothing: up to ten copies of the matrix while fitting or scoring,
#: and a model that keeps the training data (as the neighbour methods do). Generous for most
#: algorithms; a plugin whose memory grows faster (pairwise distances, kernels) must declare it.
DEFAULT_MEMORY_COST = copies(fit=10, score=10, model=1, fixed=1 << 20)


@dataclass(frozen=True)
class DetectorSpec:
    """Everything the runtime needs to know about one detector backend.

    Attributes:
        id: The ``backend`` value clients send; lower case, digits and ``_``.
        name: Human name shown in ``/backends``.
        description: One sentence on how the detector works.
        category: Family of the algorithm (``probabilistic``, ``proximity``, ``ensemble``...).
        speed: Rough training-and-scoring cost class.
        memory: Rough memory class of a fitted model.
        best_for: What kind of data it suits.
        params: A msgspec Struct type (``forbid_unknown_fields=True``). It validates the
            request's ``params`` and its JSON schema is published in ``/backends``.
        build: ``build(params, contamination) -> Detector``; stores settings, must not fit.
            Randomised detectors take their seed from a ``random_state`` parameter.
        requires: Import names of optional dependencies; when one is missing the backend is
            listed as unavailable and refuses requests with ``install_hint``.
        install_hint: What an operator runs to make the backend available.
        min_samples: Fewest training rows the backend accepts, given its parameters.
        memory_cost: Its working memory as a function of the data's shape (for admission
            control); the default assumes at most ten copies of the input matrix.
        contract_exemptions: Behavioural checks of the detector contract
            (:func:`anomd.testing.check_detector`) that do not apply to this algorithm, each
            with the reason, e.g. ``{"far_values": "scores angles, which wrap around"}``. Only
            the checks in ``anomd.testing.detector_contract.EXEMPTABLE`` can be exempted.
    """

    id: str
    name: str
    description: str
    category: str
    speed: Speed
    memory: Memory
    best_for: str
    params: type[msgspec.Struct]
    build: Callable[[Any, float], Detector]
    requires: tuple[str, ...] = ()
    install_hint: str = ""
    min_samples: Callable[[Any], int] = field(default=lambda params: 2)
    memory_cost: MemoryCost = DEFAULT_MEMORY_COST
    contract_exemptions: Mapping[str, str] = field(default_factory=dict, hash=False)

    def missing_dependencies(self) -> list[str]:
        """Optional dependencies that cannot be imported (checked without importing them)."""
        return [name for name in self.requires if importlib.util.find_spec(name) is None]

    @property
    def available(self) -> bool:
        return not self.missing_dependencies()

    def require_available(self) -> DetectorSpec:
        """Returns ``self``, or raises a clear error naming what to install.

        Raises:
            BackendUnavailable: An optional dependency is missing.
        """
        missing = self.missing_dependencies()
        if missing:
            raise BackendUnavailable(
                f"backend {self.id!r} is not available: missing {', '.join(missing)}. {self.install_hint}"
            )
        return self

    def parse_params(self, raw: dict[str, Any] | None) -> msgspec.Struct:
        """Validates ``params`` against the backend's Struct.

        Raises:
            InvalidInput: Naming the offending key, e.g. ``unknown parameter `foo```.
        """
        return parse_struct(raw, self.params, f"backend {self.id!r}", "params", "parameter")

    def params_schema(self) -> dict[str, Any]:
        """The JSON schema of ``params``, inlined so clients need no ``$defs`` lookup."""
        return inline_schema(self.params)
