"""The jobs API over HTTP: a real server on 127.0.0.1 running jobs on the real LocalCluster.

The server joins the session's Dask cluster through ``ANOMD_DASK_SCHEDULER`` (starting a
cluster per server would cost seconds each). Records live in the server's store, so they are
read back after a restart; a job the server was running when it stopped is recorded as
cancelled (orderly stop) or, after ``kill -9``, judged lost once its heartbeat is stale.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import polars as pl
import pytest
from helpers import ok, problem
from jobs_helpers import sensor_frame, visible_and_hidden, write_files

from anomd.docgen.curl_examples import EXAMPLES
from anomd.jobs.cluster import Cluster
from anomd.jobs.manager import SHUTDOWN_REASON
from anomd.testing import ServerProcess, start_server

JOBS = "/jobs"
FEATURES = [f"f{j}" for j in range(8)]


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("jobs-api")


def server_env(cluster: Cluster, root: Path) -> dict[str, str]:
    return {"ANOMD_DASK_SCHEDULER": cluster.address, "ANOMD_JOB_ROOTS": str(root),
            "ANOMD_JOB_LOST_AFTER_S": "2"}


@pytest.fixture(scope="module")
def server(dask_cluster: Cluster, root: Path) -> Iterator[ServerProcess]:
    srv = start_server(root / "data", env=server_env(dask_cluster, root))
    yield srv
    srv.stop()


@pytest.fixture
def api(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.api, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def slow_dataset(root: Path) -> Path:
    """Sixty files that take a knn model several seconds to score: time to cancel or stop."""
    folder = root / "slow"
    write_files(folder, [sensor_frame(8000, seed=i, start=8000 * i, width=8) for i in range(60)])
    return folder


def wait_finished(api: httpx.Client, job_id: str, timeout: float = 120.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = ok(api.get(f"{JOBS}/{job_id}"))
        if record["status"] in ("succeeded", "failed", "cancelled"):
            return record
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish: {record}")


def wait_running(api: httpx.Client, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        record = ok(api.get(f"{JOBS}/{job_id}"))
        if record["status"] == "running" and record["progress"]["partitions_done"] >= 1:
            return record
        assert record["status"] in ("queued", "running"), record
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} never got going")


def submit(api: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    response = api.post(JOBS, json=body)
    assert response.status_code == 202, response.text
    record = response.json()
    assert response.headers["location"] == f"/v1/ml/anomaly/jobs/{record['id']}"
    return record


def slow_job(api: httpx.Client, root: Path, slow_dataset: Path, output: str) -> dict[str, Any]:
    rows = sensor_frame(1000, seed=99, width=8).select(FEATURES).to_numpy().tolist()
    ok(api.post("/fit", json={"model": "slow", "backend": "knn", "data": rows}))
    return submit(api, {"kind": "score", "input": str(slow_dataset), "output": str(root / output),
                        "model": "slow", "backend": "knn", "columns": FEATURES, "keep": ["id"]})


def test_the_documented_example_runs_and_is_followed_to_the_end(api: httpx.Client, root: Path) -> None:
    _, _, fit_body = EXAMPLES["POST /v1/ml/anomaly/fit"]
    ok(api.post("/fit", json=fit_body))
    rng = np.random.default_rng(5)
    for day in (1, 2, 3):
        rows = pl.DataFrame(fit_body["data"] * 20).with_columns(
            pl.Series("id", np.arange(160) + 1000 * day),
            pl.Series("timestamp", [f"2026-11-0{day}T{h % 24:02d}:00" for h in range(160)]),
            pl.col("amount") * pl.Series(rng.uniform(0.9, 1.1, 160)))
        (root / "transactions").mkdir(exist_ok=True)
        rows.write_parquet(root / "transactions" / f"2026-11-0{day}.parquet")
    _, _, body = EXAMPLES["POST /v1/ml/anomaly/jobs"]
    body = {**body, "input": str(root / body["input"]), "output": str(root / body["output"])}

    queued = submit(api, body)
    assert queued["status"] == "queued" and queued["request"]["model"] == "fraud-detector"
    record = wait_finished(api, queued["id"])

    assert record["status"] == "succeeded", record["error"]
    assert record["progress"]["partitions_done"] == record["progress"]["partitions_total"] == 3
    assert record["progress"]["rows_done"] == 480 and record["output"] == body["output"]
    assert record["timings"]["running_s"] is not None
    out = pl.read_parquet(f"{body['output']}/*.parquet")
    assert out.columns == ["id", "timestamp", "score", "is_anomaly", "raw_score"]
    assert out.height == 480
    # The 3,200 transaction (20 copies a day) is what the model was fitted to find odd.
    big = pl.read_parquet(f"{body['input'].rpartition('/')[0]}/*.parquet").filter(
        pl.col("amount") > 1000)["id"].to_list()
    assert len(big) == 60 and out.filter(pl.col("id").is_in(big))["is_anomaly"].all()
    listed = ok(api.get(JOBS))
    assert queued["id"] in [job["id"] for job in listed["data"]] and listed["total"] >= 1
    assert "already succeeded" in problem(api.delete(f"{JOBS}/{queued['id']}"), 409)


def test_fit_groups_over_http_stores_listable_models(api: httpx.Client, root: Path) -> None:
    write_files(root / "fleet", [sensor_frame(600, seed=1), sensor_frame(600, seed=2)])
    record = wait_finished(api, submit(api, {
        "kind": "fit_groups", "input": str(root / "fleet"), "model": "fleet", "backend": "ecod",
        "group_by": "sensor", "columns": ["a", "b", "c"]})["id"])
    assert record["status"] == "succeeded", record["error"]
    assert record["models"] == {"model": "fleet", "backend": "ecod", "naming": "{model}.{group}",
                                "count": 3}
    names = {m["name"] for m in ok(api.get("/models"))["data"]}
    assert {"fleet.s1", "fleet.s2", "fleet.s3"} <= names
    scored = ok(api.post("/score", json={"model": "fleet.s2", "backend": "ecod",
                                         "data": [{"a": 50.0, "b": 50.0, "c": 50.0}]}))
    assert scored["data"][0]["is_anomaly"] is False


@pytest.mark.parametrize(("body", "status", "detail"), [
    ({"kind": "score", "input": "x.parquet", "model": "m"}, 422, "score jobs need 'output'"),
    ({"kind": "fit_groups", "input": "x", "model": "m", "group_by": "g", "output": "o"}, 422,
     "'output' does not apply to fit_groups jobs"),
    ({"kind": "sort", "input": "x"}, 422, "$.kind"),
    ({"kind": "detect", "input": "x", "output": "o", "backend": "nope"}, 404, "unknown backend 'nope'"),
    ({"kind": "detect", "input": "x", "output": "o", "params": {"n_trees": 3}}, 422, "n_trees"),
    ({"kind": "score", "input": "/etc/passwd.csv", "output": "o", "model": "m"}, 422,
     "outside the folders this server's jobs may use"),
    ({"kind": "score", "input": "gs://bucket/x", "output": "o", "model": "m"}, 422,
     "unsupported scheme 'gs'"),
])
def test_bad_requests_are_refused_with_the_field_named(
        api: httpx.Client, root: Path, body: dict[str, Any], status: int, detail: str) -> None:
    for key in ("input", "output"):
        if key in body and not body[key].startswith(("/", "gs:")):
            body = {**body, key: str(root / body[key])}
    assert detail in problem(api.post(JOBS, json=body), status)


def test_unknown_and_malformed_job_ids(api: httpx.Client) -> None:
    assert "no job '20260101T000000-00000000'" in problem(
        api.get(f"{JOBS}/20260101T000000-00000000"), 404)
    assert "invalid job id" in problem(api.get(f"{JOBS}/bad_id!"), 422)
    assert "no job" in problem(api.delete(f"{JOBS}/20260101T000000-00000000"), 404)


def test_a_job_whose_input_is_missing_fails_with_the_path_named(api: httpx.Client, root: Path) -> None:
    record = wait_finished(api, submit(api, {
        "kind": "score", "input": str(root / "absent"), "output": str(root / "o"), "model": "m"})["id"])
    assert record["status"] == "failed"
    assert record["error"] == f"input {str(root / 'absent')!r} does not exist"


def test_cancel_stops_the_job_and_removes_its_output(
        api: httpx.Client, root: Path, slow_dataset: Path) -> None:
    job = slow_job(api, root, slow_dataset, "cancelled-out")
    wait_running(api, job["id"])
    response = api.delete(f"{JOBS}/{job['id']}")
    assert response.status_code == 202 and response.json()["cancel_requested"] is True
    record = wait_finished(api, job["id"])
    assert record["status"] == "cancelled" and record["error"] == "cancelled on request"
    assert record["progress"]["partitions_done"] < 60
    assert visible_and_hidden(root / "cancelled-out") == ([], [])


def test_records_survive_a_restart_and_interrupted_jobs_say_why(
        server: ServerProcess, dask_cluster: Cluster, root: Path, slow_dataset: Path) -> None:
    with httpx.Client(base_url=server.api, timeout=60) as api:
        finished = ok(api.get(JOBS))["data"]
        assert finished, "the earlier tests left records"
        interrupted = slow_job(api, root, slow_dataset, "interrupted-out")
        wait_running(api, interrupted["id"])
    server.stop()  # SIGTERM: an orderly shutdown
    server2 = start_server(root / "data", env=server_env(dask_cluster, root))
    try:
        with httpx.Client(base_url=server2.api, timeout=60) as api:
            for before in finished:
                assert ok(api.get(f"{JOBS}/{before['id']}")) == before
            record = ok(api.get(f"{JOBS}/{interrupted['id']}"))
            assert record["status"] == "cancelled" and record["error"] == SHUTDOWN_REASON
            assert visible_and_hidden(root / "interrupted-out") == ([], [])

            killed = slow_job(api, root, slow_dataset, "killed-out")
            wait_running(api, killed["id"])
        server2.stop(signal.SIGKILL)  # no shutdown at all: the record says "running"
    finally:
        server2.stop()
    server3 = start_server(root / "data", env=server_env(dask_cluster, root))
    try:
        with httpx.Client(base_url=server3.api, timeout=60) as api:
            time.sleep(2.5)  # longer than job_lost_after_s since the last heartbeat
            record = ok(api.get(f"{JOBS}/{killed['id']}"))
            assert record["status"] == "failed" and record["error"].startswith("lost: no sign of life")
            assert ok(api.get(f"{JOBS}/{killed['id']}")) == record  # the verdict is stored
    finally:
        server3.stop()
