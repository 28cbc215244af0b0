"""API keys: who may call which route.

Two scopes. ``read`` covers everything that only uses models (score, detect, stream points, list
and inspect); ``admin`` adds what changes or removes them (fit, load, delete, stream reset and
delete). Liveness and readiness probes stay open because orchestrators call them without
credentials, and so do the dashboard's page and static assets (``/ui/``, ``/ui/static/...``):
they hold no data, and a browser cannot attach a key to a page it navigates to; the page's data
comes from routes that need a key like any other. A route this table does not know needs
``admin``: a new endpoint is closed until someone decides otherwise.

Keys are kept only as SHA-256 digests and a presented token is hashed, then compared with every
digest by :func:`hmac.compare_digest`, so neither the comparison's time nor a log line or memory
dump of the settings table tells an attacker how close a guess was.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from dataclasses import dataclass
from typing import Literal

import msgspec
import structlog
from litestar.types import ASGIApp, Receive, Scope, Send

from anomd.settings import ConfigError, Settings

Access = Literal["open", "read", "admin"]

log = structlog.get_logger("anomd.auth")

_OPEN_PATHS = frozenset({"/", "/health", "/ready", "/v1/ml/anomaly/health", "/v1/ml/anomaly/ready"})
_ADMIN_POSTS = frozenset({"/v1/ml/anomaly/fit", "/v1/ml/anomaly/load"})
_READ_POSTS = frozenset({"/v1/ml/anomaly/score", "/v1/ml/anomaly/detect",
                         "/v1/ml/anomaly/stream", "/v1/ml/anomaly/stream/",
                         *(f"/v1/ml/anomaly/timeseries/{op}" for op in ("entire", "last", "changepoint", "multivariate")),
                         *(f"/anomalydetector/{version}/timeseries/{op}/detect" for version in ("v1.0", "v1.1")
                           for op in ("entire", "last", "changepoint"))})
_RESET = re.compile(r"/v1/ml/anomaly/stream/[^/]+/reset/?")
#: No segment may start with a dot, so no ``..`` can lead from an open path to a guarded one.
_UI_ASSETS = re.compile(r"/ui/?|/ui/static(?:/[A-Za-z0-9_-][A-Za-z0-9_.-]*)+")
_HASHED = re.compile(r"sha256:([0-9a-fA-F]{64})")


def required_scope(method: str, path: str) -> Access:
    """The least scope a request needs (``admin`` for anything not listed)."""
    if method in ("GET", "HEAD"):
        return "open" if path in _OPEN_PATHS or _UI_ASSETS.fullmatch(path) else "read"
    if method == "OPTIONS":
        return "open"  # CORS preflights never carry credentials
    if method == "POST":
        if path in _READ_POSTS:
            return "read"
        if path in _ADMIN_POSTS or _RESET.fullmatch(path):
            return "admin"
    return "admin"


def key_digest(key: str) -> bytes:
    """The SHA-256 digest a configured key (plain or ``sha256:<hex>``) stands for."""
    hashed = _HASHED.fullmatch(key)
    if hashed:
        return bytes.fromhex(hashed.group(1))
    return hashlib.sha256(key.encode()).digest()


@dataclass(frozen=True)
class KeyTable:
    """The configured keys as digests, with the scope each one grants."""

    admin: tuple[bytes, ...]
    read: tuple[bytes, ...]

    @classmethod
    def from_settings(cls, settings: Settings) -> KeyTable:
        for key in (*settings.admin_keys, *settings.read_keys):
            if len(key) < 16 and not _HASHED.fullmatch(key):
                raise ConfigError("API keys must be at least 16 characters long (see docs/security.md)")
        return cls(tuple(key_digest(k) for k in settings.admin_keys),
                   tuple(key_digest(k) for k in settings.read_keys))

    @property
    def enabled(self) -> bool:
        return bool(self.admin or self.read)

    def grant(self, token: str) -> Access | None:
        """The scope a presented token grants, or None.

        Every digest is compared, whatever matched first, so the time taken does not depend on
        which key (if any) matched.
        """
        presented = hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()
        admin = read = False
        for digest in self.admin:
            admin |= hmac.compare_digest(presented, digest)
        for digest in self.read:
            read |= hmac.compare_digest(presented, digest)
        return "admin" if admin else "read" if read else None


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the server reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a hostname: it may resolve to anything


def check_exposure(settings: Settings) -> None:
    """Refuses to serve an open API on a reachable interface unless told it is intended.

    Raises:
        ConfigError: ``host`` is not loopback, no key is configured, and
            ``allow_unauthenticated`` is false.
    """
    keys = settings.admin_keys or settings.read_keys
    if keys or settings.allow_unauthenticated or is_loopback(settings.host):
        return
    raise ConfigError(
        f"refusing to listen on {settings.host} without API keys: anyone who can reach it could "
        "fit, overwrite and delete models. Set admin_keys (ANOMD_ADMIN_KEYS), or set "
        "allow_unauthenticated = true (ANOMD_ALLOW_UNAUTHENTICATED=true) if a proxy in front "
        "of it authenticates callers. See docs/security.md."
    )


def _bearer(scope: Scope) -> str | None:
    """The key presented: ``Authorization: Bearer <key>``, or Azure's ``Ocp-Apim-Subscription-Key``
    header, so applications written for Azure AI Anomaly Detector keep their client code."""
    subscription = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
            return None
        if name == b"ocp-apim-subscription-key" and value.strip():
            subscription = value.decode("latin-1").strip()
    return subscription


async def _refuse(send: Send, status: int, detail: str, error: str | None = None) -> None:
    """Answers 401/403 as problem details with the RFC 6750 challenge header."""
    body = msgspec.json.encode({"type": "about:blank",
                                "title": "Unauthorized" if status == 401 else "Forbidden",
                                "status": status, "detail": detail})
    challenge = 'Bearer realm="anomd"' + (f', error="{error}"' if error else "")
    await send({
        "type": "http.response.start", "status": status,
        "headers": [(b"content-type", b"application/problem+json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", challenge.encode())],
    })
    await send({"type": "http.response.body", "body": body})


def api_key_guard(app: ASGIApp, keys: KeyTable) -> ASGIApp:
    """Wraps the app so every HTTP request shows a key with the scope its route needs."""
    if not keys.enabled:
        return app

    async def guard(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        needed = required_scope(scope["method"], scope["path"])
        if needed == "open":
            await app(scope, receive, send)
            return
        token = _bearer(scope)
        granted = keys.grant(token) if token is not None else None
        if granted is None:
            reason = "no key" if token is None else "unknown key"
            log.warning("request refused", reason=reason, method=scope["method"], path=scope["path"])
            if token is None:
                await _refuse(send, 401, "an API key is required: send 'Authorization: Bearer <key>'")
            else:
                await _refuse(send, 401, "the API key is not valid", "invalid_token")
            return
        if needed == "admin" and granted != "admin":
            log.warning("request refused", reason="read-only key", method=scope["method"],
                        path=scope["path"])
            await _refuse(send, 403, f"this API key may only read; {scope['method']} {scope['path']} "
                          "needs an admin key", "insufficient_scope")
            return
        await app(scope, receive, send)

    return guard
