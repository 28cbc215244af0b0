"""Helpers shared by every benchmark module (speed, accuracy, overhead, streaming, nab...).

A benchmark module exposes ``main(argv: list[str]) -> int`` and is run as
``python -m benchmarks <name> [options]``. What this module gives it:

- paths: :data:`REPO_ROOT`, :data:`DATA_DIR` (the labelled data: ``$ANOMD_BENCH_DATA``, by
  default ``../shared/data`` relative to the repository, never copied into it) and
  :data:`RESULTS_DIR` (``benchmarks/results/``, git-ignored);
- :func:`machine_info`: the facts a figure is meaningless without (CPU, cores, RAM, load,
  library versions, BLAS threads) — put it in every JSON you write;
- timing: :func:`timed` (one call), :func:`median_time` (a few calls, fewer when slow),
  :func:`latency` (percentiles under a repetition and time budget, so slow reference paths
  stay bounded);
- output: :func:`print_table` (aligned text for the terminal), :func:`markdown_table` (for
  ``docs/``), :func:`write_json` (``RESULTS_DIR/<name>.json`` with the machine attached),
  :func:`fmt_ms`, :func:`fmt_bytes`, :func:`fmt_ratio`;
- HTTP: :class:`KeepAliveClient` (one persistent ``http.client`` connection to a server from
  ``anomd.testing.start_server``; bodies pre-encoded so the client's JSON cost stays out of
  the server's figures);
- anomd plumbing: :func:`plugin_host` (one loaded plugin host), :func:`raw_pyod_estimator`
  (the unfitted PyOD estimator an anomd backend wraps, with the same hyper-parameters, for
  side-by-side runs), :func:`synthetic_matrix` (reproducible tabular data with skewed,
  correlated and bimodal columns).

Figures taken while other processes load the machine are noisy: :func:`machine_info` records
the load average at the start so a reader can tell.
"""

from __future__ import annotations

import copy
import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, Self

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
#: Where the labelled benchmark data lives (ODDS, NAB); the one setting tests and benchmarks read.
DATA_DIR = Path(os.environ.get("ANOMD_BENCH_DATA") or REPO_ROOT.parent / "shared" / "data")
RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"


# -- the machine -------------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return None


