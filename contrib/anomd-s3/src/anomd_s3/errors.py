"""Short, actionable errors from obstore's long ones.

obstore appends a multi-line debug dump to every message; the core shows a storage failure to
the client as a 503 with the message as its detail, so only the first, human part is kept.
S3 also reports a missing bucket as "404 Not Found", which obstore raises as the same
``NotFoundError`` as a missing key; it must not be mistaken for "no such model".
"""

from __future__ import annotations

_MAX_DETAIL = 300


class S3StorageError(OSError):
    """The S3 endpoint failed or refused a request (the core answers 503)."""


class BucketNotFound(S3StorageError):
    """The configured bucket does not exist on the endpoint."""


def summary(exc: BaseException) -> str:
    """The first line of an obstore error, shortened."""
    text = str(exc).split("\n\nDebug source:", 1)[0].strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    first = first.split("<?xml", 1)[0].rstrip(": ")
    if "<Code>" in text:  # keep S3's own error code, it says more than the HTTP status
        code = text.split("<Code>", 1)[1].split("</Code>", 1)[0]
        first = f"{first} [{code}]"
    return first if len(first) <= _MAX_DETAIL else first[: _MAX_DETAIL - 3] + "..."


def is_body_error(exc: BaseException) -> bool:
    """The answer started but its body broke off (a dropped connection mid-transfer)."""
    return "body error" in str(exc)


def is_missing_bucket(exc: BaseException) -> bool:
    return "NoSuchBucket" in str(exc)


def translate(exc: BaseException, bucket: str, endpoint: str | None) -> S3StorageError:
    """An obstore failure as an error that names the bucket and what went wrong."""
    where = endpoint or "AWS S3"
    if is_missing_bucket(exc):
        return BucketNotFound(
            f"bucket {bucket!r} does not exist on {where} (create it, or fix ANOMD_STORAGE)"
        )
    return S3StorageError(f"S3 request to {where} failed: {summary(exc)}")
