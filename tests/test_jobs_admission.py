"""Memory admission of job tasks: a file or group whose working memory is over the limit fails
the job, naming it, before its data is read or any model is stored.

The jobs run on the real LocalCluster (two worker processes on 127.0.0.1); the limit comes from
the job's own settings (``max_request_memory_mb``), capped by the worker's Dask memory limit.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import polars as pl
import pytest
from anomd_s3.storage import open_s3
from anomd_s3.testing import LocalS3
from jobs_helpers import (
    FEATURES,
    run_job,
    sensor_frame,
    service_in,
    visible_and_hidden,
    write_files,
)

from anomd.admission import MB, RowsShape, estimate_score, limit_mb
from anomd.detectors import DetectorSpec
from anomd.errors import InvalidInput
from anomd.jobs.admission import (
    FOOTER_PROBE,
    TaskLimit,
    bucket_of,
    measure,
    read_estimate,
    score_estimate,
    split_estimate,
    task_limit,
)
from anomd.jobs.cluster import Cluster
from anomd.jobs.locations import Partition
from anomd.plugins import PluginHost
from anomd.settings import load_settings
from anomd.storage import Storage

LIMIT = "the job's limit of 1 MB (max_request_memory_mb)"


def corrupt_data_pages(path: Path) -> None:
    """Overwrites everything between the leading magic and the footer: the footer (row count,
    schema) still parses, reading the data fails."""
    raw = bytearray(path.read_bytes())
    footer = int.from_bytes(raw[-8:-4], "little")
    raw[4 : len(raw) - footer - 8] = b"\xff" * (len(raw) - footer - 12)
    path.write_bytes(bytes(raw))


def partition(path: Path) -> Partition:
    fmt = "csv" if path.suffix == ".csv" else "parquet"
    return Partition(index=0, uri=str(path), name=path.name, size=path.stat().st_size, format=fmt)


def no_bucket(name: str) -> None:
    raise AssertionError(f"a local file opened bucket {name!r}")


# -- jobs on the cluster -------------------------------------------------------------------------


def test_a_score_job_over_the_limit_fails_naming_the_file_before_reading_it(
        tmp_path: Path, dask_cluster: Cluster) -> None:
    frames = [sensor_frame(2000, seed=i, start=2000 * i) for i in range(2)]
    write_files(tmp_path / "in", frames)
    service_in(tmp_path / "store").fit(pl.concat(frames).select(FEATURES).to_numpy()[:500],
                                       model="m", backend="ecod")
    for path in (tmp_path / "in").iterdir():
        corrupt_data_pages(path)
        with pytest.raises(pl.exceptions.PolarsError):
            pl.read_parquet(path)  # so a task that read the file would fail another way
    tight = service_in(tmp_path / "store", max_request_memory_mb=1)

    record = run_job(tight, dask_cluster, kind="score", input=str(tmp_path / "in"),
                     output=str(tmp_path / "out"), model="m", backend="ecod", columns=FEATURES)

    assert record.status == "failed"
    assert record.error.startswith((f"{tmp_path}/in/part-000.parquet: ",
                                    f"{tmp_path}/in/part-001.parquet: ")), record.error
    assert "scoring 2,000 rows × 3 features with backend 'ecod' needs an estimated" in record.error
    assert LIMIT in record.error and "raise max_request_memory_mb" in record.error
    assert visible_and_hidden(tmp_path / "out") == ([], [])


def test_the_same_score_job_under_the_default_limit_succeeds(
        tmp_path: Path, dask_cluster: Cluster) -> None:
    write_files(tmp_path / "in", [sensor_frame(2000, seed=1)], csv_every=1)
    service = service_in(tmp_path / "store")
    service.fit(sensor_frame(500, seed=2).select(FEATURES).to_numpy(), model="m", backend="ecod")

    record = run_job(service, dask_cluster, kind="score", input=str(tmp_path / "in"),
                     output=str(tmp_path / "out"), model="m", backend="ecod", columns=FEATURES)

    assert record.status == "succeeded", record.error
    assert visible_and_hidden(tmp_path / "out")[0] == ["part-000.parquet"]


def test_a_group_too_large_to_fit_fails_fit_groups_before_any_model_is_stored(
        tmp_path: Path, dask_cluster: Cluster) -> None:
    # Four files of 6,000 rows: each split is admitted (about 2 MB), and so is the fit of group
    # "small" (2,000 rows, about 5 MB with ecod's fixed 4 MB); the fit of "big" (22,000 rows,
    # about 12 MB) is not. The two land in different buckets, so had the buckets not waited
    # for every group's admission, "small" would have been stored.
    groups = ("big",) * 11 + ("small",)
    write_files(tmp_path / "in", [sensor_frame(6000, seed=i, groups=groups) for i in range(4)])
    service = service_in(tmp_path / "store", max_request_memory_mb=6)
    assert bucket_of("big", 8) != bucket_of("small", 8)  # 4 buckets per worker, 2 workers

    record = run_job(service, dask_cluster, kind="fit_groups", input=str(tmp_path / "in"),
                     model="fleet", backend="ecod", group_by="sensor", columns=FEATURES)

    assert record.status == "failed"
    assert record.error.startswith(
        "group sensor = 'big': fitting 22,000 rows × 3 features with backend 'ecod' and storing "
        "its model needs an estimated "), record.error
    assert "the job's limit of 6 MB (max_request_memory_mb)" in record.error
    assert service.list_models() == []


def test_a_file_too_large_to_split_fails_fit_groups_naming_it(
        tmp_path: Path, dask_cluster: Cluster) -> None:
    write_files(tmp_path / "in", [sensor_frame(30_000, seed=3)])
    service = service_in(tmp_path / "store", max_request_memory_mb=1)

    record = run_job(service, dask_cluster, kind="fit_groups", input=str(tmp_path / "in"),
                     model="fleet", backend="ecod", group_by="sensor", columns=FEATURES)

    assert record.status == "failed"
    assert record.error.startswith(
        f"{tmp_path}/in/part-000.parquet: splitting 30,000 rows × 3 features by group needs an "
        "estimated "), record.error
    assert LIMIT in record.error
    assert service.list_models() == []


def test_a_grouped_score_job_refuses_a_group_naming_file_and_group(
        tmp_path: Path, dask_cluster: Cluster) -> None:
    write_files(tmp_path / "train", [sensor_frame(1500, seed=1)])
    fitted = run_job(service_in(tmp_path / "store"), dask_cluster, kind="fit_groups",
                     input=str(tmp_path / "train"), model="fleet", backend="ecod",
                     group_by="sensor", columns=FEATURES)
    assert fitted.status == "succeeded", fitted.error
    write_files(tmp_path / "new", [sensor_frame(600, seed=2)])
    tight = service_in(tmp_path / "store", max_request_memory_mb=1)

    record = run_job(tight, dask_cluster, kind="score", input=str(tmp_path / "new"),
                     output=str(tmp_path / "out"), model="fleet", backend="ecod",
                     group_by="sensor", keep=["id"])

    assert record.status == "failed"
    # The file itself is admitted (600 rows); scoring its first group is not.
    assert record.error.startswith(
        f"{tmp_path}/new/part-000.parquet, group sensor = 's1': scoring 200 rows × 3 features with "
        "backend 'ecod' needs an estimated "), record.error
    assert LIMIT in record.error
    assert visible_and_hidden(tmp_path / "out") == ([], [])


def test_a_task_limit_is_capped_by_its_workers_memory_limit(dask_cluster: Cluster) -> None:
    client = dask_cluster.client()
    limits = {w["memory_limit"] for w in client.scheduler_info(n_workers=-1)["workers"].values()}
    worker_limit = limits.pop()
    assert worker_limit > 0 and not limits  # LocalCluster gives every worker the same share

    huge = load_settings(env={}, warm_up=False, max_request_memory_mb=100_000_000)
    capped = client.submit(task_limit, huge, pure=False).result()
    assert capped.worker_bytes == worker_limit
    assert capped.bytes == worker_limit and capped.by_worker
    assert capped.describe().startswith("the Dask worker's memory limit of ")

    small = load_settings(env={}, warm_up=False, max_request_memory_mb=1)
    own = client.submit(task_limit, small, pure=False).result()
    assert own.bytes == MB and not own.by_worker and own.describe() == LIMIT


# -- estimates from metadata ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def ecod() -> DetectorSpec:
    spec = PluginHost().detectors.get("ecod")
    assert spec is not None
    return spec


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_the_file_estimate_grows_with_rows_and_bounds_the_decoded_table(
        fmt: str, tmp_path: Path, ecod: DetectorSpec) -> None:
    params = ecod.parse_params({})
    totals = []
    for rows in (50, 2_000, 40_000):
        path = tmp_path / f"{rows}.{fmt}"
        frame = sensor_frame(rows, seed=rows)
        if fmt == "parquet":
            frame.write_parquet(path)
        else:
            frame.write_csv(path)
        shape = measure(partition(path), no_bucket)
        decoded = pl.read_parquet(path) if fmt == "parquet" else pl.read_csv(path)

        assert shape.exact == (fmt == "parquet")
        assert (shape.rows == rows) if fmt == "parquet" else (shape.rows >= rows)
        assert shape.frame_bytes >= decoded.estimated_size()
        assert shape.width(None, ["id"]) == (3 if fmt == "parquet" else 5)  # CSV: any may be numeric
        estimate = score_estimate(ecod, params, shape, shape.rows, 3, 500)
        # At least the table, the feature matrix and the backend's own scoring cost.
        assert estimate.total >= (decoded.estimated_size() + rows * 3 * 8
                                  + ecod.memory_cost.score(rows, 3, 500, params))
        assert estimate.total > estimate_score(
            ecod, params, RowsShape(rows=rows, width=3, decoded_bytes=0), 500).total
        totals.append(estimate.total)
        for other in (read_estimate(shape, 3), split_estimate(shape, 3)):
            assert other.total >= decoded.estimated_size() + rows * 3 * 8
    assert totals[0] < totals[1] < totals[2]
    assert totals[2] > 2 * totals[1]  # it grows with the rows, not by a constant


def test_the_csv_row_bound_holds_for_rows_of_empty_fields(tmp_path: Path) -> None:
    """The tightest CSV there is: every row is its separators and a line break."""
    path = tmp_path / "empty.csv"
    path.write_bytes(b"a,b,c,d\n" + b",,,\n" * 5000)
    decoded = pl.read_csv(path)
    assert decoded.height == 5000 and decoded.null_count().row(0) == (5000,) * 4

    shape = measure(partition(path), no_bucket)

    assert 5000 <= shape.rows <= 5001
    assert shape.frame_bytes >= decoded.estimated_size()


@pytest.mark.parametrize("row_group", [100_000, 4])
def test_measuring_reads_the_footer_not_the_data(row_group: int, tmp_path: Path) -> None:
    path = tmp_path / "part.parquet"
    sensor_frame(3000, seed=4).write_parquet(path, row_group_size=row_group)
    footer = int.from_bytes(path.read_bytes()[-8:-4], "little")
    # Tiny row groups make a footer larger than the first ranged read: a second one gets it.
    assert (footer > FOOTER_PROBE) == (row_group == 4)
    corrupt_data_pages(path)

    shape = measure(partition(path), no_bucket)

    assert shape.rows == 3000 and shape.exact
    assert shape.columns == ["id", "sensor", "ts", *FEATURES]
    assert shape.numeric == ["id", *FEATURES]


def test_a_file_without_a_footer_fails_as_reading_it_would(tmp_path: Path) -> None:
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"not parquet at all")
    with pytest.raises(InvalidInput,
                       match=re.escape(f"cannot read '{path}' as PARQUET: no Parquet footer")):
        measure(partition(path), no_bucket)
    path.unlink()
    with pytest.raises(InvalidInput, match="disappeared after the job listed it"):
        measure(Partition(index=0, uri=str(path), name=path.name, size=18, format="parquet"),
                no_bucket)


def test_measuring_an_s3_object_uses_ranged_reads(local_s3_endpoint: LocalS3) -> None:
    name = local_s3_endpoint.create_bucket()
    store = open_s3(f"s3://{name}", local_s3_endpoint.options())
    buffer = io.BytesIO()
    frame = sensor_frame(5000, seed=5)
    frame.write_parquet(buffer, row_group_size=1000)  # a footer with five row groups
    store.put("metrics/part.parquet", buffer.getvalue())
    csv = frame.write_csv().encode()
    store.put("metrics/part.csv", csv)
    opened: list[str] = []

    def bucket(bucket_name: str) -> Storage:
        opened.append(bucket_name)
        return store

    parquet = measure(Partition(index=0, uri=f"s3://{name}/metrics/part.parquet",
                                name="part.parquet", size=1, format="parquet"), bucket)
    text = measure(Partition(index=1, uri=f"s3://{name}/metrics/part.csv", name="part.csv",
                             size=1, format="csv"), bucket)

    assert opened == [name, name]
    assert parquet.rows == 5000 and parquet.exact
    assert parquet.file_bytes == len(buffer.getvalue())  # the size now, not the listed one
    assert text.rows >= 5000 and text.file_bytes == len(csv)


def test_the_limit_is_the_setting_outside_a_worker() -> None:
    settings = load_settings(env={}, warm_up=False, max_request_memory_mb=0)
    limit = task_limit(settings)
    assert limit.worker_bytes is None
    assert limit.bytes == limit_mb(0) * MB and limit.bytes >= 64 * MB
    capped = TaskLimit(setting_bytes=8 * MB, worker_bytes=3 * MB)
    assert capped.bytes == 3 * MB and capped.by_worker
    roomy = TaskLimit(setting_bytes=8 * MB, worker_bytes=9 * MB)
    assert roomy.bytes == 8 * MB and not roomy.by_worker