def _blas_threads() -> list[dict[str, Any]]:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    return [
        {"api": p.get("internal_api"), "threads": p.get("num_threads"), "version": p.get("version")}
        for p in threadpool_info()
    ]


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in ("anomd", "pyod", "scikit-learn", "numpy", "scipy", "numba", "torch", "suod", "litestar", "msgspec"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def machine_info() -> dict[str, Any]:
    """CPU model, cores, RAM, OS, load average now, library versions and BLAS thread pools."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "cpu_model": _cpu_model(),
        "nproc": os.cpu_count(),
        "ram_gb": _ram_gb(),
        "os": platform.platform(),
        "load_average_1_5_15": [round(x, 2) for x in load] if load else None,
        "versions": _versions(),
        "blas": _blas_threads(),
        "env": {k: os.environ[k] for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS") if k in os.environ},
    }


def describe_machine(info: dict[str, Any]) -> str:
    """One line for table headers: ``2 × AMD EPYC, 23 GB RAM, load 1.2, Python 3.11.7, PyOD 3.6.7``."""
    v = info["versions"]
    load = info.get("load_average_1_5_15") or ["?"]
    return (
        f"{info['nproc']} × {info['cpu_model']}, {info['ram_gb']} GB RAM, load {load[0]} at start, "
        f"Python {v['python']}, PyOD {v['pyod']}, scikit-learn {v['scikit-learn']}, numpy {v['numpy']}"
    )


# -- timing ------------------------------------------------------------------------------------


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    """Runs ``fn`` once; returns its result and the wall time in seconds."""
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started


def median_time(fn: Callable[[], Any], *, runs: int = 3, single_if_over_s: float = 5.0) -> float:
    """Median wall time of up to ``runs`` calls; one call only if the first takes longer than
    ``single_if_over_s`` (a 100k-row reference fit is not worth repeating for a median)."""
    _, first = timed(fn)
    times = [first]
    while len(times) < runs and first <= single_if_over_s:
        times.append(timed(fn)[1])
    return statistics.median(times)


@dataclass(frozen=True)
class Latency:
    """Percentiles of repeated calls, in milliseconds, and how many calls they rest on."""

    p50_ms: float
    p99_ms: float
    mean_ms: float
    n: int

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def latency(
    fn: Callable[[int], Any], *, max_calls: int = 500, min_calls: int = 5, budget_s: float = 5.0, warmup: int = 2
) -> Latency:
    """Times ``fn(i)`` repeatedly (``i`` lets the caller vary the input) within a budget.

    Stops after ``max_calls`` calls or once ``budget_s`` is spent, but never before
    ``min_calls`` (so a 1-second reference path still gets a median of five). With fewer than
    100 calls, p99 is simply the slowest call.
    """
    for i in range(warmup):
        fn(i)
    times: list[float] = []
    deadline = time.perf_counter() + budget_s
    i = 0
    while i < max_calls and (i < min_calls or time.perf_counter() < deadline):
        started = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - started)
        i += 1
    ms = np.asarray(times) * 1000.0
    return Latency(
        p50_ms=float(np.percentile(ms, 50)), p99_ms=float(np.percentile(ms, 99)),
        mean_ms=float(statistics.fmean(ms)), n=len(times),
    )


# -- output ------------------------------------------------------------------------------------


def fmt_ms(value: float | None) -> str:
    """Milliseconds with precision that suits the magnitude (``0.042``, ``3.1``, ``1,420``)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "–"
    if value < 1:
        return f"{value:.3f}"
    if value < 100:
        return f"{value:.1f}"
    return f"{value:,.0f}"


def fmt_bytes(value: int | None) -> str:
    if value is None:
        return "–"
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if value >= size:
            return f"{value / size:.1f} {unit}" if value / size < 100 else f"{value / size:.0f} {unit}"
    return f"{value} B"


def fmt_ratio(value: float | None) -> str:
    """anomd ÷ PyOD: ``0.01×`` means anomd takes 1 % of PyOD's time (or size)."""
    if value is None or not np.isfinite(value):
        return "–"
    if value < 0.01:
        return f"{value:.4f}×"
    if value < 10:
        return f"{value:.2f}×"
    return f"{value:.0f}×"


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]], note: str = "") -> None:
    """Prints an aligned text table (numbers right-aligned) with a title and an optional note."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(values, widths)))

    print(f"\n{title}")
    print(line(headers))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print(line(row))
    if note:
        print(note)


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], text_columns: Sequence[int] = (0,)) -> str:
    """The same table as GitHub markdown: ``text_columns`` left-aligned, the rest right-aligned."""
    align = [":--" if i in text_columns else "--:" for i in range(len(headers))]
    out = ["| " + " | ".join(headers) + " |", "| " + " | ".join(align) + " |"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def command_line(command: str, argv: Sequence[str]) -> str:
    """How a result was produced, for its JSON: ``python -m benchmarks speed --quick``."""
    return " ".join(["python -m benchmarks", command, *argv])


def write_json(name: str, payload: dict[str, Any], machine: dict[str, Any] | None = None) -> Path:
    """Writes ``RESULTS_DIR/<name>.json`` with the machine and a UTC timestamp attached."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    body = {
        "benchmark": name,
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine or machine_info(),
        **payload,
    }
    path.write_text(json.dumps(body, indent=2, default=_json_default) + "\n")
    return path


def read_json(name: str) -> dict[str, Any] | None:
    path = RESULTS_DIR / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def report_saved(name: str, report: Callable[[dict[str, Any]], Any], what: str) -> int:
    """``--report-only``: prints the tables of a saved result; exit code 1 if there is none."""
    saved = read_json(name)
    if saved is None:
        print(f"no saved {what} results; run without --report-only first")
        return 1
    report(saved)
    return 0


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


# -- HTTP --------------------------------------------------------------------------------------


