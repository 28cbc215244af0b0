"""The one artifact format every storage backend stores: signed manifest + joblib payload.

Layout (all in one object, so a single atomic ``put`` replaces a model as a whole)::

    b"ANOMD\\x00\\x01\\n"      8-byte magic with the format version
    uint32 big-endian         length N of the manifest
    N bytes                   manifest JSON (ModelInfo + payload sha256 and size)
    32 bytes                  HMAC-SHA256 of the manifest bytes under the artifact key
    rest                      joblib payload (detector, scaler, encoder)

``joblib.load`` runs pickle, which can execute code. The payload is unpickled only after the
manifest's signature verifies and the payload's SHA-256 matches the signed manifest, so a
tampered or foreign artifact is refused before any of its bytes are interpreted.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import struct
from typing import Any

import joblib
import msgspec

from anomd.errors import ArtifactRejected
from anomd.explain import FeatureProfile
from anomd.model import FittedModel, ModelInfo

MAGIC = b"ANOMD\x00\x01\n"
FORMAT_VERSION = 1
_LEN = struct.Struct(">I")
_SIG_SIZE = 32
HEADER_PROBE = 64 * 1024  # bytes read to get at a manifest without fetching the payload


class Manifest(msgspec.Struct, kw_only=True):
    """What is signed: the model's facts and the fingerprint of its payload."""

    format_version: int
    info: ModelInfo
    content_hash: str
    payload_size: int


