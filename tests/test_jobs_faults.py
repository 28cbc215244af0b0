"""A Dask worker killed for real in the middle of a job: the job still completes, correctly.

The kill is ``SIGKILL`` to the worker process (no clean-up of any kind), sent while both
workers are busy scoring. Dask's nanny starts a new worker, the scheduler hands the lost task
to a live one, and because each output file is written whole under a name fixed by its input,
the rerun replaces nothing it should not and leaves no partial or duplicate file.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import numpy as np
import polars as pl
from jobs_helpers import (
    read_output,
    run_job,
    sensor_frame,
    service_in,
    visible_and_hidden,
    write_files,
)

from anomd.jobs.cluster import Cluster
from anomd.jobs.records import JobRecord
from anomd.jobs.runner import JobControl

FEATURES = [f"f{j}" for j in range(8)]


def worker_pids(cluster: Cluster) -> dict[str, int]:
    return cluster.client().run(os.getpid)


def test_a_worker_killed_mid_job_does_not_change_the_output(tmp_path: Path, dask_cluster: Cluster) -> None:
    # An isolation forest takes about 0.1 s per file of 20,000 rows here, and the kill lands as
    # the first file finishes: both workers are then busy with the next ones.
    frames = [sensor_frame(20_000, seed=i, start=20_000 * i, width=8) for i in range(10)]
    write_files(tmp_path / "in", frames)
    data = pl.concat(frames)
    X = data.select(FEATURES).to_numpy()
    service = service_in(tmp_path / "store")
    service.fit(X[::100], model="forest", backend="isolation_forest")
    before = worker_pids(dask_cluster)
    killed: list[int] = []

    def kill_once(record: JobRecord) -> None:
        if not killed and record.progress.partitions_done >= 1:
            pid = next(iter(before.values()))
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    record = run_job(service, dask_cluster, JobControl(report=kill_once), kind="score",
                     input=str(tmp_path / "in"), output=str(tmp_path / "out"), model="forest",
                     backend="isolation_forest", columns=FEATURES, keep=["id"])

    assert killed, "the job finished before a worker could be killed"
    assert record.status == "succeeded", record.error
    assert record.progress.partitions_done == 10 and record.progress.rows_done == 200_000
    _, expected = service.score(X, model="forest", backend="isolation_forest")
    out = read_output(tmp_path / "out")
    assert out["id"].to_list() == data["id"].to_list()
    np.testing.assert_array_equal(out["raw_score"].to_numpy(), expected.raw)
    np.testing.assert_array_equal(out["is_anomaly"].to_numpy(), expected.is_anomaly)
    visible, hidden = visible_and_hidden(tmp_path / "out")
    assert visible == [f"part-{i:03d}.parquet" for i in range(10)]
    assert hidden == []  # the killed worker's unfinished temporary file was swept
    assert not _alive(killed[0])  # the worker really died (its nanny starts a new one)


def _alive(pid: int) -> bool:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        time.sleep(0.1)
    return True
