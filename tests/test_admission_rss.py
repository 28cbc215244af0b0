"""The memory estimate bounds the real peak RSS of a server, within 2x, for every backend.

For each backend a real server (a subprocess on 127.0.0.1) fits, scores, explains, detects and
streams a batch of modest size (tens of MB: this machine is shared); the server's peak RSS
growth during each request is read from the kernel's high-water mark (``peak_rss``), and the
estimate is computed here with the same functions the server admits requests with. The claim
checked: ``growth <= estimate <= 2 * growth``. Sizes are chosen so that each request's
working memory is well above the few MB of noise a Python process makes on its own.

Each test runs in a fresh session of the server process (a fork of it as it started), so a
figure does not depend on which tests ran before it: a process that has served larger requests
reuses the heap they freed and grows less (a knn fit grew 14-16 MB after the other backends and
18-20 MB on its own). The first large request of a fresh process is the case the estimates must
cover.

``python tests/test_admission_rss.py [backend...]`` prints the table without asserting (for
calibrating a cost model).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pytest
from helpers import BACKENDS, REQUIRE_ALL_BACKENDS
from peak_rss import MALLOC_ENV, supported

from anomd import admission
from anomd.plugins import PluginHost

MB = 1 << 20


@dataclass(frozen=True)
class Case:
    """Sizes for one backend.

    Attributes:
        rows: Rows fitted (and detected), ``features`` wide.
        score_rows: Rows scored with that model.
        explain_features: Width of the model whose 1,000 rows are explained (an explanation
            costs one scoring per feature, so width is what makes it large).
        window: Streaming window; a batch of three windows of points is sent to a new stream.
    """

    rows: int
    score_rows: int
    window: int
    features: int = 10
    explain_features: int = 40
    params: dict[str, Any] | None = None


CASES: dict[str, Case] = {
    "ecod": Case(40_000, 40_000, 10_000),
    "copod": Case(40_000, 40_000, 10_000),
    "hbos": Case(40_000, 40_000, 10_000),
    "isolation_forest": Case(40_000, 40_000, 10_000),
    "loda": Case(40_000, 40_000, 10_000),
    "cblof": Case(30_000, 40_000, 10_000),
    "mcd": Case(8_000, 40_000, 4_000),
    "knn": Case(12_000, 20_000, 4_000),
    "local_outlier_factor": Case(12_000, 20_000, 4_000),
    "one_class_svm": Case(3_500, 30_000, 2_500),
    "suod": Case(3_000, 20_000, 2_000),
    "autoencoder": Case(15_000, 40_000, 4_000, params={"epochs": 1}),
    "surprise": Case(40_000, 40_000, 10_000),
}


def _rows(n: int, d: int, seed: int) -> list[list[float]]:
    return np.random.default_rng(seed).normal(size=(n, d)).round(6).tolist()


class Probe:
    """The measuring process (``rss_worker``) and the plugin specs for the estimates."""

    def __init__(self) -> None:
        env = {**os.environ, **MALLOC_ENV, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
               "ANOMD_LOG_LEVEL": "warning"}
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("rss_worker.py"))], env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        self.host = PluginHost()

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(60)

    def _exchange(self, command: dict[str, Any]) -> dict[str, Any]:
        """One command line to the worker, its one reply line back (status 200 asserted)."""
        self.process.stdin.write(msgspec.json.encode(command).decode() + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the measuring process exited ({self.process.poll()})")
        out = msgspec.json.decode(line)
        assert out["status"] == 200, out["reply"]
        return out

    def session(self, state: str) -> None:
        """Begins or ends a session: a fork of the worker as it started (see rss_worker)."""
        self._exchange({"session": state})

    def send(self, path: str, body: dict[str, Any], measure: bool = False) -> dict[str, Any]:
        raw = msgspec.json.encode(body).decode()
        out = self._exchange({"path": "/v1/ml/anomaly" + path, "body": raw, "measure": measure})
        out["size"] = len(raw.encode())
        return out

    def measure(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any], int]:
        out = self.send(path, body, measure=True)
        return out["growth"], out["reply"], out["size"]

    def run(self, backend: str, case: Case) -> list[tuple[str, int, int]]:
        """(operation, measured growth, estimate) for each operation on ``backend``."""
        spec = self.host.detectors.get(backend)
        params = case.params or {}
        parsed = spec.parse_params(params)
        d = case.features
        self._warm(backend, params, d)
        out = []
        fit_rows = _rows(case.rows, d, 1)
        fit_body = {"model": "m", "backend": backend, "params": params, "data": fit_rows}
        shape = admission.rows_shape(fit_rows)
        growth, _, size = self.measure("/fit", fit_body)
        out.append(("fit", growth, admission.estimate_fit(spec, parsed, shape, size).total))
        growth, _, size = self.measure("/detect", {**fit_body, "model": "detect"})
        out.append(("detect", growth,
                    admission.estimate_detect(spec, parsed, shape, size, flagged=0.2).total))
        self.send("/fit", fit_body)  # the stored model scored next, cached as in a server
        del fit_rows, fit_body
        score_rows = _rows(case.score_rows, d, 2)
        growth, _, size = self.measure("/score", {"model": "m", "backend": backend, "data": score_rows})
        shape = admission.rows_shape(score_rows)
        out.append(("score", growth,
                    admission.estimate_score(spec, parsed, shape, case.rows, size).total))
        points = [dict(zip("abcdefghij", row, strict=False)) for row in score_rows[: case.window * 3]]
        del score_rows
        growth, _, size = self.measure("/stream", {
            "model_id": f"s-{backend}", "backend": backend, "params": params,
            "window_size": case.window, "min_samples": case.window, "retrain_interval": case.window,
            "data": points})
        out.append(("stream", growth, admission.estimate_stream(
            spec, parsed, admission.rows_shape(points), case.window, body_bytes=size).total))
        del points
        wide, trained = case.explain_features, min(case.rows, 3000)
        self.send("/fit", {"model": "wide", "backend": backend, "params": params,
                           "data": _rows(trained, wide, 3)})
        explained = _rows(admission.EXPLAIN_ROWS, wide, 4)
        body = {"model": "wide", "backend": backend, "threshold": 0.0, "explain": True,
                "data": explained}
        self.send("/score", {**body, "data": explained[:10]})  # cache the model
        growth, reply, size = self.measure("/score", body)
        assert sum("cause" in p for p in reply["data"]) == len(explained)
        out.append(("explain", growth, admission.estimate_score(
            spec, parsed, admission.rows_shape(explained), trained, size, explain=True).total))
        return out

    def _warm(self, backend: str, params: dict[str, Any], d: int) -> None:
        """Imports, compiles and first-use allocations, so they are not counted as a request's."""
        rows = _rows(300, d, 0)
        self.send("/fit", {"model": "w", "backend": backend, "params": params, "data": rows})
        self.send("/score", {"model": "w", "backend": backend, "data": rows, "explain": True})
        self.send("/detect", {"backend": backend, "params": params, "data": rows})
        self.send("/stream", {"model_id": f"w-{backend}", "backend": backend, "params": params,
                              "min_samples": 100, "window_size": 200, "retrain_interval": 100,
                              "retrain_lag": 0,
                              "data": [dict(zip("abcdefghij", r, strict=False)) for r in rows]})


