"""A fitted model: detector, score scaler, threshold and the facts needed to trust it later.

Everything the HTTP API reports about a model lives in :class:`ModelInfo`, which is also the
artifact manifest, so ``GET /models/{filename}`` never needs to unpickle anything.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec
import numpy as np

from anomd.detectors import Detector, DetectorSpec
from anomd.encoding import RowEncoder, encode_rows
from anomd.errors import InvalidInput
from anomd.explain import EXPLAIN_LIMIT, Explanation, FeatureProfile, explain
from anomd.inputs import TIMESTAMP_FIELD, model_matrix, prepare, training_matrix
from anomd.normalization import NORMALIZATIONS, ScoreScaler, agree_with_flags, finite_scores
from anomd.versions import library_versions


class ModelInfo(msgspec.Struct, kw_only=True):
    """The manifest of a fitted model (also what ``GET /models/{filename}`` returns)."""

    name: str
    backend: str
    params: dict[str, Any]
    contamination: float
    normalization: str
    threshold: float
    raw_threshold: float
    input_dim: int
    feature_names: list[str]
    samples_fitted: int
    training_time_ms: float
    created: str
    description: str | None = None
    encoder: dict[str, Any] | None = None
    plugin: str | None = None
    library_versions: dict[str, str] = msgspec.field(default_factory=dict)


class ModelDetails(ModelInfo, kw_only=True, tag_field="object", tag="model"):
    """A stored model's manifest and where it is (``GET /models/{filename}``), read without
    unpickling the model."""

    filename: str
    size_bytes: int
    content_hash: str
    format_version: int
    saved_path: str


@dataclass(frozen=True, slots=True)
class Scores:
    """Scores of a batch of rows against one model (or of a series, in row order).

    Attributes:
        times: A series' row times, seconds since the epoch (UTC); None for a table.
    """

    raw: np.ndarray
    score: np.ndarray
    is_anomaly: np.ndarray
    threshold: float
    normalization: str
    times: np.ndarray | None = None


@dataclass(slots=True)
class FittedModel:
    """A trained detector with its thresholding and encoding, ready to score rows."""

    info: ModelInfo
    detector: Detector
    scaler: ScoreScaler
    encoder: RowEncoder | None
    #: The training columns' medians, spreads and ranges, for explanations.
    profile: FeatureProfile | None = None

    def explain(
        self, X: np.ndarray, rows: Sequence[int], limit: int = EXPLAIN_LIMIT
    ) -> dict[int, Explanation]:
        """Per-feature contributions and the cause for ``rows`` of ``X`` (the anomalous ones,
        typically; at most ``limit``). See :mod:`anomd.explain` for how the cause is chosen."""
        if self.profile is None:
            return {}
        return explain(self.detector.score, X, rows, self.profile, self.info.feature_names, limit)

    def threshold_for(self, normalization: str | None) -> float:
        """The learned threshold on the requested score scale (monotone maps convert exactly)."""
        if normalization is None or normalization == self.info.normalization:
            return self.info.threshold
        return self.scaler.transform_one(self.info.raw_threshold, normalization)

    def matrix(self, rows: Any) -> np.ndarray:
        """Any supported input (see :mod:`anomd.inputs`) as the matrix this model scores."""
        return model_matrix(prepare(rows), self.encoder, self.info.input_dim)

    def score_matrix(
        self, X: np.ndarray, threshold: float | None = None, normalization: str | None = None
    ) -> Scores:
        """Scores an already encoded matrix.

        Without an explicit ``threshold`` the decision is taken on the raw scale, which is
        exact, and the scores are then aligned with it (:func:`agree_with_flags`) so that
        ``is_anomaly`` is ``score > threshold`` on the reply's scale too, as documented.
        """
        method = check_normalization(normalization or self.info.normalization)
        raw = finite_scores(self.detector.score(X))
        score = self.scaler.transform(raw, method)
        if threshold is None:
            flags = raw > self.info.raw_threshold
            used = self.threshold_for(method)
            score = agree_with_flags(score, flags, used)
        else:
            flags = score > threshold
            used = float(threshold)
        return Scores(raw=raw, score=score, is_anomaly=flags, threshold=used, normalization=method)

    def score(
        self,
        rows: Any,
        threshold: float | None = None,
        normalization: str | None = None,
    ) -> Scores:
        return self.score_matrix(self.matrix(rows), threshold, normalization)


#: What a backend raises for data it cannot fit. PyOD also checks some of its own results with
#: bare ``assert`` (HBOS: that each histogram integrates to 1, which fails for a column whose
#: spread is near the smallest floats); that is still "these data", not a bug to report as a 500.
FIT_ERRORS = (ValueError, np.linalg.LinAlgError, ArithmeticError, AssertionError)


def fit_error_reason(exc: BaseException) -> str:
    """The backend's own message, or what failed when it has none (a bare ``assert``)."""
    text = str(exc).strip()
    if text:
        return text
    return (f"an internal check of the detector failed ({type(exc).__name__}); columns with almost "
            "no spread or with extreme magnitudes are the usual cause")


