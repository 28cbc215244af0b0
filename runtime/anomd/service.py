"""The anomaly service: one object behind both the HTTP API and the Python API.

It owns the plugins, the storage and the model cache, and it turns requests (rows, names,
settings) into fitted models and scores. It is synchronous and thread-safe; the server runs its
CPU-bound calls on worker threads.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import msgspec
import numpy as np

from anomd import admission
from anomd.admission import MemoryBudget, MemoryEstimate, RowsShape
from anomd.artifacts import ArtifactCodec
from anomd.backend_catalog import BackendRow, backend_rows, params_for, resolve_backend
from anomd.detectors import DetectorSpec
from anomd.encoding import Row, RowEncoder
from anomd.errors import AnomdError, Conflict, InvalidInput, NotFound, TooLarge
from anomd.explain import Explanation
from anomd.metrics import ServiceMetrics
from anomd.model import FittedModel, ModelDetails, Scores, train
from anomd.model_locks import ModelLocks
from anomd.model_store import ModelRow, ModelStore
from anomd.names import check_filename, check_name, check_new_name, model_filename
from anomd.plugins import PluginHost
from anomd.settings import Settings, load_settings
from anomd.signing_key import artifact_key
from anomd.storage import Storage
from anomd.storage_config import open_storage

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class FitOutcome:
    """A fitted and persisted model, and where it was saved."""

    model: FittedModel
    filename: str
    saved_path: str
    content_hash: str


class AnomalyService:
    """Fit, score, detect and manage models.

    Args:
        settings: Effective configuration; defaults to :func:`anomd.settings.load_settings`.
        plugins: A loaded :class:`PluginHost`; defaults to loading the ``anomd`` entry points.
        storage: A storage backend; defaults to the one ``settings`` configures.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        plugins: PluginHost | None = None,
        storage: Storage | None = None,
    ) -> None:
        self.settings = settings or load_settings()
        self.plugins = plugins or PluginHost(
            strict=self.settings.strict_plugins, blocked=self.settings.blocked_plugins
        )
        self.storage = storage or open_storage(
            self.settings.storage_uri(), self.settings.storage_options, self.plugins.storage
        )
        codec = ArtifactCodec(artifact_key(self.settings.secret_key, self.settings.data_dir))
        self.models = ModelStore(
            self.storage, codec, self.settings.model_cache_size, self.settings.max_artifact_bytes
        )
        #: Serialises the writes (save, delete) to one model; reads need no lock (see ModelLocks).
        self.locks = ModelLocks()
        self.metrics = ServiceMetrics()
        #: The working memory requests may hold together (``max_request_memory_mb``).
        self.memory = MemoryBudget(admission.limit_mb(self.settings.max_request_memory_mb))

    # -- backends ---------------------------------------------------------------------------

    def detector(self, backend: str | None) -> DetectorSpec:
        """The spec for ``backend``, refusing unknown, disabled and unavailable ones clearly."""
        return resolve_backend(self.plugins, self.settings, backend)

    def backends(self) -> list[BackendRow]:
        return backend_rows(self.plugins, self.settings)

    def _params(self, backend: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
        return params_for(self.settings, backend, params)

    def check_rows(self, data: Sequence[Row] | np.ndarray) -> None:
        """Refuses empty data and data over the configured row and column limits."""
        if data is None or len(data) == 0:
            raise InvalidInput("data is empty; send at least one row")
        if len(data) > self.settings.max_rows:
            raise TooLarge(f"{len(data)} rows is over this server's limit of {self.settings.max_rows}")
        first = data[0]
        width = first.shape[-1] if isinstance(first, np.ndarray) and first.ndim else (
            len(first) if isinstance(first, (Sequence, Mapping)) else 1)
        if width > self.settings.max_columns:
            raise TooLarge(f"rows of {width} columns are over this server's limit of "
                           f"{self.settings.max_columns} columns")

    # -- batch ------------------------------------------------------------------------------

    def fit(
        self,
        data: Sequence[Row] | np.ndarray,
        *,
        model: str = "default",
        backend: str | None = None,
        contamination: float = 0.1,
        normalization: str = "standardization",
        params: Mapping[str, Any] | None = None,
        schema: Mapping[str, str] | None = None,
        overwrite: bool = True,
        description: str | None = None,
        body_bytes: int = 0,
    ) -> FitOutcome:
        """Fits a detector and persists it at once as ``<model>_<backend>.joblib``.

        ``body_bytes``: memory the caller already holds for this request (the HTTP body),
        counted in its memory estimate.
        """
        spec = self.detector(backend)
        filename = model_filename(check_new_name(model, self.settings.max_name_length), spec.id)
        self.check_rows(data)
        if not overwrite and self.models.exists(filename):
            raise Conflict(f"model {model!r} with backend {spec.id!r} exists and overwrite is false")
        params = self._params(spec.id, params)
        shape, encoder = self._shape(data, schema)
        estimate = admission.estimate_fit(spec, spec.parse_params(params), shape, body_bytes)
        started = time.perf_counter()
        try:
            with self.memory.admit(estimate):
                fitted = train(
                    spec, data, name=model, contamination=contamination,
                    normalization=normalization, params=params, schema=schema,
                    description=description, encoder=encoder,
                    plugin=self.plugins.detectors.entry(spec.id).plugin,  # type: ignore[union-attr]
                )
                return self._save(fitted, spec, filename, overwrite, started)
        except AnomdError:
            self.metrics.fit_failures.inc(spec.id)
            raise

    def _save(self, fitted: FittedModel, spec: DetectorSpec, filename: str, overwrite: bool,
              started: float) -> FitOutcome:
        # Training runs unlocked (fits of one model may overlap); the write is serialised with
        # other saves and deletes of the model, so "last write wins" is well defined.
        with self.locks.writing(filename):
            if not overwrite and self.models.exists(filename):
                raise Conflict(f"model {fitted.info.name!r} with backend {spec.id!r} exists and "
                               "overwrite is false")
            _, manifest = self.models.save(fitted, filename)
        self.metrics.fits.inc(spec.id)
        self.metrics.fit_seconds.observe(time.perf_counter() - started, spec.id)
        return FitOutcome(fitted, filename, self.models.location(filename), manifest.content_hash)

    def get_model(self, model: str = "default", backend: str | None = None) -> tuple[FittedModel, str]:
        backend = self.settings.default_backend if backend is None else backend
        if backend not in self.plugins.detectors:
            self.detector(backend)  # raises the clear unknown-backend error
        filename = model_filename(check_name(model), backend)
        try:
            return self.models.get(filename), filename
        except NotFound:
            raise NotFound(
                f"model {model!r} with backend {backend!r} not found ({filename}); fit it first"
            ) from None

    def score(
        self,
        data: Sequence[Row] | np.ndarray,
        *,
        model: str = "default",
        backend: str | None = None,
        threshold: float | None = None,
        normalization: str | None = None,
    ) -> tuple[FittedModel, Scores]:
        """Scores rows with a stored model (no prior load needed)."""
        fitted, scores, _ = self.score_explained(
            data, model=model, backend=backend, threshold=threshold, normalization=normalization)
        return fitted, scores

    def score_explained(
        self,
        data: Sequence[Row] | np.ndarray,
        *,
        model: str = "default",
        backend: str | None = None,
        threshold: float | None = None,
        normalization: str | None = None,
        explain: bool = False,
        body_bytes: int = 0,
        reply: Callable[[FittedModel, Scores, dict[int, Explanation]], T] | None = None,
    ) -> tuple[FittedModel, Scores, dict[int, Explanation]] | T:
        """Scores rows with a stored model and, with ``explain``, explains the anomalous ones.

        ``reply`` builds the caller's answer while the request's memory is still admitted
        (the HTTP reply of a large batch is part of its working memory); it is returned instead
        of the tuple.
        """
        self.check_rows(data)
        fitted, _ = self.get_model(model, backend)
        estimate = self._score_estimate(fitted, data, explain, body_bytes)
        with self.memory.admit(estimate):
            X = fitted.matrix(data)
            scores = fitted.score_matrix(X, threshold, normalization)
            self.metrics.scored_rows.inc(fitted.info.backend, by=len(X))
            explained = fitted.explain(X, np.flatnonzero(scores.is_anomaly).tolist()) if explain else {}
            if reply is not None:
                return reply(fitted, scores, explained)
        return fitted, scores, explained

    def detect(
        self,
        data: Sequence[Row] | np.ndarray,
        *,
        backend: str | None = None,
        contamination: float = 0.1,
        normalization: str = "standardization",
        params: Mapping[str, Any] | None = None,
        schema: Mapping[str, str] | None = None,
        threshold: float | None = None,
        body_bytes: int = 0,
    ) -> tuple[FittedModel, Scores]:
        """Fits on ``data`` and scores the same rows; nothing is persisted."""
        spec = self.detector(backend)
        self.check_rows(data)
        params = self._params(spec.id, params)
        shape, encoder = self._shape(data, schema)
        # With the learned threshold about ``contamination`` of the rows are flagged (twice
        # that leaves room for leave-one-out training scores); an explicit one may flag all.
        flagged = 1.0 if threshold is not None else 2 * contamination
        with self.memory.admit(admission.estimate_detect(
            spec, spec.parse_params(params), shape, body_bytes, flagged
        )):
            fitted = train(
                spec, data, name="detect", contamination=contamination, normalization=normalization,
                params=params, schema=schema, encoder=encoder,
            )
            scores = fitted.score(data, threshold=threshold)
        self.metrics.detected_rows.inc(spec.id, by=len(data))
        return fitted, scores

    # -- memory admission -------------------------------------------------------------------

    def _shape(
        self, data: Sequence[Row] | np.ndarray, schema: Mapping[str, str] | None
    ) -> tuple[RowsShape, RowEncoder | None]:
        """The training rows' encoded shape; object rows have their encoder inferred here (it
        is what knows their width: one column per category) and then reused to encode them."""
        encoder = None
        if not isinstance(data, np.ndarray) and len(data) and isinstance(data[0], Mapping):
            encoder = RowEncoder.infer(data, schema)  # type: ignore[arg-type]
            if not encoder.columns:
                raise InvalidInput("rows must have at least one column ($.data[0] is empty)")
        return admission.rows_shape(data, encoder), encoder

    def _score_estimate(
        self, fitted: FittedModel, data: Sequence[Row] | np.ndarray, explain: bool, body_bytes: int
    ) -> MemoryEstimate:
        info = fitted.info
        spec = self.plugins.detectors.get(info.backend)
        if spec is None:  # a model whose plugin is gone could not have been loaded
            raise NotFound(f"backend {info.backend!r} is not registered")
        shape = admission.rows_shape(data, width=info.input_dim)
        return admission.estimate_score(spec, spec.parse_params(info.params), shape,
                                        info.samples_fitted, body_bytes, explain)

    # -- model management -------------------------------------------------------------------

    def load(self, model: str, backend: str | None = None) -> tuple[FittedModel, str]:
        """Warms a model into memory (optional before scoring)."""
        return self.get_model(model, backend)

    def list_models(self) -> list[ModelRow]:
        return self.models.list()

    def model_info(self, filename: str) -> ModelDetails:
        manifest, obj = self.models.manifest(check_filename(filename))
        return ModelDetails(
            **msgspec.structs.asdict(manifest.info), filename=filename, size_bytes=obj.size,
            content_hash=manifest.content_hash, format_version=manifest.format_version,
            saved_path=self.models.location(filename),
        )

    def delete_model(self, filename: str) -> bool:
        with self.locks.writing(check_filename(filename)):
            if not self.models.delete(filename):
                raise NotFound(f"model {filename!r} not found")
        self.metrics.deletes.inc()
        return True

    def close(self) -> None:
        """Releases storage connections (called at server shutdown)."""
        self.storage.close()
