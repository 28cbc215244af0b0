"""Datasets, services and job runs shared by the jobs tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from anomd.jobs.cluster import Cluster
from anomd.jobs.records import JobRecord, new_record
from anomd.jobs.runner import JobControl, JobRun
from anomd.jobs.spec import JobRequest, check_request
from anomd.service import AnomalyService
from anomd.settings import load_settings

FEATURES = ["a", "b", "c"]


def service_in(folder: Path, **settings: Any) -> AnomalyService:
    """A service with its own filesystem store (and signing key file) in ``folder``."""
    return AnomalyService(load_settings(env={}, data_dir=str(folder), warm_up=False, **settings))


def sensor_frame(rows: int, seed: int, groups: tuple[str, ...] = ("s1", "s2", "s3"),
                 start: int = 0, width: int = 3) -> pl.DataFrame:
    """Rows of several sensors, each around its own level (s1 ~ 0, s2 ~ 100, s3 ~ -50...), so
    a value normal for one group is far out for another."""
    rng = np.random.default_rng(seed)
    levels = {g: 50.0 * (i if i % 2 else -i) for i, g in enumerate(groups)}
    sensor = [groups[i % len(groups)] for i in range(rows)]
    base = np.array([levels[s] for s in sensor])
    X = base[:, None] + rng.normal(size=(rows, width))
    columns = {"id": np.arange(start, start + rows), "sensor": sensor,
               "ts": [f"2026-11-{1 + i % 28:02d}" for i in range(rows)]}
    names = FEATURES if width == 3 else [f"f{j}" for j in range(width)]
    columns.update({name: X[:, j] for j, name in enumerate(names)})
    return pl.DataFrame(columns)


def write_files(folder: Path, frames: list[pl.DataFrame], csv_every: int = 0) -> None:
    """``part-000.parquet``, ``part-001.parquet``...; every ``csv_every``-th one as CSV."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(frames):
        if csv_every and i % csv_every == csv_every - 1:
            frame.write_csv(folder / f"part-{i:03d}.csv")
        else:
            frame.write_parquet(folder / f"part-{i:03d}.parquet")


def read_output(folder: Path) -> pl.DataFrame:
    return pl.concat([pl.read_parquet(p) for p in sorted(folder.glob("*.parquet"))])


def run_job(service: AnomalyService, cluster: Cluster, control: JobControl | None = None,
            **fields: Any) -> JobRecord:
    request = check_request(JobRequest(**fields))
    return JobRun(service, cluster, new_record(request), control).run()


def visible_and_hidden(folder: Path) -> tuple[list[str], list[str]]:
    names = sorted(p.name for p in folder.rglob("*") if p.is_file())
    return ([n for n in names if not n.startswith((".", "_"))],
            [n for n in names if n.startswith(".")])