def check_normalization(method: str) -> str:
    if method not in NORMALIZATIONS:
        raise InvalidInput(f"unknown normalization {method!r}; choose one of {', '.join(NORMALIZATIONS)}")
    return method


def check_contamination(value: float) -> float:
    if not (0.0 < value <= 0.5):
        raise InvalidInput(f"contamination must be in (0, 0.5], got {value}")
    return float(value)


def train(
    spec: DetectorSpec,
    rows: Any,
    *,
    name: str,
    contamination: float = 0.1,
    normalization: str = "standardization",
    params: Mapping[str, Any] | None = None,
    schema: Mapping[str, str] | None = None,
    description: str | None = None,
    plugin: str | None = None,
    encoder: RowEncoder | None = None,
    time_field: str | None = None,
    max_width: int | None = None,
) -> FittedModel:
    """Fits ``spec``'s detector on ``rows`` and learns the threshold from ``contamination``.

    ``rows`` is anything :func:`anomd.inputs.prepare` takes; a table's column names become the
    model's feature names, and later tables are scored by those names.

    ``encoder`` names the columns of a matrix the caller encoded itself from a table (dataset
    jobs build the matrix from Parquet columns directly, far faster than via dict rows); the
    model then scores dict rows by those names, like a model fitted on dict rows. Object rows
    may come with the encoder already inferred from them (memory admission measures the
    encoded width first); it then encodes them.
    ``time_field`` is the rows' timestamp key, never a feature; ``max_width`` bounds how many
    features object rows may encode to (checked before the matrix is allocated).

    Raises:
        InvalidInput: For bad settings, bad rows, too few rows, or data the algorithm cannot
            fit (the backend's own reason is passed on).
    """
    contamination = check_contamination(contamination)
    normalization = check_normalization(normalization)
    parsed = spec.parse_params(dict(params or {}))
    if encoder is None:
        X, encoder = training_matrix(prepare(rows, schema=schema, time_field=time_field or TIMESTAMP_FIELD),
                                     schema, time_field, max_width)
    else:
        X = encode_rows(rows, encoder, len(encoder.features))
    needed = spec.min_samples(parsed)
    if X.shape[0] < needed:
        raise InvalidInput(
            f"backend {spec.id!r} needs at least {needed} rows with these params; got {X.shape[0]}"
        )
    started = time.perf_counter()
    detector = spec.build(parsed, contamination)
    try:
        fitted = detector.fit(X)
    except FIT_ERRORS as exc:
        raise InvalidInput(f"backend {spec.id!r} could not fit these data: {fit_error_reason(exc)}") from None
    if fitted is not detector:
        raise TypeError(f"detector {spec.id!r}: fit() must return self")
    training_time_ms = (time.perf_counter() - started) * 1000.0
    train_raw = finite_scores(detector.training_scores_)
    raw_threshold = float(np.quantile(train_raw, 1.0 - contamination))
    # Given the threshold, the scaler keeps its standardised value below saturation.
    scaler = ScoreScaler.fit(train_raw, threshold=raw_threshold)
    info = ModelInfo(
        name=name,
        backend=spec.id,
        params=msgspec.to_builtins(parsed),
        contamination=contamination,
        normalization=normalization,
        threshold=scaler.transform_one(raw_threshold, normalization),
        raw_threshold=raw_threshold,
        input_dim=int(X.shape[1]),
        feature_names=encoder.features if encoder else [f"x{i}" for i in range(X.shape[1])],
        samples_fitted=int(X.shape[0]),
        training_time_ms=round(training_time_ms, 3),
        created=datetime.now(UTC).isoformat(timespec="milliseconds"),
        description=description,
        encoder=encoder.describe() if encoder else None,
        plugin=plugin,
        library_versions=library_versions(),
    )
    return FittedModel(
        info=info, detector=detector, scaler=scaler, encoder=encoder,
        profile=FeatureProfile.learn(X),
    )
