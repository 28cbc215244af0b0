"""Dataset jobs on a real LocalCluster (two worker processes on 127.0.0.1), local files.

Scoring a dataset must give exactly what one process gives; per-group models must be ordinary
stored models; bad input must fail the job with the file named and leave no output behind.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from jobs_helpers import (
    FEATURES,
    read_output,
    run_job,
    sensor_frame,
    service_in,
    visible_and_hidden,
    write_files,
)

from anomd.jobs.cluster import Cluster
from anomd.jobs.groups import group_model_name
from anomd.jobs.runner import JobControl


@pytest.fixture
def dataset(tmp_path: Path) -> tuple[Path, pl.DataFrame]:
    """Five files (one CSV), 2,000 rows each, ids in order across files."""
    frames = [sensor_frame(2000, seed=i, start=2000 * i) for i in range(5)]
    write_files(tmp_path / "in", frames, csv_every=3)
    return tmp_path / "in", pl.concat(frames)


def test_score_output_equals_single_process_scoring_exactly(
        dataset: tuple[Path, pl.DataFrame], tmp_path: Path, dask_cluster: Cluster) -> None:
    folder, data = dataset
    service = service_in(tmp_path / "store")
    X = data.select(FEATURES).to_numpy()
    service.fit(X[::7], model="plant", backend="isolation_forest")

    record = run_job(service, dask_cluster, kind="score", input=str(folder),
                     output=str(tmp_path / "out"), model="plant", backend="isolation_forest",
                     columns=FEATURES, keep=["id", "ts"])

    assert record.status == "succeeded", record.error
    _, expected = service.score(X, model="plant", backend="isolation_forest")
    out = read_output(tmp_path / "out")
    assert out.columns == ["id", "ts", "score", "is_anomaly", "raw_score"]
    assert out["id"].to_list() == data["id"].to_list()  # same rows, same order, none twice
    assert out["ts"].to_list() == data["ts"].to_list()
    np.testing.assert_array_equal(out["raw_score"].to_numpy(), expected.raw)
    np.testing.assert_array_equal(out["score"].to_numpy(), expected.score)
    np.testing.assert_array_equal(out["is_anomaly"].to_numpy(), expected.is_anomaly)
    visible, hidden = visible_and_hidden(tmp_path / "out")
    assert visible == [f"part-{i:03d}.parquet" for i in range(5)] and hidden == []
    assert (tmp_path / "out" / "_anomd_job.json").is_file()
    progress = record.progress
    assert (progress.partitions_done, progress.partitions_total) == (5, 5)
    assert progress.rows_done == progress.rows_total == 10_000
    assert progress.anomalies == int(expected.is_anomaly.sum())
    assert record.timings.running_s is not None and record.cluster.startswith("local cluster")


def test_a_job_run_twice_writes_the_same_files(
        dataset: tuple[Path, pl.DataFrame], tmp_path: Path, dask_cluster: Cluster) -> None:
    folder, data = dataset
    service = service_in(tmp_path / "store")
    service.fit(data.select(FEATURES).to_numpy()[:500], model="m", backend="ecod")
    request = {"kind": "score", "input": f"{folder}/part-*.parquet", "output": str(tmp_path / "out"),
                   "model": "m", "backend": "ecod", "columns": FEATURES, "keep": ["id"]}

    first = run_job(service, dask_cluster, **request)
    before = {p.name: p.read_bytes() for p in (tmp_path / "out").glob("*.parquet")}
    second = run_job(service, dask_cluster, **request)
    after = {p.name: p.read_bytes() for p in (tmp_path / "out").glob("*.parquet")}

    assert first.status == second.status == "succeeded"
    assert sorted(before) == ["part-000.parquet", "part-001.parquet", "part-003.parquet",
                              "part-004.parquet"]  # the glob leaves out the CSV file
    assert after == before  # byte for byte, and nothing added


def test_default_keep_is_every_column_that_is_not_a_feature(
        dataset: tuple[Path, pl.DataFrame], tmp_path: Path, dask_cluster: Cluster) -> None:
    """A model fitted on named columns (dict rows over HTTP) takes them by name from the files."""
    folder, data = dataset
    service = service_in(tmp_path / "store")
    service.fit(data.select(FEATURES).head(300).to_dicts(), model="named", backend="ecod")

    record = run_job(service, dask_cluster, kind="score", input=str(folder),
                     output=str(tmp_path / "out"), model="named", backend="ecod")

    assert record.status == "succeeded", record.error
    out = read_output(tmp_path / "out")
    assert out.columns == ["id", "sensor", "ts", "score", "is_anomaly", "raw_score"]
    _, expected = service.score(data.select(FEATURES).to_dicts(), model="named", backend="ecod")
    np.testing.assert_array_equal(out["raw_score"].to_numpy(), expected.raw)


def test_fit_groups_stores_one_ordinary_model_per_group(tmp_path: Path, dask_cluster: Cluster) -> None:
    frames = [sensor_frame(900, seed=10 + i, start=900 * i) for i in range(3)]
    write_files(tmp_path / "in", frames)
    service = service_in(tmp_path / "store")

    record = run_job(service, dask_cluster, kind="fit_groups", input=str(tmp_path / "in"),
                     model="fleet", backend="ecod", group_by="sensor", contamination=0.05,
                     columns=FEATURES)

    assert record.status == "succeeded", record.error
    assert record.models is not None and record.models.count == 3
    assert record.progress.groups_done == record.progress.groups_total == 3
    stored = {m.name: m for m in service.list_models()}
    assert {"fleet.s1", "fleet.s2", "fleet.s3"} <= set(stored)
    data = pl.concat(frames)
    for group in ("s1", "s2", "s3"):
        rows = data.filter(pl.col("sensor") == group).select(FEATURES)
        assert stored[f"fleet.{group}"].samples_fitted == rows.height
        model, _ = service.get_model(f"fleet.{group}", "ecod")
        assert model.info.feature_names == FEATURES  # named columns: scorable with dict rows
    # Each model knows its own group's level: s2's normal value (~ +50) is far out for s1.
    _, s1 = service.score([{"a": 50.0, "b": 50.0, "c": 50.0}], model="fleet.s1", backend="ecod")
    _, s2 = service.score([{"a": 50.0, "b": 50.0, "c": 50.0}], model="fleet.s2", backend="ecod")
    assert s1.is_anomaly[0] and not s2.is_anomaly[0]


def test_score_by_group_routes_rows_to_their_model_and_handles_unseen_groups(
        tmp_path: Path, dask_cluster: Cluster) -> None:
    train = sensor_frame(1500, seed=1)
    write_files(tmp_path / "train", [train])
    service = service_in(tmp_path / "store")
    fitted = run_job(service, dask_cluster, kind="fit_groups", input=str(tmp_path / "train"),
                     model="fleet", backend="ecod", group_by="sensor", columns=FEATURES)
    assert fitted.status == "succeeded", fitted.error
    new = sensor_frame(600, seed=2, groups=("s1", "s2", "s3", "s9"))
    # Plant one reading per known sensor at another sensor's level.
    new = new.with_columns(pl.when(pl.col("id").is_in([0, 1, 2])).then(pl.col("a") + 400.0)
                           .otherwise(pl.col("a")).alias("a"))
    write_files(tmp_path / "new", [new.head(300), new.tail(300)])

    record = run_job(service, dask_cluster, kind="score", input=str(tmp_path / "new"),
                     output=str(tmp_path / "out"), model="fleet", backend="ecod",
                     group_by="sensor", keep=["id", "sensor"])

    assert record.status == "succeeded", record.error
    out = read_output(tmp_path / "out")
    assert out["id"].to_list() == new["id"].to_list()
    for group in ("s1", "s2", "s3"):
        rows = new.filter(pl.col("sensor") == group)
        _, expected = service.score(rows.select(FEATURES).to_dicts(), model=f"fleet.{group}",
                                    backend="ecod")
        got = out.filter(pl.col("sensor") == group)
        np.testing.assert_array_equal(got["raw_score"].to_numpy(), expected.raw)
    flagged = set(out.filter(pl.col("is_anomaly"))["id"].to_list())
    assert {0, 1, 2} <= flagged
    unseen = out.filter(pl.col("sensor") == "s9")
    assert unseen.height == 150 and unseen["score"].null_count() == 150
    assert any("'s9'" in w and "150 row(s)" in w for w in record.warnings)

    dropped = run_job(service, dask_cluster, kind="score", input=str(tmp_path / "new"),
                      output=str(tmp_path / "out-drop"), model="fleet", backend="ecod",
                      group_by="sensor", unseen="drop")
    assert read_output(tmp_path / "out-drop").height == 450, dropped.error

    failed = run_job(service, dask_cluster, kind="score", input=str(tmp_path / "new"),
                     output=str(tmp_path / "out-fail"), model="fleet", backend="ecod",
                     group_by="sensor", unseen="fail")
    assert failed.status == "failed"
    assert "sensor = 's9' has no model" in failed.error
    assert failed.error.startswith((f"{tmp_path}/new/part-000.parquet:", f"{tmp_path}/new/part-001.parquet:"))
    assert visible_and_hidden(tmp_path / "out-fail")[0] == []


def test_detect_fits_per_group_and_flags_what_is_odd_for_its_group(
        tmp_path: Path, dask_cluster: Cluster) -> None:
    data = sensor_frame(2400, seed=3)
    data = data.with_columns([pl.when(pl.col("id") == 7).then(pl.col(c) + 60.0)
                              .otherwise(pl.col(c)).alias(c) for c in FEATURES])
    write_files(tmp_path / "in", [data.head(1200), data.tail(1200)])
    service = service_in(tmp_path / "store")

    record = run_job(service, dask_cluster, kind="detect", input=str(tmp_path / "in"),
                     output=str(tmp_path / "out"), backend="ecod", group_by="sensor",
                     contamination=0.01, keep=["id"], columns=FEATURES)

    assert record.status == "succeeded", record.error
    assert record.progress.groups_done == 3 and record.models is None
    out = read_output(tmp_path / "out")
    assert out.height == 2400
    top = out.sort("raw_score", descending=True)["id"][0]
    assert top == 7
    assert not [m for m in service.list_models() if m.name]  # nothing stored


# -- failures: the file named, nothing left behind -----------------------------------------------


def test_missing_input_fails_naming_it(tmp_path: Path, dask_cluster: Cluster) -> None:
    service = service_in(tmp_path / "store")
    missing = tmp_path / "nowhere"
    record = run_job(service, dask_cluster, kind="score", input=str(missing),
                     output=str(tmp_path / "out"), model="m")
    assert record.status == "failed"
    assert record.error == f"input {str(missing)!r} does not exist"
    assert not (tmp_path / "out").exists()


def test_unknown_model_fails_before_anything_is_written(
        dataset: tuple[Path, pl.DataFrame], tmp_path: Path, dask_cluster: Cluster) -> None:
    folder, _ = dataset
    service = service_in(tmp_path / "store")
    record = run_job(service, dask_cluster, kind="score", input=str(folder),
                     output=str(tmp_path / "out"), model="ghost", backend="knn")
    assert record.status == "failed"
    assert "model 'ghost' with backend 'knn' not found (ghost_knn.joblib)" in record.error
    assert not (tmp_path / "out").exists()


def test_a_file_of_the_wrong_width_fails_the_job_and_removes_all_output(
        dataset: tuple[Path, pl.DataFrame], tmp_path: Path, dask_cluster: Cluster) -> None:
    folder, data = dataset
    service = service_in(tmp_path / "store")
    service.fit(data.select(FEATURES).to_numpy()[:400], model="m", backend="ecod")
    wide = sensor_frame(500, seed=9, width=4)
    wide.write_parquet(folder / "part-zzz.parquet")  # four numeric features, not three

    record = run_job(service, dask_cluster, kind="score", input=str(folder),
                     output=str(tmp_path / "out"), model="m", backend="ecod", keep=["id"])

    assert record.status == "failed"
    assert f"{folder}/part-zzz.parquet: width mismatch: model 'm' takes 3 features" in record.error
    visible, hidden = visible_and_hidden(tmp_path / "out")
    assert visible == [] and hidden == []  # the good files' outputs were removed too


def test_a_file_missing_a_model_column_fails_naming_file_and_column(
        dataset: tuple[Path, pl.DataFrame], tmp_path: Path, dask_cluster: Cluster) -> None:
    folder, data = dataset
    service = service_in(tmp_path / "store")
    service.fit(data.select(FEATURES).head(300).to_dicts(), model="named", backend="ecod")
    data.head(50).drop("c").write_parquet(folder / "part-001.parquet")

    record = run_job(service, dask_cluster, kind="score", input=str(folder),
                     output=str(tmp_path / "out"), model="named", backend="ecod")

    assert record.status == "failed"
    assert f"{folder}/part-001.parquet has no column(s) 'c'" in record.error
    assert visible_and_hidden(tmp_path / "out")[0] == []


def test_fit_groups_refuses_files_with_other_columns_before_fitting_anything(
        tmp_path: Path, dask_cluster: Cluster) -> None:
    write_files(tmp_path / "in", [sensor_frame(600, seed=1), sensor_frame(600, seed=2, width=4)])
    service = service_in(tmp_path / "store")
    record = run_job(service, dask_cluster, kind="fit_groups", input=str(tmp_path / "in"),
                     model="fleet", backend="ecod", group_by="sensor")
    assert record.status == "failed"
    assert "part-001.parquet has the feature columns" in record.error
    assert service.list_models() == []


def test_an_unreadable_file_fails_naming_it(tmp_path: Path, dask_cluster: Cluster) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "broken.parquet").write_bytes(b"not parquet at all")
    service = service_in(tmp_path / "store")
    record = run_job(service, dask_cluster, kind="detect", input=str(tmp_path / "in"),
                     output=str(tmp_path / "out"), backend="ecod")
    assert record.status == "failed"
    assert f"cannot read '{tmp_path}/in/broken.parquet' as PARQUET" in record.error


def test_a_cancelled_job_stops_and_removes_its_output(
        dataset: tuple[Path, pl.DataFrame], tmp_path: Path, dask_cluster: Cluster) -> None:
    folder, data = dataset
    service = service_in(tmp_path / "store")
    service.fit(data.select(FEATURES).to_numpy()[:400], model="m", backend="ecod")
    seen: list[int] = []

    def cancel_after_first_file() -> str | None:
        return "stop" if seen and seen[-1] >= 1 else None

    control = JobControl(cancelled=cancel_after_first_file,
                         report=lambda r: seen.append(r.progress.partitions_done))
    record = run_job(service, dask_cluster, control, kind="score", input=str(folder),
                     output=str(tmp_path / "out"), model="m", backend="ecod", columns=FEATURES)

    assert record.status == "cancelled" and record.error == "stop"
    assert visible_and_hidden(tmp_path / "out") == ([], [])
    assert not service.storage.exists(f"jobs/{record.id}.cancel")  # the mark is cleaned up


def test_group_model_names_are_valid_and_distinct() -> None:
    assert group_model_name("fleet", "sensor-7") == "fleet.sensor-7"
    odd = group_model_name("fleet", "sensor 7")
    assert odd.startswith("fleet.sensor-7-") and odd != group_model_name("fleet", "sensor_7")
    assert group_model_name("fleet", "sensor 7") == odd  # stable
    assert group_model_name("fleet", "é") != group_model_name("fleet", "è")
    long = group_model_name("m" * 100, "x" * 60)
    assert len(long) <= 128 and long.startswith("m" * 100 + ".x")
