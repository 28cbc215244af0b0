"""The anomaly service: one object behind both the HTTP API and the Python API.

It owns the plugins, the storage and the model cache, and it turns requests (rows, names,
settings) into fitted models and scores. It is synchronous and thread-safe; the server runs its
CPU-bound calls on worker threads.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import msgspec
import numpy as np

from anomd import admission
from anomd.admission import MemoryBudget, MemoryEstimate, RowsShape
from anomd.artifacts import ArtifactCodec
from anomd.backend_catalog import BackendRow, backend_rows, params_for, resolve_backend
from anomd.detectors import DetectorSpec
from anomd.encoding import RowEncoder
from anomd.errors import AnomdError, Conflict, InvalidInput, NotFound, TooLarge
from anomd.estimator import Detector
from anomd.explain import Explanation
from anomd.inputs import Prepared, prepare
from anomd.metrics import ServiceMetrics
from anomd.model import FittedModel, ModelDetails, Scores
from anomd.model_locks import ModelLocks
from anomd.model_store import ModelRow, ModelStore
from anomd.names import check_filename, check_name, check_new_name, model_filename
from anomd.plugins import PluginHost
from anomd.settings import Settings, load_settings
from anomd.signing_key import artifact_key
from anomd.storage import Storage
from anomd.storage_config import open_storage
from anomd.timeseries.series import SeriesResult, detect_series, is_series

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

    def check_rows(
        self, data: Any, schema: Mapping[str, str] | None = None, time_field: str | None = None
    ) -> Prepared:
        """Refuses empty data and data over the configured row and column limits.

        Returns:
            The data made uniform (:func:`anomd.inputs.prepare`), to be used from here on.
        """
        prepared = prepare(data, schema=schema, time_field=time_field or self.settings.timestamp_field)
        if len(prepared) > self.settings.max_rows:
            raise TooLarge(f"{len(prepared)} rows is over this server's limit of {self.settings.max_rows}")
        width = prepared.width
        if width > self.settings.max_columns:
            raise TooLarge(f"rows of {width} columns are over this server's limit of "
                           f"{self.settings.max_columns} columns")
        return prepared

    # -- batch ------------------------------------------------------------------------------

    def fit(
        self,
        data: Any,
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
        data = self.check_rows(data, schema)
        if not overwrite and self.models.exists(filename):
            raise Conflict(f"model {model!r} with backend {spec.id!r} exists and overwrite is false")
        params = self._params(spec.id, params)
        shape = self._shape(data, schema)
        estimate = admission.estimate_fit(spec, spec.parse_params(params), shape, body_bytes)
        started = time.perf_counter()
        try:
            with self.memory.admit(estimate):
                fitted = self._detector(spec, contamination, normalization, params, schema).fit(
                    data, name=model, description=description,
                    plugin=self.plugins.detectors.entry(spec.id).plugin,  # type: ignore[union-attr]
                    timestamp_field=self.settings.timestamp_field, max_width=self.settings.max_columns,
                ).model_
                assert fitted is not None
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
        """The stored model ``model`` fitted with ``backend``.

        Without ``backend``, the model is found by name: the one stored model of that name
        whatever its backend; with two or more, a 409 lists them (name the backend then).
        """
        if backend is None:
            backend = self.backend_of(model)
        elif backend not in self.plugins.detectors:
            self.detector(backend)  # raises the clear unknown-backend error
        filename = model_filename(check_name(model), backend)
        try:
            return self.models.get(filename), filename
        except NotFound:
            raise NotFound(
                f"model {model!r} with backend {backend!r} not found ({filename}); fit it first"
            ) from None

    def backend_of(self, model: str) -> str:
        """The backend of the one stored model called ``model``.

        Raises:
            NotFound: No stored model has that name.
            Conflict: Several do (one per backend); the message lists them.
        """
        found = self.models.named(check_name(model))
        if not found:
            raise NotFound(f"no stored model is named {model!r}; fit it first (or check the name)")
        if len(found) > 1:
            listed = ", ".join(f"{filename} (backend {b!r})" for filename, b in found)
            raise Conflict(
                f"{len(found)} stored models are named {model!r}: {listed}; name the backend "
                "to choose one"
            )
        return found[0][1]

    def score(self, data: Any, **options: Any) -> tuple[FittedModel, Scores]:
        """Scores rows with a stored model (no prior load needed); ``options`` are
        :meth:`score_explained`'s ``model``, ``backend``, ``threshold``, ``normalization``."""
        fitted, scores, _ = self.score_explained(data, **options)  # type: ignore[misc]
        return fitted, scores

    def score_explained(
        self,
        data: Any,
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
        data = self.check_rows(data)
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
        data: Any,
        *,
        backend: str | None = None,
        contamination: float | None = None,
        normalization: str = "standardization",
        params: Mapping[str, Any] | None = None,
        schema: Mapping[str, str] | None = None,
        threshold: float | None = None,
        series: bool | None = None,
        timestamp_field: str | None = None,
        body_bytes: int = 0,
    ) -> tuple[FittedModel, Scores] | SeriesResult:
        """Fits on ``data`` and scores the same rows; nothing is persisted.

        Rows that carry a timestamp (``timestamp_field``, the configured one by default) are a
        series: unless ``series`` is false they are scored in time order as a stream with the
        time-series pipeline would have scored them (:mod:`anomd.timeseries.series`), and a
        :class:`SeriesResult` comes back. ``series=True`` insists (rows without timestamps are
        then an error); ``series=False`` scores them as unordered rows, the timestamp left out.
        ``body_bytes`` as in :meth:`fit`.

        Raises:
            InvalidInput: Bad rows or settings, or ``series=True`` without timestamps.
            TooLarge: The request's estimated working memory is over ``max_request_memory_mb``.
        """
        time_field = timestamp_field or self.settings.timestamp_field
        data = self.check_rows(data, schema, time_field)
        if series is not False and is_series(data.data, time_field):
            if normalization != "standardization":
                raise InvalidInput("normalization does not apply to a series: its score is calibrated "
                                   "(send series: false to score the rows as a table)")
            result = detect_series(
                data.data, time_field=time_field, backend=backend, contamination=contamination,  # type: ignore[arg-type]
                threshold=threshold, params=params, plugins=self.plugins, settings=self.settings,
                memory=self.memory, body_bytes=body_bytes,
            )
            self.metrics.detected_rows.inc(result.stats.backend, by=len(data))
            return result
        if series:
            raise InvalidInput(f"series is true but the rows carry no {time_field!r}; send each row's "
                               "time under that key (or set timestamp_field)")
        spec = self.detector(backend)
        contamination = 0.1 if contamination is None else contamination
        merged = self._params(spec.id, params)
        shape = self._shape(data, schema, time_field)
        # With the learned threshold about ``contamination`` of the rows are flagged (twice
        # that leaves room for leave-one-out training scores); an explicit one may flag all.
        flagged = 1.0 if threshold is not None else 2 * contamination
        with self.memory.admit(admission.estimate_detect(
            spec, spec.parse_params(merged), shape, body_bytes, flagged
        )):
            detector = self._detector(spec, contamination, normalization, merged, schema).fit(
                data, name="detect", timestamp_field=time_field, max_width=self.settings.max_columns)
            scores = detector.scores(data, threshold=threshold)
        self.metrics.detected_rows.inc(spec.id, by=len(data))
        return detector.model_, scores  # type: ignore[return-value]

    def _detector(
        self, spec: DetectorSpec, contamination: float, normalization: str,
        params: Mapping[str, Any] | None, schema: Mapping[str, str] | None,
    ) -> Detector:
        """An unfitted in-memory detector with this server's default parameters applied."""
        return Detector(spec, contamination=contamination, normalization=normalization,
                        schema=schema, params=self._params(spec.id, params))

    # -- memory admission -------------------------------------------------------------------

    def _shape(
        self, data: Prepared, schema: Mapping[str, str] | None, time_field: str | None = None
    ) -> RowsShape:
        """The training rows' encoded shape. Object rows have their encoder inferred here (it
        is what knows their width: one column per category), before any matrix is allocated."""
        encoder = None
        rows = data.data
        if not isinstance(rows, np.ndarray) and len(rows) and isinstance(rows[0], Mapping):
            encoder = RowEncoder.infer(rows, schema, time_field or self.settings.timestamp_field,  # type: ignore[arg-type]
                                       self.settings.max_columns)
            if not encoder.columns:
                raise InvalidInput("rows must have at least one column ($.data[0] is empty)")
        return admission.rows_shape(rows, encoder)

    def _score_estimate(
        self, fitted: FittedModel, data: Prepared, explain: bool, body_bytes: int
    ) -> MemoryEstimate:
        info = fitted.info
        spec = self.plugins.detectors.get(info.backend)
        if spec is None:  # a model whose plugin is gone could not have been loaded
            raise NotFound(f"backend {info.backend!r} is not registered")
        shape = admission.rows_shape(data.data, width=info.input_dim)
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
