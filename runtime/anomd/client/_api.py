"""The operations both clients offer, written once: each builds a :class:`~._wire.Call` and
hands it to ``_run``, which the sync client performs and the async client awaits."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from anomd.client import _wire
from anomd.client.results import StreamResult
from anomd.inputs import records

if TYPE_CHECKING:
    from anomd.backend_catalog import BackendRow
    from anomd.client.results import DetectResult, ScoreResult
    from anomd.model import ModelDetails
    from anomd.model_store import ModelRow
    from anomd.server.schemas import DeleteResponse, FitResponse, HealthResponse, LoadResponse

DEFAULT_URL = "http://127.0.0.1:8000"


def settings(url: str | None, api_key: str | None, transport: str) -> tuple[str, dict[str, str]]:
    """The base URL and default headers (``ANOMD_URL`` / ``ANOMD_API_KEY`` when not given)."""
    if transport not in ("arrow", "json"):
        raise ValueError(f"transport must be 'arrow' or 'json', not {transport!r}")
    from anomd.versions import anomd_version

    base = (url or os.environ.get("ANOMD_URL") or DEFAULT_URL).rstrip("/")
    key = api_key if api_key is not None else os.environ.get("ANOMD_API_KEY")
    headers = {"user-agent": f"anomd-client/{anomd_version()}"}
    if key:
        headers["authorization"] = f"Bearer {key}"
    return base, headers


class Operations:
    """fit, score, detect, stream and model management; see :class:`anomd.Client`."""

    _arrow: bool

    def _run(self, call: _wire.Call) -> Any:  # pragma: no cover - provided by the clients
        raise NotImplementedError

    # -- batch ------------------------------------------------------------------------------

    def fit(
        self, data: Any, *, model: str = "default", backend: str | None = None,
        contamination: float = 0.1, normalization: str = "standardization",
        params: Mapping[str, Any] | None = None, schema: Mapping[str, str] | None = None,
        overwrite: bool = True, description: str | None = None,
    ) -> FitResponse:
        """Fits ``backend`` on ``data`` and stores it on the server as ``model``."""
        from anomd.server.schemas import FitResponse

        fields = {"model": model, "backend": backend, "contamination": contamination,
                      "normalization": normalization, "params": dict(params) if params else None,
                      "schema": dict(schema) if schema else None, "overwrite": overwrite,
                      "description": description}
        return self._run(_wire.batch_call("/fit", data, fields, _wire.reader(FitResponse),
                                          arrow=self._arrow))

    def score(
        self, data: Any, *, model: str = "default", backend: str | None = None,
        threshold: float | None = None, normalization: str | None = None, explain: bool = False,
    ) -> ScoreResult:
        """Scores ``data`` with the stored ``model`` (``backend`` may be left out when only one
        model has that name)."""
        fields = {"model": model, "backend": backend, "threshold": threshold,
                      "normalization": normalization, "explain": explain or None}
        return self._run(_wire.batch_call("/score", data, fields, _wire.read_scores,
                                          arrow=self._arrow, accept_arrow=self._arrow))

    def detect(
        self, data: Any, *, backend: str | None = None, contamination: float = 0.1,
        normalization: str = "standardization", params: Mapping[str, Any] | None = None,
        schema: Mapping[str, str] | None = None, threshold: float | None = None,
    ) -> DetectResult:
        """Fits on ``data`` and returns its anomalous rows; nothing is stored."""
        fields = {"backend": backend, "contamination": contamination, "normalization": normalization,
                      "params": dict(params) if params else None,
                      "schema": dict(schema) if schema else None, "threshold": threshold}
        return self._run(_wire.batch_call("/detect", data, fields, _wire.read_scores,
                                          arrow=self._arrow, accept_arrow=self._arrow))

    def load(self, model: str = "default", backend: str | None = None) -> LoadResponse:
        """Warms a stored model into the server's memory (optional before scoring)."""
        import msgspec

        from anomd.server.schemas import LoadResponse

        body = {"model": model, **({"backend": backend} if backend else {})}
        return self._run(_wire.Call("POST", _wire.API + "/load", _wire.reader(LoadResponse),
                                    content=msgspec.json.encode(body),
                                    headers={"content-type": _wire.JSON}))

    # -- streaming --------------------------------------------------------------------------

    def stream(self, model_id: str, data: Any, **config: Any) -> StreamResult:
        """Sends one point (a dict) or several (rows, a DataFrame) to the streaming detector
        ``model_id``; ``config`` holds its settings (``min_samples``, ``window_size``...)."""
        import msgspec

        body = {**config, "model_id": model_id, "data": records(data)}
        return self._run(_wire.Call("POST", _wire.API + "/stream", _wire.reader(StreamResult),
                                    content=msgspec.json.encode(body),
                                    headers={"content-type": _wire.JSON}))

    # -- models and the server --------------------------------------------------------------

    def models(self) -> list[ModelRow]:
        """Every stored model."""
        from anomd.model_store import ModelRow

        return self._run(_wire.Call("GET", _wire.API + "/models", _wire.listing(ModelRow)))

    def model(self, filename: str) -> ModelDetails:
        """Everything known about a stored model (``<model>_<backend>.joblib``)."""
        from anomd.model import ModelDetails

        return self._run(_wire.Call("GET", f"{_wire.API}/models/{filename}", _wire.reader(ModelDetails)))

    def delete_model(self, filename: str) -> DeleteResponse:
        from anomd.server.schemas import DeleteResponse

        return self._run(_wire.Call("DELETE", f"{_wire.API}/models/{filename}",
                                    _wire.reader(DeleteResponse)))

    def backends(self) -> list[BackendRow]:
        """The server's detectors, with their parameter schemas."""
        from anomd.backend_catalog import BackendRow

        return self._run(_wire.Call("GET", _wire.API + "/backends", _wire.listing(BackendRow)))

    def health(self) -> HealthResponse:
        from anomd.server.schemas import HealthResponse

        return self._run(_wire.Call("GET", "/health", _wire.reader(HealthResponse)))
