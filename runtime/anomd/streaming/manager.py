"""The live streaming detectors of a server: lookup, limits, eviction, checkpoints.

Detectors live in memory, in least-recently-used order. Two limits keep memory bounded:

* ``max_detectors``: creating or restoring one more evicts the least recently used one;
* ``idle_timeout_s``: a periodic sweep evicts detectors not used for that long.

Evicting writes a checkpoint to storage (``streams/<id>.ckpt``) first, so eviction loses
nothing: the next request for that id restores the detector transparently. At shutdown every
live detector is checkpointed; after a restart the first request continues where it stopped.
A periodic sweep (:meth:`StreamManager.checkpoint_changed`) also writes the detectors that
changed since their last checkpoint, which bounds what a crash can lose.

Concurrency: a lock per stream id (striped) serialises create/restore/evict/delete of that id,
so a restore can never read a checkpoint that an eviction is still writing. Detectors, like
River's, are used by one thread at a time: each live one is held in a :class:`LiveStream`
whose lock every use takes, and a caller holding a stream that got evicted meanwhile sees
:class:`DetectorClosed` and fetches it again.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec
import structlog

from anomd.errors import Conflict, InvalidInput, NotFound
from anomd.model_store import storage_errors
from anomd.names import check_name, check_new_name
from anomd.streaming import checkpoint
from anomd.streaming.config import StreamConfig
from anomd.streaming.detector import StreamingAnomalyDetector
from anomd.streaming.state import DetectorState
from anomd.streaming.stats import DetectorStats, UnreadableStream

if TYPE_CHECKING:
    from anomd.service import AnomalyService

log = structlog.get_logger("anomd.streaming")
T = TypeVar("T")
_STRIPES = 64
#: What :meth:`LiveStream.try_run` returns when the stream is busy.
BUSY: Any = object()


class DetectorClosed(RuntimeError):
    """The stream was evicted or deleted while a caller still held it; fetch it again."""


class LiveStream:
    """A live detector as the manager holds it.

    Attributes:
        detector: The detector (used only under ``lock``).
        last_used: ``time.monotonic()`` of the last use (idle eviction).
        closed: Set when the stream is evicted or deleted; later uses raise DetectorClosed.
    """

    __slots__ = ("closed", "detector", "last_used", "lock")

    def __init__(self, detector: StreamingAnomalyDetector) -> None:
        self.detector = detector
        self.lock = threading.Lock()
        self.last_used = time.monotonic()
        self.closed = False

    def run(self, work: Callable[[StreamingAnomalyDetector], T]) -> T:
        """Runs ``work`` on the detector under its lock, as a use of the stream."""
        with self.lock:
            return self._use(work)

    def try_run(self, work: Callable[[StreamingAnomalyDetector], T]) -> T:
        """:meth:`run` if no other thread holds the stream right now, else :data:`BUSY`."""
        if not self.lock.acquire(blocking=False):
            return BUSY
        try:
            return self._use(work)
        finally:
            self.lock.release()

    def _use(self, work: Callable[[StreamingAnomalyDetector], T]) -> T:
        if self.closed:
            raise DetectorClosed(self.detector.model_id)
        self.last_used = time.monotonic()
        return work(self.detector)

    def read(self, work: Callable[[StreamingAnomalyDetector], T]) -> T:
        """Runs ``work`` under the lock without counting it as a use (stats, checkpoints)."""
        with self.lock:
            return work(self.detector)


class StreamManager:
    """Owns the live detectors of one service.

    Args:
        service: The service whose plugins, storage, signing key and settings streams use.
        max_detectors: Most detectors kept in memory.
        idle_timeout_s: Evict detectors unused for this long (0 disables).
        executor: Where retrains run (shared by all detectors).
    """

    def __init__(
        self, service: AnomalyService, *, max_detectors: int, idle_timeout_s: float, executor: Executor
    ) -> None:
        self.service = service
        self.max_detectors = max_detectors
        self.idle_timeout_s = idle_timeout_s
        self.executor = executor
        self._codec = service.models.codec
        self._live: OrderedDict[str, LiveStream] = OrderedDict()
        self._lock = threading.Lock()
        self._id_locks = [threading.Lock() for _ in range(_STRIPES)]
        self.evictions = 0
        self.restores = 0
        self.checkpoints = 0
        self._saved: dict[str, tuple[int, int, int]] = {}  # id -> revision last written

    def _id_lock(self, model_id: str) -> threading.Lock:
        return self._id_locks[hash(model_id) % _STRIPES]

    @property
    def storage(self) -> Any:
        return self.service.storage

    # -- lookup -----------------------------------------------------------------------------

    def live(self, model_id: str) -> LiveStream | None:
        """The live stream, moved to the most recently used end; no storage access (cheap)."""
        with self._lock:
            stream = self._live.get(model_id)
            if stream is not None:
                self._live.move_to_end(model_id)
            return stream

    def open(self, model_id: str, sent: Mapping[str, Any], first: Mapping[str, Any] | None = None) -> LiveStream:
        """The stream ``model_id``: live, restored from its checkpoint, or created.

        Args:
            sent: Configuration fields the client sent (only these are compared with an
                existing detector's configuration; fields left out take the defaults).
            first: The first point of the request; a new stream's pipeline is settled on it.

        Raises:
            Conflict: The detector exists with a different value for a field in ``sent``.
            InvalidInput: A bad configuration for a new detector.
        """
        check_name(model_id, "stream id")
        stream = self.live(model_id)
        if stream is None:
            stream = self._load(model_id, lambda: self._create(model_id, sent, first))
        self.check_same(stream.detector, sent)
        return stream

    def _load(
        self, model_id: str, create: Callable[[], StreamingAnomalyDetector] | None
    ) -> LiveStream:
        """Restores (or creates) a detector that is not live and makes it live.

        Raises:
            NotFound: Neither live nor checkpointed, and no ``create``.
        """
        with self._id_lock(model_id):
            stream = self.live(model_id)
            victims: list[str] = []
            if stream is None:
                detector = self._restore(model_id)
                if detector is None:
                    if create is None:
                        raise NotFound(f"stream detector {model_id!r} not found")
                    detector = create()
                stream, victims = self._admit(model_id, detector)
        # Evict outside the id lock: the victims' locks may be the same stripe.
        for victim in victims:
            self.evict(victim)
        return stream

    def run(
        self, model_id: str, sent: Mapping[str, Any], work: Callable[[StreamingAnomalyDetector], T],
        first: Mapping[str, Any] | None = None,
    ) -> tuple[LiveStream, T]:
        """Runs ``work`` on the detector for ``model_id`` (opened as :meth:`open` does).

        A live stream is used without any lock but its own. If it is not live, or got evicted
        between lookup and use, it is restored (or created) and ``work`` runs under the
        stream's id lock, so no eviction can slip in between: the second attempt always
        succeeds.
        """
        check_name(model_id, "stream id")
        stream = self.live(model_id)
        if stream is not None:
            self.check_same(stream.detector, sent)
            try:
                return stream, stream.run(work)
            except DetectorClosed:
                pass
        with self._id_lock(model_id):
            stream = self.peek(model_id)
            victims: list[str] = []
            if stream is None:
                detector = self._restore(model_id) or self._create(model_id, sent, first)
                stream, victims = self._admit(model_id, detector)
            self.check_same(stream.detector, sent)
            result = stream.run(work)
        for victim in victims:
            self.evict(victim)
        return stream, result

    def peek(self, model_id: str) -> LiveStream | None:
        """The live stream without marking it used (stats, listings)."""
        with self._lock:
            return self._live.get(model_id)

    def check_same(self, detector: StreamingAnomalyDetector, sent: Mapping[str, Any]) -> None:
        """Raises :class:`Conflict` if ``sent`` differs from the detector's configuration."""
        if not sent:
            return
        differences = detector.config.differences(list(sent), sent)
        if differences:
            raise Conflict(
                f"stream detector {detector.model_id!r} exists with a different configuration: "
                f"this request sent {'; '.join(differences)}. Send the same values (or leave "
                f"them out), or DELETE /v1/ml/anomaly/stream/{detector.model_id} and create it anew."
            )

    def _detector(self, model_id: str, config: StreamConfig | Mapping[str, Any]) -> StreamingAnomalyDetector:
        """A new detector built with this service's plugins, backend rules and defaults (a
        backend the client names and one a pipeline supplies go through the same rules)."""
        fields = dict(config) if isinstance(config, Mapping) else config.as_dict()
        return StreamingAnomalyDetector(
            model_id, **fields, plugins=self.service.plugins, settings=self.service.settings,
            executor=self.executor,
        )

    def _create(
        self, model_id: str, sent: Mapping[str, Any], first: Mapping[str, Any] | None
    ) -> StreamingAnomalyDetector:
        """A new detector, its pipeline settled on ``first`` so that a configuration that fails
        only once settled is refused before the stream exists."""
        check_new_name(model_id, self.service.settings.max_name_length, "stream id")
        detector = self._detector(model_id, sent)
        if first is not None:
            detector.prepare(first)
        return detector

    def _restore(self, model_id: str) -> StreamingAnomalyDetector | None:
        key = checkpoint.checkpoint_key(model_id)
        with storage_errors(f"reading stream checkpoint {model_id}"):
            try:
                blob = self.storage.get(key)
            except KeyError:
                return None
        header, state = checkpoint.decode(self._codec, blob, model_id)
        detector = self._detector(model_id, header.config)
        detector.restore_state(state)
        self.restores += 1
        return detector

    def _admit(self, model_id: str, detector: StreamingAnomalyDetector) -> tuple[LiveStream, list[str]]:
        """Makes ``detector`` live; also returns the least recently used ids beyond the limit."""
        stream = LiveStream(detector)
        with self._lock:
            self._live[model_id] = stream
            self._live.move_to_end(model_id)
            excess = max(0, len(self._live) - self.max_detectors)
            return stream, [k for k in self._live if k != model_id][:excess]

    # -- eviction and checkpoints -----------------------------------------------------------

    def evict(self, model_id: str) -> bool:
        """Checkpoints a live detector and drops it from memory.

        If the checkpoint cannot be written the detector stays live (nothing is lost).
        """
        with self._id_lock(model_id):
            with self._lock:
                stream = self._live.get(model_id)
            if stream is None:
                return False
            with stream.lock:  # no point can slip in between the copy and the close
                state = stream.detector.checkpoint_state()
                stream.closed = True
            try:
                self._write(model_id, stream.detector.config, state)
            except Exception:
                stream.closed = False
                log.exception("stream eviction failed; detector kept in memory", stream=model_id)
                return False
            stream.read(lambda detector: detector.close())
            with self._lock:
                if self._live.get(model_id) is stream:
                    del self._live[model_id]
            self._saved.pop(model_id, None)
            self.evictions += 1
            return True

    def _write(self, model_id: str, config: StreamConfig, state: DetectorState) -> None:
        blob = checkpoint.encode(self._codec, model_id, config, state)
        with storage_errors(f"writing stream checkpoint {model_id}"):
            self.storage.put(checkpoint.checkpoint_key(model_id), blob)
        self.checkpoints += 1

    def evict_idle(self, now: float | None = None) -> int:
        """Evicts detectors idle for longer than ``idle_timeout_s``; returns how many."""
        if self.idle_timeout_s <= 0:
            return 0
        now = time.monotonic() if now is None else now
        with self._lock:
            idle = [k for k, s in self._live.items() if now - s.last_used > self.idle_timeout_s]
        return sum(self.evict(model_id) for model_id in idle)

    def checkpoint_all(self) -> int:
        """Writes a checkpoint of every live detector (shutdown); they stay usable."""
        return self._checkpoint_live(only_changed=False)

    def checkpoint_changed(self) -> int:
        """Writes a checkpoint of every live detector that changed since its last one."""
        return self._checkpoint_live(only_changed=True)

    def _checkpoint_live(self, only_changed: bool) -> int:
        with self._lock:
            items = list(self._live.items())
        written = 0
        for model_id, stream in items:
            if only_changed and self._saved.get(model_id) == stream.detector.revision:
                continue
            with self._id_lock(model_id):
                with self._lock:
                    if self._live.get(model_id) is not stream:
                        continue  # evicted (and checkpointed) or deleted meanwhile
                try:
                    # The revision is read with the state: a later point re-dirties it.
                    revision, state = stream.read(lambda d: (d.revision, d.checkpoint_state()))
                    self._write(model_id, stream.detector.config, state)
                    self._saved[model_id] = revision
                    written += 1
                except Exception:
                    log.exception("stream checkpoint failed", stream=model_id)
        return written

    # -- management -------------------------------------------------------------------------

    def stats(self, model_id: str) -> DetectorStats:
        """Stats of a live detector, or of a checkpointed one (read from its header only).

        Raises:
            NotFound: No such stream.
        """
        check_name(model_id, "stream id")
        stream = self.peek(model_id)
        if stream is not None:
            return self._live_stats(stream)
        header = self._header(model_id)
        if header is None:
            raise NotFound(f"stream detector {model_id!r} not found")
        return msgspec.structs.replace(header.stats, live=False, checkpointed_at=header.created)

    @staticmethod
    def _live_stats(stream: LiveStream) -> DetectorStats:
        stats = stream.read(lambda detector: detector.stats())
        return msgspec.structs.replace(
            stats, live=True, idle_s=round(time.monotonic() - stream.last_used, 3))

    def _header(self, model_id: str) -> checkpoint.CheckpointHeader | None:
        key = checkpoint.checkpoint_key(model_id)
        size = checkpoint.HEADER_PROBE
        while True:
            with storage_errors(f"reading stream checkpoint {model_id}"):
                try:
                    head = self.storage.get_range(key, 0, size)
                except KeyError:
                    return None
            try:
                return checkpoint.read_header(self._codec, head, model_id)
            except IndexError as exc:
                size = int(exc.args[0])

    def list(self) -> list[DetectorStats | UnreadableStream]:
        """Every live detector, then every checkpointed one not in memory, by id."""
        with self._lock:
            live = list(self._live.items())
        rows: dict[str, DetectorStats | UnreadableStream] = {
            model_id: self._live_stats(stream) for model_id, stream in live}
        with storage_errors("listing stream checkpoints"):
            keys = [info.key for info in self.storage.list(checkpoint.PREFIX)]
        for key in keys:
            model_id = checkpoint.model_id_of(key)
            if model_id is None or model_id in rows:
                continue
            try:
                rows[model_id] = self.stats(model_id)
            except (NotFound, InvalidInput):
                continue
            except Exception as exc:  # noqa: BLE001 - one bad checkpoint must not hide the rest
                rows[model_id] = UnreadableStream(model_id=model_id, error=str(exc))
        return [rows[k] for k in sorted(rows)]

    def reset(self, model_id: str) -> StreamingAnomalyDetector:
        """Resets a detector to cold start (restoring it first if it is checkpointed).

        Raises:
            NotFound: No such stream.
        """
        check_name(model_id, "stream id")
        for _ in range(5):
            stream = self.live(model_id) or self._load(model_id, None)
            try:
                stream.run(lambda detector: detector.reset())
            except DetectorClosed:
                continue
            return stream.detector
        raise Conflict(f"stream {model_id!r} is being evicted and restored concurrently; retry")

    def delete(self, model_id: str) -> None:
        """Removes a detector's checkpoint from storage, then the detector from memory.

        In that order, so a storage failure (a 503) leaves the stream as it was, live; the other
        way round, its next request would restore the older checkpoint and lose the points since.
        Checkpoint writes hold the same id lock, so none can bring the deleted one back.

        Raises:
            NotFound: Neither exists.
        """
        key = checkpoint.checkpoint_key(model_id)
        with self._id_lock(model_id):
            with storage_errors(f"deleting stream checkpoint {model_id}"):
                stored = self.storage.delete(key)
            with self._lock:
                stream = self._live.pop(model_id, None)
            self._saved.pop(model_id, None)
            if stream is not None:
                with stream.lock:
                    stream.closed = True
                    stream.detector.close()
        if stream is None and not stored:
            raise NotFound(f"stream detector {model_id!r} not found")

    def __len__(self) -> int:
        return len(self._live)

    def describe(self) -> dict[str, Any]:
        """Limits, counters and where retrains run (part of ``GET /stream/detectors``)."""
        executor = self.executor
        return {
            "live_detectors": len(self._live), "max_detectors": self.max_detectors,
            "idle_timeout_s": self.idle_timeout_s, "evictions": self.evictions,
            "restores": self.restores, "checkpoints_written": self.checkpoints,
            "retrains": {
                "mode": getattr(executor, "mode", type(executor).__name__),
                "workers": getattr(executor, "workers", None),
                "processes_ready": getattr(executor, "processes_ready", None),
            },
        }
