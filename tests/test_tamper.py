"""Tampered or forged model artifacts are refused before anything in them is unpickled.

Runs against both storage backends (through the ``server`` fixture): the attacker here is
anyone who can write to the store (the data folder or the bucket) but does not hold the
artifact signing key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import pickle
import struct
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest
from helpers import ok, problem, rows
from storage_backends import StoreUnderTest

from anomd.artifacts import MAGIC
from anomd.signing_key import KEY_FILE

_LEN = struct.Struct(">I")  # manifest length, after the magic (see anomd.artifacts)


def _split(artifact: bytes) -> tuple[dict, bytes, bytes]:
    """An artifact's manifest (parsed), signature and payload, without verifying anything."""
    assert artifact.startswith(MAGIC)
    (length,) = _LEN.unpack_from(artifact, len(MAGIC))
    start = len(MAGIC) + _LEN.size
    manifest = artifact[start : start + length]
    return (
        json.loads(manifest),
        artifact[start + length : start + length + 32],
        artifact[start + length + 32 :],
    )


def _forge(
    manifest: dict, payload: bytes, key: bytes, *, claimed_payload: bytes | None = None
) -> bytes:
    """An artifact signed with ``key`` whose manifest describes ``claimed_payload`` (default:
    the real payload)."""
    claimed = payload if claimed_payload is None else claimed_payload
    manifest = {
        **manifest,
        "content_hash": "sha256:" + hashlib.sha256(claimed).hexdigest(),
        "payload_size": len(claimed),
    }
    raw = json.dumps(manifest).encode()
    signature = hmac.new(key, raw, hashlib.sha256).digest()
    return MAGIC + _LEN.pack(len(raw)) + raw + signature + payload


