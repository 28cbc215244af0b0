"""The contract every storage backend must keep, as a pytest class to subclass.

The core (model store, streaming checkpoints) relies on exactly these behaviours, so a backend
that passes this class works with anomd without further glue. Subclass it in a test module and
override the ``storage`` fixture to return an *empty* store of your backend::

    from anomd.testing import StorageContract

    class TestMyStorage(StorageContract):
        secrets = ("my-password",)          # strings describe() must never show

        @pytest.fixture
        def storage(self, tmp_path):
            store = MyStorage(...)
            yield store
            store.close()

Every test runs against a fresh store, uses only the :class:`~anomd.storage.Storage` methods,
and checks one promise; the test name says which.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Iterator

import pytest

from anomd.storage import ObjectInfo, Storage


def _payload(tag: int, size: int) -> bytes:
    """Deterministic, tag-specific bytes that are not all alike (so a mix would show)."""
    seed = hashlib.sha256(f"anomd-contract-{tag}".encode()).digest()
    return (seed * (size // len(seed) + 1))[:size]


class StorageContract:
    """Abstract contract tests; pytest collects them through a ``Test*`` subclass."""

    #: Strings that :meth:`~anomd.storage.Storage.describe` must never contain (credentials).
    secrets: tuple[str, ...] = ()
    #: Size of the "large object" test: a few MB, over the usual 5 MiB multipart threshold.
    large_size: int = 6 * 1024 * 1024 + 7

    @pytest.fixture
    def storage(self) -> Iterator[Storage]:
        """Override: yield an empty store of the backend under test."""
        raise NotImplementedError("override the `storage` fixture in your StorageContract subclass")

    # -- put / get / head -------------------------------------------------------------------

    def test_put_then_get_returns_the_same_bytes(self, storage: Storage) -> None:
        data = bytes(range(256)) * 4
        storage.put("models/round_trip.joblib", data)
        assert storage.get("models/round_trip.joblib") == data

    def test_put_returns_the_info_head_reports(self, storage: Storage) -> None:
        info = storage.put("models/info.joblib", b"twelve bytes")
        assert isinstance(info, ObjectInfo)
        assert (info.key, info.size) == ("models/info.joblib", 12)
        assert info.version, "put must return a non-empty version token"
        assert storage.head("models/info.joblib") == info

    def test_empty_object_is_still_an_object(self, storage: Storage) -> None:
        storage.put("checkpoints/empty.bin", b"")
        assert storage.get("checkpoints/empty.bin") == b""
        assert storage.exists("checkpoints/empty.bin")
        head = storage.head("checkpoints/empty.bin")
        assert head is not None and head.size == 0

    def test_missing_key_raises_key_error_and_heads_none(self, storage: Storage) -> None:
        with pytest.raises(KeyError):
            storage.get("models/absent.joblib")
        with pytest.raises(KeyError):
            storage.get_range("models/absent.joblib", 0, 10)
        assert storage.head("models/absent.joblib") is None
        assert storage.exists("models/absent.joblib") is False

    def test_exists_follows_put_and_delete(self, storage: Storage) -> None:
        assert not storage.exists("models/e.joblib")
        storage.put("models/e.joblib", b"x")
        assert storage.exists("models/e.joblib")
        storage.delete("models/e.joblib")
        assert not storage.exists("models/e.joblib")

    # -- ranged reads -----------------------------------------------------------------------

    def test_get_range_reads_a_slice(self, storage: Storage) -> None:
        data = _payload(1, 10_000)
        storage.put("models/range.joblib", data)
        assert storage.get_range("models/range.joblib", 0, 8) == data[:8]
        assert storage.get_range("models/range.joblib", 1234, 100) == data[1234:1334]

    def test_get_range_past_the_end_returns_what_there_is(self, storage: Storage) -> None:
        data = _payload(2, 100)
        storage.put("models/short.joblib", data)
        assert storage.get_range("models/short.joblib", 0, 64 * 1024) == data
        assert storage.get_range("models/short.joblib", 90, 50) == data[90:]
        assert storage.get_range("models/short.joblib", 100, 10) == b""
        assert storage.get_range("models/short.joblib", 500, 10) == b""
        assert storage.get_range("models/short.joblib", 10, 0) == b""

    # -- versions ---------------------------------------------------------------------------

    def test_version_is_stable_while_nothing_is_written(self, storage: Storage) -> None:
        storage.put("models/stable.joblib", b"same")
        first = storage.head("models/stable.joblib")
        assert first is not None
        assert storage.head("models/stable.joblib") == first
        assert [o for o in storage.list("models/") if o.key == "models/stable.joblib"] == [first]

    def test_rewrite_with_new_content_changes_the_version(self, storage: Storage) -> None:
        # Another process notices a refit only through this token.
        old = storage.put("models/refit.joblib", b"version one")
        new = storage.put("models/refit.joblib", b"version two, longer")
        assert new.version != old.version
        assert storage.head("models/refit.joblib") == new
        assert storage.get("models/refit.joblib") == b"version two, longer"

    def test_rewrite_with_same_size_changes_the_version(self, storage: Storage) -> None:
        old = storage.put("models/same_size.joblib", b"AAAA")
        new = storage.put("models/same_size.joblib", b"BBBB")
        assert new.version != old.version
        assert storage.get("models/same_size.joblib") == b"BBBB"

    # -- delete -----------------------------------------------------------------------------

    def test_delete_reports_whether_the_object_existed(self, storage: Storage) -> None:
        storage.put("models/d.joblib", b"bye")
        assert storage.delete("models/d.joblib") is True
        assert storage.delete("models/d.joblib") is False
        with pytest.raises(KeyError):
            storage.get("models/d.joblib")

    def test_delete_leaves_neighbours_alone(self, storage: Storage) -> None:
        storage.put("a/b/one.bin", b"1")
        storage.put("a/b/two.bin", b"2")
        storage.put("a/c/three.bin", b"3")
        storage.delete("a/b/one.bin")
        assert storage.get("a/b/two.bin") == b"2"
        assert storage.get("a/c/three.bin") == b"3"
        assert sorted(o.key for o in storage.list("a/")) == ["a/b/two.bin", "a/c/three.bin"]

    # -- list -------------------------------------------------------------------------------

    def test_list_filters_by_string_prefix(self, storage: Storage) -> None:
        for key in (
            "models/fraud_ecod.joblib",
            "models/fraud_hbos.joblib",
            "models/other_ecod.joblib",
            "modelsx/not_a_model.bin",
            "checkpoints/sensor/state.bin",
        ):
            storage.put(key, key.encode())
        assert sorted(o.key for o in storage.list("models/")) == [
            "models/fraud_ecod.joblib",
            "models/fraud_hbos.joblib",
            "models/other_ecod.joblib",
        ]
        assert sorted(o.key for o in storage.list("models/fraud")) == [
            "models/fraud_ecod.joblib",
            "models/fraud_hbos.joblib",
        ]
        assert [o.key for o in storage.list("checkpoints/")] == ["checkpoints/sensor/state.bin"]
        assert list(storage.list("nothing-here/")) == []
        assert len(list(storage.list())) == 5

    def test_list_reports_sizes_and_versions(self, storage: Storage) -> None:
        storage.put("models/sized.joblib", b"x" * 321)
        (listed,) = storage.list("models/")
        assert listed == storage.head("models/sized.joblib")
        assert listed.size == 321

    def test_list_of_an_empty_store_is_empty(self, storage: Storage) -> None:
        assert list(storage.list()) == []
        assert list(storage.list("models/")) == []

    def test_list_sees_many_objects(self, storage: Storage) -> None:
        keys = {f"models/m{i:03d}.joblib" for i in range(120)}
        for key in keys:
            storage.put(key, b"m")
        assert {o.key for o in storage.list("models/")} == keys

    def test_list_does_not_show_deleted_objects(self, storage: Storage) -> None:
        storage.put("models/keep.joblib", b"k")
        storage.put("models/gone.joblib", b"g")
        storage.delete("models/gone.joblib")
        assert [o.key for o in storage.list("models/")] == ["models/keep.joblib"]

    # -- keys -------------------------------------------------------------------------------

    def test_nested_keys_are_independent_objects(self, storage: Storage) -> None:
        keys = [
            "checkpoints/stream-a/0001.bin",
            "checkpoints/stream-a/deep/er/0002.bin",
            "checkpoints/stream-b/0001.bin",
        ]
        for number, key in enumerate(keys):
            storage.put(key, _payload(number, 64))
        for number, key in enumerate(keys):
            assert storage.get(key) == _payload(number, 64)
        assert sorted(o.key for o in storage.list("checkpoints/stream-a/")) == sorted(keys[:2])

    def test_similar_keys_do_not_collide(self, storage: Storage) -> None:
        keys = [
            "models/a-b_ecod.joblib",
            "models/a_b_ecod.joblib",
            "models/a.b_ecod.joblib",
            "models/ab_ecod.joblib",
        ]
        for key in keys:
            storage.put(key, key.encode())
        for key in keys:
            assert storage.get(key) == key.encode()

    # -- size and atomicity -----------------------------------------------------------------

    def test_large_object_round_trips(self, storage: Storage) -> None:
        data = os.urandom(self.large_size)
        info = storage.put("models/large.joblib", data)
        assert info.size == len(data)
        assert storage.head("models/large.joblib") == info
        assert storage.get("models/large.joblib") == data
        assert storage.get_range("models/large.joblib", len(data) - 100, 100) == data[-100:]

    def test_concurrent_writers_and_readers_see_only_whole_values(self, storage: Storage) -> None:
        """Threads overwrite one key while another reads it: every read is one complete value,
        and the survivor is one complete value (last writer wins, nothing is mixed)."""
        size = 256 * 1024
        values = {tag: _payload(tag, size) for tag in range(7)}
        storage.put("models/contended.joblib", values[0])
        start = threading.Barrier(7)
        done = threading.Event()
        seen: list[bytes] = []
        errors: list[BaseException] = []

        def write(tag: int) -> None:
            try:
                start.wait()
                for _ in range(3):
                    storage.put("models/contended.joblib", values[tag])
            except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
                errors.append(exc)

        def read() -> None:
            try:
                start.wait()
                while not done.is_set():
                    seen.append(storage.get("models/contended.joblib"))
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

        writers = [threading.Thread(target=write, args=(tag,)) for tag in range(1, 7)]
        reader = threading.Thread(target=read)
        for thread in [*writers, reader]:
            thread.start()
        for thread in writers:
            thread.join(timeout=120)
        done.set()
        reader.join(timeout=120)
        assert not errors, errors
        assert seen, "the reader never got a value"
        allowed = set(values.values())
        assert all(value in allowed for value in seen), "a reader saw a mixed or partial value"
        final = storage.get("models/contended.joblib")
        assert final in set(list(values.values())[1:])
        assert storage.head("models/contended.joblib").size == size  # type: ignore[union-attr]

    # -- reporting --------------------------------------------------------------------------

    def test_describe_names_the_backend_and_hides_secrets(self, storage: Storage) -> None:
        description = storage.describe()
        assert isinstance(description.get("backend"), str) and description["backend"]
        text = json.dumps(description)  # /health serialises it
        for secret in self.secrets:
            assert secret not in text, "describe() leaks a secret"

    def test_location_names_the_object(self, storage: Storage) -> None:
        location = storage.location("models/where_ecod.joblib")
        assert isinstance(location, str) and location.endswith("where_ecod.joblib")
