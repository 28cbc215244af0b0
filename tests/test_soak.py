"""The 60-second soak: a real server under the benchmark's steady mixed load (fits, scores,
detects, stream batches and points, listings, fit-then-delete) must answer no 5xx and must
not grow: RSS, open files and threads after the warm-up stay put. Latency is printed by the
benchmark (``python -m benchmarks soak``), never asserted (timings are noisy here)."""

from __future__ import annotations

from benchmarks.soak import run_soak


def test_one_minute_of_mixed_load_leaves_the_server_as_it_was() -> None:
    result = run_soak(60, window=15, capacity_seconds=5)
    assert set(result["statuses"]) == {200}, result["statuses"]
    assert result["achieved_rps"] > 0.5 * result["target_rps"]
    assert len(result["windows"]) >= 4
    assert result["rss_growth"] <= 0.10, result["windows"]
    assert result["open_files_growth"] <= 2, result["windows"]
    assert result["threads_growth"] <= 2, result["windows"]
