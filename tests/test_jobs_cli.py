"""``anomd jobs``: the same jobs from the command line, no server, on the real LocalCluster."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import polars as pl
import pytest
from jobs_helpers import FEATURES, sensor_frame, write_files

from anomd.cli import main
from anomd.jobs.cluster import Cluster


def test_fit_groups_then_score_by_group_from_the_command_line(
        tmp_path: Path, dask_cluster: Cluster, capsys: pytest.CaptureFixture[str]) -> None:
    write_files(tmp_path / "in", [sensor_frame(700, seed=i, start=700 * i) for i in range(2)])
    common = ["--scheduler", dask_cluster.address, "--data-dir", str(tmp_path / "data"),
              "--columns", ",".join(FEATURES)]

    assert main(["jobs", "fit-groups", str(tmp_path / "in"), "--model", "fleet",
                 "--group-by", "sensor", "--backend", "ecod", *common, "--progress"]) == 0
    fitted = capsys.readouterr().err
    assert "groups" in fitted  # the progress bar followed the fits
    assert "fitted 3 models fleet.<group> (ecod) from 1,400 rows" in fitted

    assert main(["jobs", "score", f"{tmp_path}/in/*.parquet", str(tmp_path / "out"),
                 "--model", "fleet", "--group-by", "sensor", "--backend", "ecod",
                 "--keep", "id,sensor", *common, "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["status"] == "succeeded" and record["progress"]["rows_done"] == 1400
    out = pl.read_parquet(tmp_path / "out" / "*.parquet")
    assert out.columns == ["id", "sensor", "score", "is_anomaly", "raw_score"]
    assert out["score"].null_count() == 0

    assert main(["jobs", "list", "--data-dir", str(tmp_path / "data"), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [job["kind"] for job in listed] == ["score", "fit_groups"]  # newest first
    assert main(["jobs", "show", record["id"], "--data-dir", str(tmp_path / "data")]) == 0
    assert json.loads(capsys.readouterr().out)["id"] == record["id"]


def test_a_failed_job_is_one_line_and_exit_status_2(
        tmp_path: Path, dask_cluster: Cluster, capsys: pytest.CaptureFixture[str]) -> None:
    write_files(tmp_path / "in", [sensor_frame(100, seed=1)])
    status = main(["jobs", "score", str(tmp_path / "in"), str(tmp_path / "out"), "--model", "ghost",
                   "--scheduler", dask_cluster.address, "--data-dir", str(tmp_path / "data")])
    assert status == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and " failed: model 'ghost' with backend 'ecod' not found" in err[0]


def test_bad_flags_are_refused_before_any_work(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["jobs", "detect", "in", "out", "--workers", "0"]) == 2
    assert "--workers must be at least 1" in capsys.readouterr().err
    assert main(["jobs", "score", "in", "out", "--model", "m", "--keep", " , "]) == 2
    assert "a column list is empty" in capsys.readouterr().err


def test_without_distributed_the_message_says_what_to_install(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    assert main(["jobs", "detect", "in", "out"]) == 2
    assert "pip install 'anomd[dask]'" in capsys.readouterr().err