class ArtifactCodec:
    """Encodes and verifies artifacts with one HMAC key.

    Args:
        key: Secret bytes for HMAC-SHA256. Every process sharing a store must use the same key.
    """

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the artifact signing key must be at least 16 bytes")
        self._key = key

    def _sign(self, manifest: bytes) -> bytes:
        return hmac.new(self._key, manifest, hashlib.sha256).digest()

    # -- generic sealed envelopes (stream checkpoints and other non-model objects) -----------
    #
    # Layout: 8-byte magic | uint32 header length | header | sha256(payload) | HMAC | payload.
    # The HMAC covers magic, header and payload digest, so a verified header vouches for the
    # payload too and the header can be read (e.g. for a listing) without fetching the payload.

    def seal(self, magic: bytes, header: bytes, payload: bytes) -> bytes:
        """Signs ``header`` and the digest of ``payload`` into one blob.

        Args:
            magic: 8 bytes naming the object kind and format version; a blob of one kind is
                never accepted as another.
        """
        if len(magic) != len(MAGIC):
            raise ValueError(f"magic must be {len(MAGIC)} bytes")
        digest = hashlib.sha256(payload).digest()
        signature = self._sign(magic + header + digest)
        return b"".join((magic, _LEN.pack(len(header)), header, digest, signature, payload))

    def unseal_header(self, head: bytes, magic: bytes, name: str) -> tuple[bytes, bytes, int]:
        """Verifies a sealed blob's header from its first bytes.

        Returns:
            The header, the signed payload digest, and the offset where the payload starts.

        Raises:
            ArtifactRejected: Wrong kind, truncated, or bad signature.
            IndexError: ``head`` is too short to hold the whole header (read more).
        """
        if head[: len(magic)] != magic:
            raise ArtifactRejected(f"{name}: not an anomd object of this kind (or an unsupported format)")
        if len(head) < len(magic) + _LEN.size:
            raise ArtifactRejected(f"{name}: object is truncated")
        (length,) = _LEN.unpack_from(head, len(magic))
        start = len(magic) + _LEN.size
        end = start + length + 32 + _SIG_SIZE
        if len(head) < end:
            raise IndexError(end)
        header = bytes(head[start : start + length])
        digest = bytes(head[start + length : start + length + 32])
        signature = bytes(head[start + length + 32 : end])
        if not hmac.compare_digest(signature, self._sign(magic + header + digest)):
            raise ArtifactRejected(
                f"{name}: signature does not verify (tampered, corrupted, or signed with another "
                "key); it was not loaded"
            )
        return header, digest, end

    def unseal(self, blob: bytes, magic: bytes, name: str) -> tuple[bytes, memoryview]:
        """Verifies a sealed blob completely and returns its header and payload.

        Raises:
            ArtifactRejected: Wrong kind, truncated, bad signature, or a payload that does not
                match its signed digest. Nothing has been unpickled when this is raised.
        """
        try:
            header, digest, offset = self.unseal_header(blob, magic, name)
        except IndexError:
            raise ArtifactRejected(f"{name}: object is truncated") from None
        payload = memoryview(blob)[offset:]
        if not hmac.compare_digest(hashlib.sha256(payload).digest(), digest):
            raise ArtifactRejected(f"{name}: payload does not match its signed digest; it was not loaded")
        return header, payload

    def encode(self, model: FittedModel) -> tuple[bytes, Manifest]:
        buffer = io.BytesIO()
        joblib.dump(
            {
                "detector": model.detector, "scaler": model.scaler, "encoder": model.encoder,
                **(model.profile.to_parts() if model.profile is not None else {}),
            },
            buffer,
            protocol=5,
        )
        # A view of the buffer, not a copy: a large model is then held twice at most (the
        # buffer and the artifact), not three times.
        with buffer.getbuffer() as payload:
            manifest = Manifest(
                format_version=FORMAT_VERSION,
                info=model.info,
                content_hash="sha256:" + hashlib.sha256(payload).hexdigest(),
                payload_size=len(payload),
            )
            raw = msgspec.json.encode(manifest)
            blob = b"".join((MAGIC, _LEN.pack(len(raw)), raw, self._sign(raw), payload))
        return blob, manifest

    def read_manifest(self, head: bytes, name: str) -> tuple[Manifest, int]:
        """Verifies and decodes the manifest from the first bytes of an artifact.

        Returns:
            The manifest and the offset at which the payload starts.

        Raises:
            ArtifactRejected: Wrong magic, truncated header or bad signature.
            IndexError: ``head`` is too short to hold the whole manifest (read more).
        """
        if head[: len(MAGIC)] != MAGIC:
            raise ArtifactRejected(f"model {name!r}: not an anomd artifact (or an unsupported format)")
        if len(head) < len(MAGIC) + _LEN.size:
            raise ArtifactRejected(f"model {name!r}: artifact is truncated")
        (length,) = _LEN.unpack_from(head, len(MAGIC))
        start = len(MAGIC) + _LEN.size
        end = start + length + _SIG_SIZE
        if len(head) < end:
            raise IndexError(end)
        raw, signature = head[start : start + length], head[start + length : end]
        if not hmac.compare_digest(signature, self._sign(raw)):
            raise ArtifactRejected(
                f"model {name!r}: artifact signature does not verify (tampered, corrupted, or signed "
                "with another key); it was not loaded. Refit the model or delete it."
            )
        try:
            manifest = msgspec.json.decode(raw, type=Manifest)
        except msgspec.DecodeError as exc:
            raise ArtifactRejected(f"model {name!r}: manifest unreadable: {exc}") from None
        return manifest, end

    def decode(self, blob: bytes, name: str) -> FittedModel:
        """Verifies signature and content hash, then unpickles the payload."""
        try:
            manifest, offset = self.read_manifest(blob, name)
        except IndexError:
            raise ArtifactRejected(f"model {name!r}: artifact is truncated") from None
        payload = memoryview(blob)[offset:]
        digest = "sha256:" + hashlib.sha256(payload).hexdigest()
        if len(payload) != manifest.payload_size or not hmac.compare_digest(digest, manifest.content_hash):
            raise ArtifactRejected(
                f"model {name!r}: payload does not match its signed content hash; it was not loaded. "
                "Refit the model or delete it."
            )
        parts: dict[str, Any] = joblib.load(io.BytesIO(payload))
        return FittedModel(
            info=manifest.info, detector=parts["detector"], scaler=parts["scaler"],
            encoder=parts["encoder"], profile=FeatureProfile.from_parts(parts),
        )
