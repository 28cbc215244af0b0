"""``anomd.Detector``: an in-memory estimator with the PyOD / scikit-learn shape.

``Detector("ecod", contamination=0.05).fit(X)`` learns a model in memory and writes nothing
anywhere; ``score`` (alias ``decision_function``) gives raw scores, higher = more anomalous,
``predict`` 0/1 labels, ``scores`` everything the server's ``/score`` answers (``raw``,
``score``, ``is_anomaly``, ``threshold``) and ``explain`` per-feature contributions. ``X`` is
anything :mod:`anomd.inputs` takes: NumPy, lists, dicts, pandas or Polars, Arrow.

The service builds on this class: :class:`anomd.AnomalyService` fits through it (and then
persists the model) and scores through it, and the HTTP routes call the service, so a
detector fitted here and one fitted over HTTP on the same rows give the same scores.
A detector pickles (the fitted model is the same object the artifact store saves), which is
what joblib, multiprocessing and scikit-learn's tooling need.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Self

import numpy as np

from anomd.errors import InvalidInput
from anomd.normalization import finite_scores

if TYPE_CHECKING:
    from anomd.detectors import DetectorSpec
    from anomd.model import FittedModel, Scores


class NotFittedError(InvalidInput):
    """A detector used before :meth:`Detector.fit` (also a ``ValueError``-like 422 when it
    reaches the HTTP layer, which it never should)."""


class Detector:
    """An anomaly detector that lives in memory.

    Args:
        backend: Detector id (``anomd backends`` lists them), or a resolved ``DetectorSpec``.
        contamination: Expected share of anomalies in the training data; sets the threshold.
        normalization: How raw scores become ``score``: ``standardization`` (default),
            ``zscore``, ``minmax`` or ``raw``.
        schema: Column kinds for dict rows or tables (``{"zip": "categorical"}``).
        params: The backend's hyper-parameters; keyword arguments are added to them, so
            ``Detector("isolation_forest", n_estimators=200)`` works as in PyOD.

    Attributes:
        model_: The fitted :class:`~anomd.model.FittedModel` (after ``fit``).
    """

    def __init__(
        self,
        backend: str | DetectorSpec = "ecod",
        *,
        contamination: float = 0.1,
        normalization: str = "standardization",
        schema: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        **backend_params: Any,
    ) -> None:
        # Stored as given (scikit-learn's clone checks that the constructor keeps its arguments).
        self.backend = backend
        self.contamination = contamination
        self.normalization = normalization
        self.schema = schema
        self.params = {**(params or {}), **backend_params} if backend_params or params is None else params
        self.model_: FittedModel | None = None

    @classmethod
    def from_model(cls, model: FittedModel) -> Detector:
        """A fitted detector around a model (one loaded from storage, for instance)."""
        info = model.info
        detector = cls(info.backend, contamination=info.contamination,
                       normalization=info.normalization, params=info.params)
        detector.model_ = model
        return detector

    # -- scikit-learn's estimator protocol (clone, grid search) ------------------------------

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {"backend": self.backend, "contamination": self.contamination,
                "normalization": self.normalization, "schema": self.schema, "params": self.params}

    def set_params(self, **params: Any) -> Self:
        for key, value in params.items():
            if key in ("backend", "contamination", "normalization", "schema"):
                setattr(self, key, value)
            elif key == "params":
                self.params = value if value is not None else {}
            else:
                self.params = {**self.params, key: value}
        return self

    # -- fitting -----------------------------------------------------------------------------

    def fit(
        self,
        X: Any,
        y: Any = None,
        *,
        name: str = "detector",
        description: str | None = None,
        plugin: str | None = None,
        timestamp_field: str | None = "timestamp",
        max_width: int | None = None,
    ) -> Self:
        """Learns the model from ``X`` (``y`` is ignored: the detectors are unsupervised).

        Args:
            X: Training data in any supported form; a table's column names are kept.
            name, description, plugin: Recorded in the model's manifest (the service sets
                them; they matter only once a model is stored).
            timestamp_field: The rows' time key or column: never a feature (None: no such key).
            max_width: Most features the rows may encode to (a server's ``max_columns``).

        Raises:
            InvalidInput: Bad data or settings, or data the algorithm cannot fit, with the
                reason (the same message the HTTP API gives).
        """
        from anomd.model import train

        self.model_ = train(
            self._spec(), X, name=name, contamination=self.contamination,
            normalization=self.normalization, params=dict(self.params or {}), schema=self.schema,
            description=description, plugin=plugin, time_field=timestamp_field, max_width=max_width,
        )
        return self

    def fit_predict(self, X: Any, y: Any = None) -> np.ndarray:
        """Fits on ``X`` and returns its 0/1 labels (PyOD's ``labels_`` of the training rows)."""
        return self.fit(X).predict(X)

    # -- scoring -----------------------------------------------------------------------------

    def score(self, X: Any) -> np.ndarray:
        """Raw anomaly scores of ``X`` on the detector's own scale; higher = more anomalous."""
        model = self._fitted()
        return finite_scores(model.detector.score(model.matrix(X)))

    decision_function = score

    def predict(self, X: Any) -> np.ndarray:
        """1 for the rows over the learned threshold, 0 for the others."""
        return self.scores(X).is_anomaly.astype(np.int64)

    def scores(
        self, X: Any, *, threshold: float | None = None, normalization: str | None = None
    ) -> Scores:
        """``raw``, normalised ``score``, ``is_anomaly`` and the threshold used, for every row
        (what ``POST /score`` answers)."""
        return self._fitted().score(X, threshold=threshold, normalization=normalization)

    def explain(
        self, X: Any, rows: Sequence[int] | None = None, *, limit: int = 1000
    ) -> dict[int, dict[str, float]]:
        """Per-feature contributions for ``rows`` of ``X`` (default: its anomalous rows).

        A contribution is how much the raw score falls when that feature alone is set to its
        training median, largest first (what ``explain: true`` adds on ``/score``); ties
        between saturated contributions are ordered as :mod:`anomd.explain` documents, so the
        first feature is the row's cause.
        """
        model = self._fitted()
        matrix = model.matrix(X)
        if rows is None:
            rows = model.score_matrix(matrix).is_anomaly.nonzero()[0].tolist()
        return {row: found.contributions for row, found in model.explain(matrix, rows, limit).items()}

    # -- what was learned --------------------------------------------------------------------

    @property
    def threshold_(self) -> float:
        """The learned threshold on the raw scale of :meth:`score` (PyOD's ``threshold_``)."""
        return self._fitted().info.raw_threshold

    @property
    def decision_scores_(self) -> np.ndarray:
        """Raw scores of the training rows (PyOD's ``decision_scores_``)."""
        return finite_scores(self._fitted().detector.training_scores_)

    @property
    def labels_(self) -> np.ndarray:
        """0/1 labels of the training rows."""
        return (self.decision_scores_ > self.threshold_).astype(np.int64)

    @property
    def feature_names_in_(self) -> list[str]:
        return list(self._fitted().info.feature_names)

    @property
    def n_features_in_(self) -> int:
        return self._fitted().info.input_dim

    def __repr__(self) -> str:
        backend = self.backend if isinstance(self.backend, str) else self.backend.id
        extra = "".join(f", {k}={v!r}" for k, v in self.params.items())
        state = "fitted" if self.model_ is not None else "not fitted"
        return f"Detector({backend!r}, contamination={self.contamination}{extra}) [{state}]"

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        if not isinstance(self.backend, str):
            state["backend"] = self.backend.id  # specs hold plugin code; the id finds it again
        return state

    # -- internals ---------------------------------------------------------------------------

    def _fitted(self) -> FittedModel:
        if self.model_ is None:
            raise NotFittedError("this Detector is not fitted yet; call fit(X) first")
        return self.model_

    def _spec(self) -> DetectorSpec:
        if not isinstance(self.backend, str):
            return self.backend
        from anomd import _default_plugins
        from anomd.backend_catalog import resolve_backend

        return resolve_backend(_default_plugins(), None, self.backend)
