"""Dataset jobs reading from and writing to a real S3 endpoint (moto's server on 127.0.0.1),
on the real LocalCluster: the workers reach S3 through anomd's S3 storage plugin themselves."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from anomd_s3.storage import open_s3
from anomd_s3.testing import LocalS3
from jobs_helpers import FEATURES, run_job, sensor_frame, service_in

from anomd.jobs.cluster import Cluster
from anomd.storage import Storage


@pytest.fixture
def bucket(local_s3_endpoint: LocalS3) -> tuple[str, Storage]:
    name = local_s3_endpoint.create_bucket()
    return name, open_s3(f"s3://{name}", local_s3_endpoint.options())


def upload(store: Storage, key: str, frame: pl.DataFrame) -> None:
    buffer = io.BytesIO()
    if key.endswith(".csv"):
        frame.write_csv(buffer)
    else:
        frame.write_parquet(buffer)
    store.put(key, buffer.getvalue())


def objects(store: Storage, prefix: str) -> list[str]:
    return sorted(o.key for o in store.list(prefix))


def test_score_from_s3_to_s3_equals_single_process_scoring(
        bucket: tuple[str, Storage], local_s3_endpoint: LocalS3, tmp_path: Path,
        dask_cluster: Cluster) -> None:
    name, store = bucket
    frames = [sensor_frame(1500, seed=20 + i, start=1500 * i) for i in range(4)]
    for i, frame in enumerate(frames):
        upload(store, f"metrics/day={i}/part.{'csv' if i == 2 else 'parquet'}", frame)
    upload(store, "metrics/_SUCCESS.parquet", frames[0])  # underscore files are not data
    data = pl.concat(frames)
    service = service_in(tmp_path / "store", job_storage_options=local_s3_endpoint.options())
    service.fit(data.select(FEATURES).head(400).to_dicts(), model="plant", backend="ecod")

    record = run_job(service, dask_cluster, kind="score", input=f"s3://{name}/metrics/**/*",
                     output=f"s3://{name}/scored", model="plant", backend="ecod", keep=["id"])

    assert record.status == "succeeded", record.error
    assert objects(store, "scored/") == [
        "scored/_anomd_job.json", *(f"scored/day={i}/part.parquet" for i in range(4))]
    out = pl.concat([pl.read_parquet(io.BytesIO(store.get(f"scored/day={i}/part.parquet")))
                     for i in range(4)])
    _, expected = service.score(data.select(FEATURES).to_dicts(), model="plant", backend="ecod")
    assert out["id"].to_list() == data["id"].to_list()
    np.testing.assert_array_equal(out["raw_score"].to_numpy(), expected.raw)
    np.testing.assert_array_equal(out["score"].to_numpy(), expected.score)


def test_fit_groups_from_s3_then_score_by_group(
        bucket: tuple[str, Storage], local_s3_endpoint: LocalS3, tmp_path: Path,
        dask_cluster: Cluster) -> None:
    name, store = bucket
    for i in range(2):
        upload(store, f"fleet/{i}.parquet", sensor_frame(900, seed=30 + i, start=900 * i))
    service = service_in(tmp_path / "store", job_storage_options=local_s3_endpoint.options())

    fitted = run_job(service, dask_cluster, kind="fit_groups", input=f"s3://{name}/fleet",
                     model="fleet", backend="ecod", group_by="sensor", columns=FEATURES)
    scored = run_job(service, dask_cluster, kind="score", input=f"s3://{name}/fleet/1.parquet",
                     output=f"s3://{name}/fleet-scored", model="fleet", backend="ecod",
                     group_by="sensor", keep=["id", "sensor"])

    assert fitted.status == "succeeded" and fitted.models.count == 3, fitted.error
    assert scored.status == "succeeded", scored.error
    out = pl.read_parquet(io.BytesIO(store.get("fleet-scored/1.parquet")))
    assert out.height == 900 and out["score"].null_count() == 0


def test_a_bad_s3_file_fails_the_job_and_leaves_no_output_objects(
        bucket: tuple[str, Storage], local_s3_endpoint: LocalS3, tmp_path: Path,
        dask_cluster: Cluster) -> None:
    name, store = bucket
    for i in range(3):
        upload(store, f"in/{i}.parquet", sensor_frame(800, seed=40 + i))
    upload(store, "in/3.parquet", sensor_frame(800, seed=43, width=4))
    service = service_in(tmp_path / "store", job_storage_options=local_s3_endpoint.options())
    service.fit(np.random.default_rng(0).normal(size=(300, 3)), model="m", backend="ecod")

    record = run_job(service, dask_cluster, kind="score", input=f"s3://{name}/in/",
                     output=f"s3://{name}/out", model="m", backend="ecod", keep=["id", "sensor", "ts"])
    missing = run_job(service, dask_cluster, kind="score", input=f"s3://{name}/nothing-here",
                      output=f"s3://{name}/out2", model="m", backend="ecod")

    assert record.status == "failed"
    assert record.error.startswith(f"s3://{name}/in/3.parquet: width mismatch")
    assert objects(store, "out/") == []
    assert missing.status == "failed"
    assert missing.error == f"input 's3://{name}/nothing-here' does not exist"
