"""Stream checkpoints: a detector's whole state as one signed object in storage.

A checkpoint holds the configuration, the window rows, the counters, the current model and a
retrain in flight (its rows and landing point), so a restored detector continues exactly where
it stopped: same ``model_version``, same window, same point count, and the same scores for the
points that follow as if it had never stopped. It is sealed with the artifact key (:meth:`anomd.artifacts.ArtifactCodec.seal`)
and unpickled only after its signature and payload digest verify, like model artifacts.

The JSON header also carries the detector's stats, so listings can describe a checkpointed
detector without unpickling (or even fetching) its payload.
"""

from __future__ import annotations

import dataclasses
import pickle
from datetime import UTC, datetime

import msgspec

from anomd.artifacts import ArtifactCodec
from anomd.errors import ArtifactRejected
from anomd.names import check_name
from anomd.streaming.config import StreamConfig
from anomd.streaming.state import DetectorState
from anomd.streaming.stats import DetectorStats
from anomd.versions import library_versions

MAGIC = b"ANOMDS\x01\n"
FORMAT_VERSION = 2
#: Formats this version restores (1: the state was a dict, a retrain in flight was not kept).
READABLE_FORMATS = (1, 2)
PREFIX = "streams/"
SUFFIX = ".ckpt"
#: Bytes read to get at a header without the payload.
HEADER_PROBE = 64 * 1024


class CheckpointHeader(msgspec.Struct, kw_only=True):
    """The signed, readable part of a checkpoint."""

    format_version: int
    model_id: str
    config: StreamConfig
    stats: DetectorStats
    created: str
    library_versions: dict[str, str] = msgspec.field(default_factory=dict)


def checkpoint_key(model_id: str) -> str:
    """``sensor-1`` → ``streams/sensor-1.ckpt``."""
    return f"{PREFIX}{check_name(model_id, 'stream id')}{SUFFIX}"


def model_id_of(key: str) -> str | None:
    """The stream id of a checkpoint key, or None for other objects."""
    if key.startswith(PREFIX) and key.endswith(SUFFIX):
        return key[len(PREFIX) : -len(SUFFIX)]
    return None


def encode(codec: ArtifactCodec, model_id: str, config: StreamConfig, state: DetectorState) -> bytes:
    """Seals a detector state (from ``checkpoint_state()``) into bytes."""
    stats = msgspec.structs.replace(state.stats, live=False)  # type: ignore[arg-type]
    header = CheckpointHeader(
        format_version=FORMAT_VERSION,
        model_id=model_id,
        config=config,
        stats=stats,
        created=datetime.now(UTC).isoformat(timespec="milliseconds"),
        library_versions=library_versions(),
    )
    body = dataclasses.replace(state, stats=None)  # the stats travel in the header
    return codec.seal(MAGIC, msgspec.json.encode(header), pickle.dumps(body, protocol=5))


def read_header(codec: ArtifactCodec, head: bytes, model_id: str) -> CheckpointHeader:
    """Verifies and decodes the header from the first bytes of a checkpoint.

    Raises:
        ArtifactRejected: Not a checkpoint, or the signature does not verify.
        IndexError: ``head`` is too short (read more).
    """
    raw, _, _ = codec.unseal_header(head, MAGIC, f"stream checkpoint {model_id!r}")
    return _decode_header(raw, model_id)


def decode(codec: ArtifactCodec, blob: bytes, model_id: str) -> tuple[CheckpointHeader, DetectorState]:
    """Verifies a checkpoint, then unpickles its state.

    Raises:
        ArtifactRejected: Tampered, foreign or unreadable (e.g. written by an incompatible
            library version); the message says how to start over.
    """
    name = f"stream checkpoint {model_id!r}"
    raw, payload = codec.unseal(blob, MAGIC, name)
    header = _decode_header(raw, model_id)
    try:
        state = pickle.loads(payload)
    except Exception as exc:  # noqa: BLE001 - verified but not loadable here (versions differ)
        raise ArtifactRejected(
            f"{name} verified but could not be restored ({type(exc).__name__}: {exc}); it was "
            f"written with {header.library_versions}. DELETE the stream to start it over."
        ) from None
    if isinstance(state, dict):
        state = DetectorState.from_v1(state)
    return header, state


def _decode_header(raw: bytes, model_id: str) -> CheckpointHeader:
    try:
        header = msgspec.json.decode(raw, type=CheckpointHeader)
    except msgspec.DecodeError as exc:
        raise ArtifactRejected(f"stream checkpoint {model_id!r}: header unreadable: {exc}") from None
    if header.format_version not in READABLE_FORMATS or header.model_id != model_id:
        raise ArtifactRejected(
            f"stream checkpoint {model_id!r}: holds {header.model_id!r} in format "
            f"{header.format_version}; expected {model_id!r} in format {FORMAT_VERSION}"
        )
    return header