class KeepAliveClient:
    """POSTs pre-encoded JSON over one keep-alive connection to ``http://127.0.0.1:<port>``.

    ``http.client`` is used rather than httpx because its per-request cost is a fraction of a
    millisecond lower, which matters when the thing measured is ~1 ms.

    Args:
        base_url: e.g. ``server.url`` of :func:`anomd.testing.start_server`.
    """

    def __init__(self, base_url: str, timeout: float = 600.0) -> None:
        import http.client
        from urllib.parse import urlsplit

        parts = urlsplit(base_url)
        self._connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
        self._prefix = parts.path.rstrip("/")

    def post(self, path: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        """Sends ``body`` (JSON unless ``headers`` say otherwise) and reads the whole response;
        returns status and response bytes.

        A server closes idle keep-alive connections (uvicorn after 5 s); the request is then
        retried once on a fresh connection.
        """
        import http.client

        for attempt in (0, 1):
            try:
                self._connection.request(
                    "POST", self._prefix + path, body=body,
                    headers=headers or {"Content-Type": "application/json"},
                )
                response = self._connection.getresponse()
                return response.status, response.read()
            except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
                self._connection.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self._connection.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- anomd plumbing ----------------------------------------------------------------------------


@cache
def plugin_host() -> Any:
    """One :class:`anomd.plugins.PluginHost` (entry points loaded once per process)."""
    from anomd.plugins import PluginHost

    return PluginHost()


BACKENDS: tuple[str, ...] = (
    "ecod", "copod", "hbos", "isolation_forest", "loda", "mcd", "cblof", "knn",
    "local_outlier_factor", "one_class_svm", "suod", "autoencoder",
)
"""The 12 built-in backends in the order tables list them (fast-path ones first)."""

FAST_PATH_BACKENDS: frozenset[str] = frozenset({"ecod", "copod", "isolation_forest", "loda"})


def raw_pyod_estimator(backend: str, params: dict[str, Any] | None = None, contamination: float = 0.1) -> Any:
    """The unfitted PyOD estimator anomd's ``backend`` wraps, built with the same parameters.

    It is built by the plugin itself (with ``fast_scoring`` off where the backend has it) and
    taken out of the wrapper, so hyper-parameters and seeds cannot drift between anomd and
    the reference. Plugin-side additions are *not* included: e.g. CBLOF's fallback for data
    without cluster separation. SUOD draws from numpy's global generator, which anomd's plugin
    seeds before fitting; call :func:`seed_like_plugin` before fitting the raw estimator to
    give it the same draw.
    """
    spec = plugin_host().detectors.get(backend)
    raw = dict(params or {})
    if "fast_scoring" in spec.params.__struct_fields__:
        raw["fast_scoring"] = False
    detector = spec.build(spec.parse_params(raw), contamination)
    return copy.deepcopy(detector.estimator)


def seed_like_plugin(backend: str, params: dict[str, Any] | None = None) -> None:
    """Seeds numpy's global generator as anomd's plugin does before fitting (SUOD only)."""
    if backend == "suod":
        seed = (params or {}).get("random_state", 42)
        if seed is not None:
            np.random.seed(seed)


def synthetic_matrix(n_rows: int, n_features: int = 16, seed: int = 0) -> np.ndarray:
    """Reproducible tabular data: correlated Gaussian, right-skewed and bimodal columns.

    A quarter of the columns are log-normal (skewed, as amounts and durations are), a quarter
    bimodal (two operating modes), the rest correlated Gaussian. No planted outliers: speed
    benchmarks need realistic shapes, not labels.
    """
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(n_features, n_features)) / np.sqrt(n_features)
    X = rng.normal(size=(n_rows, n_features)) @ (np.eye(n_features) + mixing)
    skewed = n_features // 4
    X[:, :skewed] = rng.lognormal(mean=0.0, sigma=0.8, size=(n_rows, skewed))
    modes = rng.integers(0, 2, size=(n_rows, skewed))
    X[:, skewed : 2 * skewed] = rng.normal(size=(n_rows, skewed)) * 0.5 + modes * 4.0
    return X
