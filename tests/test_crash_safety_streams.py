"""``kill -9`` while streaming checkpoints are being written, on both storage backends.

Three clients feed thirty-odd streams continuously, a fourth creates a new stream every 20 ms
and a fifth feeds and then deletes streams, while the server checkpoints every stream that
changed every 50 ms, so checkpoints are always being written. The server is killed in the
middle of one: the stream ``bulk`` has a checkpoint of about 6 MB, and the kill is sent the
moment its temporary file is seen being flushed (files), or once one part of its multipart
upload has been held back on the way to the bucket (S3, see ``S3Relay`` in
``test_crash_safety.py``). The unfinished write left in the store after the kill (the
temporary file, the incomplete upload) proves that the kill landed in the middle of it.

After a restart on the same store, every stream must be either restorable from a checkpoint
that holds a state the stream really had (its counters, model version and threshold match one
of the server's responses, and its window is exactly the newest points it had been sent), or
unknown (404) if it had never been checkpointed or its deletion had been answered; none
answers a 500, every stream scores its next point, and nothing half-written is listed or
loaded.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import msgspec
import numpy as np
from helpers import ok
from storage_backends import StorageBackend
from test_crash_safety import (
    WARM_ECOD,
    ClientThreads,
    StoreWatch,
    import_pyod_in_background,
)

from anomd.artifacts import ArtifactCodec
from anomd.streaming import checkpoint
from anomd.testing import start_server

SECRET = "crash-safety-streams-signing-key"
SMALL_STREAMS = 36
#: 30,000 rows x 4 columns with ECOD's exact scorer (which keeps its training matrix): a
#: checkpoint of ~6.2 MB, above the 5 MiB from which S3 uploads go in parts, and ~15 ms of
#: fsync on files. Its writes are what the test waits for to kill the server.
BULK_ROWS = 30_000
BIG_WRITE = 1_000_000
ENV = {
    "ANOMD_SECRET_KEY": SECRET,
    "ANOMD_STREAM_CHECKPOINT_INTERVAL_S": "0.05",
    "ANOMD_STREAM_IDLE_TIMEOUT_S": "0",
    "ANOMD_LOG_LEVEL": "warning",
    **WARM_ECOD,
}


@dataclass
class Stream:
    """One stream as the client knows it: its configuration, every point it will ever be sent
    (in order, so point ``i`` always has the same values), and the states it was seen in.

    Attributes:
        states: Points processed -> (``model_version``, ``threshold``) the server reported
            right after processing them. A request whose answer was lost in the crash maps to
            ``(None, None)``: the server may or may not have processed it.
        deletion: ``"done"`` once a DELETE was answered, ``"lost"`` if the server died
            before answering it.
    """

    model_id: str
    config: dict[str, Any]
    data: np.ndarray
    sent: int = 0
    states: dict[int, tuple[int | None, float | None]] = field(default_factory=dict)
    deletion: str = ""

    @property
    def columns(self) -> list[str]:
        return [f"x{k}" for k in range(self.data.shape[1])]

    def points(self, start: int, stop: int) -> list[dict[str, float]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.data[start:stop].tolist()]

    def send(self, api: httpx.Client, count: int, *, create: bool = False) -> bool:
        """Sends the next ``count`` points and records the state they lead to.

        Returns:
            False when the server did not answer (it was killed).
        """
        stop = self.sent + count
        body: dict[str, Any] = {"model_id": self.model_id, "data": self.points(self.sent, stop)}
        if create:
            body.update(self.config)
        try:
            response = api.post("/stream", json=body)
        except httpx.ConnectError:
            return False  # nothing reached the server
        except httpx.HTTPError:
            self.states[stop] = (None, None)  # sent; whether it was processed is unknown
            return False
        result = ok(response)
        self.sent = stop
        self.states[stop] = (result["model_version"], result["threshold"])
        return True

    def delete(self, api: httpx.Client) -> bool:
        """Deletes the stream (memory and checkpoint); False if the server did not answer."""
        try:
            response = api.delete(f"/stream/{self.model_id}")
        except httpx.ConnectError:
            return False
        except httpx.HTTPError:
            self.deletion = "lost"
            return False
        ok(response)
        self.deletion = "done"
        return True


def small_stream(number: int, prefix: str = "s") -> Stream:
    """Streams that differ in width, scale, window, cold start, retrain rhythm and features."""
    rng = np.random.default_rng([ord(prefix), number])
    width = 2 + number % 3
    data = rng.normal(loc=number, scale=1 + number % 4, size=(4000, width))
    config: dict[str, Any] = {
        "window_size": 150 + 10 * number,
        "min_samples": 30 + 10 * (number % 4),
        "retrain_interval": 20 + 10 * (number % 5),
    }
    if number % 6 == 5:  # still collecting when the server dies
        config["min_samples"] = config["window_size"]
    if number % 7 == 3:
        config["rolling_windows"] = [3]
    return Stream(f"{prefix}{number:02d}", config, data)


def feed(api_url: str, streams: list[Stream], stop: threading.Event, seed: int) -> None:
    """Sends small batches to each stream in turn until the server dies or ``stop`` is set."""
    rng = np.random.default_rng(seed)
    with httpx.Client(base_url=api_url, timeout=60) as api:
        while not stop.is_set():
            for stream in streams:
                count = 5 if stream.model_id == "bulk" else int(rng.integers(1, 9))
                if stream.sent + count > len(stream.data) or not stream.send(api, count):
                    return


def feed_then_delete(api_url: str, doomed: list[Stream], stop: threading.Event) -> None:
    """Feeds each stream a little more (so the checkpoint sweeps have it to write) and then
    deletes it, one stream every 100 ms: a deleted stream must never come back."""
    with httpx.Client(base_url=api_url, timeout=60) as api:
        for stream in doomed:
            for _ in range(3):
                if stop.is_set() or not stream.send(api, 4):
                    return
            if not stream.delete(api):
                return
            time.sleep(0.1)


def create_late_streams(api_url: str, late: list[Stream], stop: threading.Event) -> None:
    """Creates a new stream every 20 ms: the newest ones cannot have been checkpointed yet
    when the server dies, so restarting must also cope with streams it never saw."""
    with httpx.Client(base_url=api_url, timeout=60) as api:
        for stream in late:
            if stop.is_set() or not stream.send(api, 10, create=True):
                return
            time.sleep(0.02)


def stored_ids(store: Any) -> set[str]:
    return {checkpoint.model_id_of(o.key) for o in store.list(checkpoint.PREFIX)} - {None}


def test_kill_9_during_streaming_checkpoints_loses_no_stream(
    storage_backend: StorageBackend, tmp_path: Path
) -> None:
    import_pyod_in_background()  # the checkpoints are decoded here after the crash
    store = storage_backend.new_store(tmp_path)
    bulk_data = np.random.default_rng(5).normal(size=(BULK_ROWS + 4000, 4))
    bulk = Stream("bulk", {"window_size": BULK_ROWS, "min_samples": BULK_ROWS,
                           "retrain_interval": 1_000_000, "params": {"fast_scoring": False}},
                  bulk_data)
    streams = [bulk] + [small_stream(n) for n in range(SMALL_STREAMS)]
    doomed = [small_stream(n, "d") for n in range(10)]
    late = [Stream(f"late{n:02d}", {"min_samples": 20}, np.random.default_rng(n).normal(size=(50, 2)))
            for n in range(100)]

    with StoreWatch(storage_backend, store) as watch:
        env = {**watch.env, **ENV}
        server = start_server(tmp_path / "data", env=env)
        try:
            with httpx.Client(base_url=server.api, timeout=120) as api:
                assert bulk.send(api, BULK_ROWS, create=True) and bulk.states[BULK_ROWS][0] == 1
                for number, stream in enumerate(streams[1:] + doomed):
                    assert stream.send(api, 40 + 7 * number, create=True)
                stop, clients = threading.Event(), ClientThreads()
                for k in range(3):
                    clients.start(feed, server.api, streams[k::3], stop, k)
                clients.start(create_late_streams, server.api, late, stop)
                clients.start(feed_then_delete, server.api, doomed, stop)
                # Arm once every stream has a checkpoint and has moved on through several
                # states since (so a checkpoint may hold any of them).
                inspect = store.open()

                def ready_to_kill() -> bool:
                    return (min(len(s.states) for s in streams) >= 6
                            and stored_ids(inspect) >= {s.model_id for s in streams})

                deadline = time.monotonic() + 60
                while not ready_to_kill() and time.monotonic() < deadline:
                    time.sleep(0.05)
                assert ready_to_kill()
                unfinished = watch.kill_mid_write(server, "streams/bulk.ckpt", BIG_WRITE)
                stop.set()
                clients.join()
            assert unfinished, "no checkpoint write was under way when the server died"
        finally:
            server.stop()

        assert [s for s in doomed if s.deletion == "done"], "no stream was deleted"
        streams += [s for s in late if s.states] + doomed
        again = start_server(tmp_path / "data", env=env)
        try:
            if storage_backend.name == "filesystem":
                # The restarted server removed the debris of the write the kill cut short.
                assert not [path for path in unfinished if Path(path).exists()]
            else:
                # S3 keeps the parts of the upload (invisible to listings; a lifecycle rule
                # aborts them), and the previous checkpoint of that stream is still whole.
                assert watch.unfinished("streams") == unfinished
            restored = check_stored_checkpoints(store.open(), streams)
            assert {s.model_id for s in streams[: SMALL_STREAMS + 1]} <= set(restored)
            with httpx.Client(base_url=again.api, timeout=120) as api:
                listing = ok(api.get("/stream/detectors"))["data"]
                assert [row for row in listing if "error" in row] == []
                assert {row["model_id"] for row in listing} == set(restored)
                for stream in streams:
                    check_resumes(api, stream, restored.get(stream.model_id))
                listing = ok(api.get("/stream/detectors"))["data"]
                assert {row["model_id"] for row in listing} == {s.model_id for s in streams}
                assert all(row["live"] for row in listing)
        finally:
            again.stop()


def check_stored_checkpoints(store: Any, streams: list[Stream]) -> dict[str, dict[str, Any]]:
    """Every stored object is a whole checkpoint of a known stream holding a state that stream
    really had; returns the stats each one restores, by stream id."""
    codec = ArtifactCodec(SECRET.encode())
    by_id = {s.model_id: s for s in streams}
    keys = [o.key for o in store.list()]
    assert all(checkpoint.model_id_of(k) in by_id for k in keys), keys  # nothing partial listed
    restored = {}
    for key in keys:
        stream = by_id[checkpoint.model_id_of(key)]  # type: ignore[index]
        header, state = checkpoint.decode(codec, store.get(key), stream.model_id)
        total = state.total
        assert total in stream.states, (stream.model_id, total, sorted(stream.states))
        version, threshold = stream.states[total]
        if version is not None:
            assert (state.version, header.stats.threshold) == (version, threshold)
        window = stream.config.get("window_size", 1000)
        rows = np.asarray(state.rows)
        assert min(total, window) <= len(rows) <= total, (stream.model_id, len(rows), total)
        assert np.array_equal(rows, stream.data[total - len(rows) : total]), stream.model_id
        assert header.stats.total_processed == total
        assert header.stats.samples_collected == min(total, window)
        restored[stream.model_id] = msgspec.to_builtins(header.stats)
    deleted = {s.model_id for s in streams if s.deletion == "done"}
    assert not deleted & set(restored), "a deleted stream's checkpoint came back"
    return restored


def check_resumes(api: httpx.Client, stream: Stream, saved: dict[str, Any] | None) -> None:
    """The stream continues from its checkpoint, or starts afresh if it had none."""
    response = api.get(f"/stream/{stream.model_id}")
    if saved is None:
        assert response.status_code == 404, response.text
        body = ok(api.post("/stream", json={"model_id": stream.model_id, **stream.config,
                                            "data": stream.points(0, 3)}))
        assert (body["model_version"], body["samples_collected"]) == (0, 3)
        assert ok(api.get(f"/stream/{stream.model_id}"))["total_processed"] == 3
        return
    stats = ok(response)
    assert stats["live"] is False
    for key in ("total_processed", "model_version", "samples_collected", "threshold", "status"):
        assert stats[key] == saved[key], (stream.model_id, key)
    total = saved["total_processed"]
    # The creation fields are sent again: a restored stream must have kept its configuration.
    body = ok(api.post("/stream", json={"model_id": stream.model_id, **stream.config,
                                        "data": stream.points(total, total + 1)}))
    # Scored on the restored model; a stream one point short of its cold start fits now, and a
    # retrain the checkpoint carried lands right after its scheduled point.
    fits_now = saved["model_version"] == 0 and saved["samples_until_ready"] == 1
    lands_now = saved["next_landing_at"] == total + 1
    assert body["model_version"] == saved["model_version"] + fits_now + lands_now
    assert (body["results"][0]["score"] is not None) == (body["model_version"] > 0)
    after = ok(api.get(f"/stream/{stream.model_id}"))
    assert (after["live"], after["total_processed"]) == (True, total + 1)