SERIES_START = 1_700_000_000  # epoch seconds of the first point; 5-minute steps


def _series_points(n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` points of a daily cycle plus noise, as the series routes take them."""
    t = np.arange(n)
    values = 10 + 3 * np.sin(2 * np.pi * t / 288) + np.random.default_rng(seed).normal(0, 0.3, n)
    return [{"timestamp": int(SERIES_START + 300 * i), "value": round(float(v), 4)} for i, v in enumerate(values)]


def series_cases(probe: Probe) -> list[tuple[str, int, int]]:
    """(operation, measured growth, estimate) for the series operations: ``/detect`` of
    timestamped rows (replayed as a stream with the series pipeline) and the ``/timeseries``
    routes at their largest sizes."""
    from anomd.settings import load_settings
    from anomd.streaming.detector import StreamingAnomalyDetector
    from anomd.timeseries.series import replay_estimate

    out = []
    rows = [{**p, "load": round(p["value"] * 0.5, 4)} for p in _series_points(20_000, 5)]
    growth, reply, size = probe.measure("/detect", {"data": rows})
    assert reply["summary"].get("pipeline") == "series", "the rows were not scored as a series"
    replay = StreamingAnomalyDetector("detect", pipeline="series", settings=load_settings(env={}))
    out.append(("series /detect", growth, replay_estimate(replay, rows, size).total))
    del rows
    points = _series_points(50_000, 6)
    for route in ("entire", "last", "changepoint"):
        growth, _, size = probe.measure(f"/timeseries/{route}", {"series": points})
        out.append((f"/timeseries/{route}", growth,
                    admission.estimate_series(route, len(points), 1, size).total))
    variables = [{"name": f"v{k}", "values": [p["value"] + k for p in points[:10_000]]} for k in range(5)]
    body = {"variables": variables, "timestamps": [p["timestamp"] for p in points[:10_000]]}
    growth, _, size = probe.measure("/timeseries/multivariate", body)
    out.append(("/timeseries/multivariate", growth,
                admission.estimate_series("multivariate", 10_000, 5, size).total))
    return out


@pytest.fixture(scope="module")
def worker() -> Iterator[Probe]:
    started = Probe()
    yield started
    started.close()


@pytest.fixture()
def probe(worker: Probe) -> Iterator[Probe]:
    """The worker in a session of its own (see the module docstring)."""
    worker.session("begin")
    yield worker
    worker.session("end")


@pytest.mark.slow
@pytest.mark.skipif(not supported(), reason="needs Linux's resettable peak RSS (/proc/*/clear_refs)")
@pytest.mark.parametrize("backend", BACKENDS)
def test_estimate_bounds_peak_rss_within_2x(probe: Probe, backend: str) -> None:
    spec = probe.host.detectors.get(backend)
    if not spec.available:
        if REQUIRE_ALL_BACKENDS:
            pytest.fail(f"{backend} is not installed: {spec.missing_dependencies()}")
        pytest.skip(f"{backend} is not installed")
    failures = []
    for operation, growth, estimate in probe.run(backend, CASES[backend]):
        print(f"{backend:22} {operation:8} peak growth {growth / MB:8.1f} MB  estimate "
              f"{estimate / MB:8.1f} MB  ratio {estimate / max(growth, 1):5.2f}")
        if not growth <= estimate <= 2 * growth:
            failures.append(f"{operation}: measured {growth / MB:.1f} MB, estimated {estimate / MB:.1f} MB")
    assert not failures, f"{backend}: " + "; ".join(failures)


@pytest.mark.slow
@pytest.mark.skipif(not supported(), reason="needs Linux's resettable peak RSS (/proc/*/clear_refs)")
def test_series_estimates_bound_peak_rss_within_2x(probe: Probe) -> None:
    failures = []
    for operation, growth, estimate in series_cases(probe):
        print(f"{operation:26} peak growth {growth / MB:8.1f} MB  estimate {estimate / MB:8.1f} MB  "
              f"ratio {estimate / max(growth, 1):5.2f}")
        if not growth <= estimate <= 2 * growth:
            failures.append(f"{operation}: measured {growth / MB:.1f} MB, estimated {estimate / MB:.1f} MB")
    assert not failures, "; ".join(failures)


if __name__ == "__main__":  # calibration: print the table, assert nothing
    worker = Probe()
    if sys.argv[1:] == ["series"]:
        worker.session("begin")  # as the test measures
        for operation, growth, estimate in series_cases(worker):
            print(f"{operation:26} growth {growth / MB:8.1f} MB  estimate {estimate / MB:8.1f} MB  "
                  f"ratio {estimate / max(growth, 1):5.2f}", flush=True)
        worker.session("end")
        worker.close()
        sys.exit(0)
    for name in sys.argv[1:] or BACKENDS:
        worker.session("begin")  # a session per backend, as the tests measure
        for operation, growth, estimate in worker.run(name, CASES[name]):
            print(f"{name:22} {operation:8} growth {growth / MB:8.1f} MB  estimate "
                  f"{estimate / MB:8.1f} MB  ratio {estimate / max(growth, 1):5.2f}", flush=True)
        worker.session("end")
    worker.close()
