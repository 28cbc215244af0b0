"""Job records and cancel marks, kept by anomd's Storage plugin next to the models.

Records are small JSON objects (``jobs/<id>.json``), each written with one atomic ``put``, so a
reader never sees half a record, whichever process wrote it. A cancel request is a separate
object (``jobs/<id>.cancel``): the workers of a job look for it between files, and any server
process can write it, including one that is not running the job.
"""

from __future__ import annotations

import re

import msgspec

from anomd.errors import InvalidInput
from anomd.jobs.records import JobRecord
from anomd.model_store import storage_errors
from anomd.storage import Storage

PREFIX = "jobs/"
_RECORD = ".json"
_CANCEL = ".cancel"
_ID = re.compile(r"[0-9A-Za-z][0-9A-Za-z-]{0,63}")
_decoder = msgspec.json.Decoder(JobRecord)


def check_job_id(job_id: str) -> str:
    if not _ID.fullmatch(job_id):
        raise InvalidInput(f"invalid job id {job_id!r}: ids look like 20261204T153012-5f1c9a2e")
    return job_id


class JobStore:
    """Reads and writes job records in one :class:`Storage`."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    def save(self, record: JobRecord) -> None:
        with storage_errors(f"saving job {record.id}"):
            self.storage.put(PREFIX + record.id + _RECORD, msgspec.json.encode(record))

    def get(self, job_id: str) -> JobRecord | None:
        key = PREFIX + check_job_id(job_id) + _RECORD
        try:
            with storage_errors(f"reading job {job_id}"):
                return _decoder.decode(self.storage.get(key))
        except KeyError:
            return None

    def list(self) -> list[JobRecord]:
        """Every record, newest first; records another version cannot read are skipped."""
        with storage_errors("listing jobs"):
            keys = [o.key for o in self.storage.list(PREFIX) if o.key.endswith(_RECORD)]
        records = []
        for key in keys:
            try:
                with storage_errors(f"reading {key}"):
                    records.append(_decoder.decode(self.storage.get(key)))
            except (KeyError, msgspec.DecodeError):
                continue  # deleted meanwhile, or not a record
        return sorted(records, key=lambda r: r.timings.created, reverse=True)

    def request_cancel(self, job_id: str) -> None:
        with storage_errors(f"cancelling job {job_id}"):
            self.storage.put(PREFIX + check_job_id(job_id) + _CANCEL, b"cancel")

    def cancel_requested(self, job_id: str) -> bool:
        with storage_errors(f"reading job {job_id}"):
            return self.storage.exists(PREFIX + job_id + _CANCEL)

    def clear_cancel(self, job_id: str) -> None:
        with storage_errors(f"cleaning up job {job_id}"):
            self.storage.delete(PREFIX + job_id + _CANCEL)
