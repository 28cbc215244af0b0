"""Domain errors that carry their HTTP meaning.

The runtime raises these instead of generic exceptions so that one table in the server maps every
failure to the right status, and Python callers get the same clear message the HTTP API gives.
"""

from __future__ import annotations


class AnomdError(Exception):
    """Base class: a failure the caller can act on, with the HTTP status it maps to."""

    status_code: int = 400
    title: str = "Bad request"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    @property
    def headers(self) -> dict[str, str]:
        """HTTP headers the answer carries (``Retry-After`` for the temporary failures)."""
        return {}


class InvalidInput(AnomdError):
    """The request is well-formed JSON but its content cannot be used (422)."""

    status_code = 422
    title = "Invalid input"


class NotFound(AnomdError):
    """An unknown model, backend, detector or plugin (404)."""

    status_code = 404
    title = "Not found"


class Conflict(AnomdError):
    """The request clashes with the current state of a resource (409)."""

    status_code = 409
    title = "Conflict"


class BackendUnavailable(AnomdError):
    """A registered backend whose optional dependency is not installed (422).

    It is a client-side problem in the sense that the caller asked for something this server
    cannot do; the detail carries the install hint for the operator.
    """

    status_code = 422
    title = "Backend unavailable"


class BackendDisabled(AnomdError):
    """A backend the operator did not allow in the configuration (403)."""

    status_code = 403
    title = "Backend disabled"


class ArtifactRejected(AnomdError):
    """A stored model failed its integrity or signature check and was not unpickled (409)."""

    status_code = 409
    title = "Model artifact rejected"


class StorageUnavailable(AnomdError):
    """The storage backend cannot be reached, or kept failing after its retries (503).

    The storage plugin has already retried with backoff, so the client is told to wait a
    little before trying again rather than at once.
    """

    status_code = 503
    title = "Storage unavailable"
    retry_after = 5

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class Overloaded(AnomdError):
    """Requests in progress hold too much of the server's memory budget for this one (503).

    Attributes:
        retry_after: Seconds after which a retry has a fair chance (sent as ``Retry-After``).
    """

    status_code = 503
    title = "Service unavailable"

    def __init__(self, detail: str, retry_after: int = 1) -> None:
        super().__init__(detail)
        self.retry_after = retry_after

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class PluginError(Exception):
    """Plugin loading or registration went wrong (start-up time, not a request error)."""


class TooLarge(AnomdError):
    """A request over a configured size limit (413)."""

    status_code = 413
    title = "Request too large"