class _CreatesMarker:
    """Unpickling this object creates (opens for writing) the file at ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def _malicious_payload(marker: Path) -> bytes:
    return pickle.dumps({"detector": _CreatesMarker(marker), "scaler": None, "encoder": None})


def _fit(api: httpx.Client, model: str, X: np.ndarray) -> str:
    fit = ok(api.post("/fit", json={"model": model, "backend": "ecod", "data": rows(X)}))
    ok(api.post("/score", json={"model": model, "data": rows(X[:3])}))  # now cached in memory
    return fit["filename"]


def _flip(store, key: str, offset: int) -> None:
    blob = bytearray(store.get(key))
    blob[offset] ^= 0x01
    store.put(key, bytes(blob))


def test_flipped_payload_byte_is_refused_naming_the_model(
    api, server_store: StoreUnderTest, planted
) -> None:
    X, _ = planted
    filename = _fit(api, "tamper-payload", X)
    store = server_store.open()
    _flip(store, f"models/{filename}", -10)  # deep inside the joblib payload

    detail = problem(api.post("/score", json={"model": "tamper-payload", "data": rows(X[:3])}), 409)
    assert "tamper-payload" in detail and "not loaded" in detail
    problem(api.post("/load", json={"model": "tamper-payload", "backend": "ecod"}), 409)
    # Refitting replaces the bad artifact with a good one.
    _fit(api, "tamper-payload", X)


def test_flipped_manifest_byte_is_refused_everywhere(
    api, server_store: StoreUnderTest, planted
) -> None:
    X, _ = planted
    filename = _fit(api, "tamper-manifest", X)
    _flip(server_store.open(), f"models/{filename}", len(MAGIC) + _LEN.size + 5)

    detail = problem(
        api.post("/score", json={"model": "tamper-manifest", "data": rows(X[:3])}), 409
    )
    assert "tamper-manifest" in detail and "signature" in detail
    detail = problem(api.get(f"/models/{filename}"), 409)
    assert "tamper-manifest" in detail
    listed = next(m for m in ok(api.get("/models"))["data"] if m["filename"] == filename)
    assert "signature" in listed["error"]  # listed, flagged, and the listing itself still works
    assert ok(api.delete(f"/models/{filename}"))["deleted"] is True  # the operator can remove it


def test_truncated_artifact_is_refused(api, server_store: StoreUnderTest, planted) -> None:
    X, _ = planted
    filename = _fit(api, "tamper-truncated", X)
    store = server_store.open()
    store.put(f"models/{filename}", store.get(f"models/{filename}")[:-100])
    detail = problem(
        api.post("/score", json={"model": "tamper-truncated", "data": rows(X[:3])}), 409
    )
    assert "tamper-truncated" in detail


def test_the_forged_payload_really_runs_code_when_unpickled(tmp_path: Path) -> None:
    """Control for the tests below: the payload is live, so its absence of effect means
    something. Unpickled in a throw-away process."""
    marker = tmp_path / "control-marker"
    payload = _malicious_payload(marker)
    subprocess.run(
        [sys.executable, "-c", "import pickle,sys; pickle.loads(sys.stdin.buffer.read())"],
        input=payload,
        check=True,
        timeout=60,
    )
    assert marker.exists()


def test_artifact_signed_with_another_key_is_never_unpickled(
    api, server_store: StoreUnderTest, planted, tmp_path: Path
) -> None:
    X, _ = planted
    filename = _fit(api, "forged-key", X)
    store = server_store.open()
    manifest, _, _ = _split(store.get(f"models/{filename}"))
    marker = tmp_path / "code-ran-wrong-key"
    store.put(
        f"models/{filename}",
        _forge(manifest, _malicious_payload(marker), b"not the server's key, 32 bytes!!"),
    )

    detail = problem(api.post("/score", json={"model": "forged-key", "data": rows(X[:3])}), 409)
    assert "forged-key" in detail and "signature" in detail
    problem(api.post("/load", json={"model": "forged-key", "backend": "ecod"}), 409)
    problem(api.get(f"/models/{filename}"), 409)
    ok(api.get("/models"))
    assert not marker.exists(), "the forged payload was unpickled"


def test_signed_manifest_with_swapped_payload_is_never_unpickled(
    api, server_store: StoreUnderTest, server_data_dir: Path, planted, tmp_path: Path
) -> None:
    """Even with the real key, a manifest that does not describe the payload is refused: the
    payload's hash is checked before joblib sees it."""
    X, _ = planted
    filename = _fit(api, "swapped-payload", X)
    store = server_store.open()
    manifest, _, real_payload = _split(store.get(f"models/{filename}"))
    key = (server_data_dir / KEY_FILE).read_bytes().strip()
    marker = tmp_path / "code-ran-swapped"
    store.put(
        f"models/{filename}",
        _forge(manifest, _malicious_payload(marker), key, claimed_payload=real_payload),
    )

    detail = problem(
        api.post("/score", json={"model": "swapped-payload", "data": rows(X[:3])}), 409
    )
    assert "swapped-payload" in detail and "content hash" in detail
    assert not marker.exists(), "the swapped payload was unpickled"


def test_a_valid_artifact_moved_to_another_model_is_refused(
    api, server_store: StoreUnderTest, planted
) -> None:
    """The signature is genuine, but the artifact is another model's: scoring "victim" must not
    silently use "intruder"."""
    X, _ = planted
    victim = _fit(api, "victim", X)
    intruder = _fit(api, "intruder", X * 40 + 100)
    store = server_store.open()
    store.put(f"models/{victim}", store.get(f"models/{intruder}"))
    detail = problem(api.post("/score", json={"model": "victim", "data": rows(X[:3])}), 409)
    assert victim in detail and intruder in detail
    assert intruder in problem(api.get(f"/models/{victim}"), 409)
    ok(api.post("/score", json={"model": "intruder", "data": rows(X[:3])}))  # the original is fine


@pytest.mark.parametrize("garbage", [b"", b"not an artifact at all", b"\x80\x04K\x01."])
def test_foreign_objects_in_the_models_folder_are_refused(
    api, server_store: StoreUnderTest, garbage: bytes
) -> None:
    server_store.open().put("models/foreign_ecod.joblib", garbage)
    detail = problem(api.post("/score", json={"model": "foreign", "data": [[1.0, 2.0]]}), 409)
    assert "foreign" in detail
    ok(api.get("/models"))
    ok(api.delete("/models/foreign_ecod.joblib"))
