"""Turning ``s3://bucket/prefix``, ``storage_options`` and the AWS variables into a client setup.

Precedence is the one operators expect from AWS tools: values in anomd's own configuration
(``storage_options`` in the TOML file or ``ANOMD_STORAGE_OPTIONS``) win over the standard
``AWS_*`` environment variables, which win over obstore's defaults. obstore reads the S3
variables (``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
``AWS_DEFAULT_REGION``...) itself; this module only reads what it must pass explicitly (the
HTTP-client settings, which an explicit ``client_options`` would otherwise override) and what
``/health`` shows.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlparse, urlunparse

#: Keys of ``storage_options`` that configure the HTTP client rather than S3 itself.
CLIENT_KEYS = frozenset(
    {
        "allow_http",
        "allow_invalid_certificates",
        "connect_timeout",
        "timeout",
        "read_timeout",
        "pool_idle_timeout",
        "proxy_url",
        "proxy_ca_certificate",
        "proxy_excludes",
        "root_certificate",
        "user_agent",
    }
)
#: Keys of ``storage_options`` that configure retries (seconds for the timeout).
RETRY_KEYS = frozenset({"max_retries", "retry_timeout"})
#: anomd's spelling of a few S3 keys, for people used to boto3's parameter names.
ALIASES = {
    "endpoint_url": "endpoint",
    "aws_access_key_id": "access_key_id",
    "aws_secret_access_key": "secret_access_key",
    "aws_session_token": "session_token",
    "region_name": "region",
}
#: Options whose values must never be shown.
SECRET_KEYS = frozenset({"secret_access_key", "session_token", "sse_customer_key_base64"})

# A store that cannot be reached should become a 503 in seconds, not after obstore's default
# three minutes of retries; operators can raise these.
DEFAULT_CONNECT_TIMEOUT = "5s"
DEFAULT_MAX_RETRIES = 3
DEFAULT_RETRY_TIMEOUT_S = 20.0
#: Backoff between retries: exponential (x2) from 100 ms, at most 5 s, each wait drawn at
#: random below its ceiling ("jitter"), so clients throttled together do not retry together.
BACKOFF = {"init_backoff": timedelta(milliseconds=100), "max_backoff": timedelta(seconds=5),
           "base": 2}

_TRUE = {"1", "true", "yes", "on"}
_ENDPOINT_VARS = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_ENDPOINT")
_REGION_VARS = ("AWS_REGION", "AWS_DEFAULT_REGION")


@dataclass(frozen=True)
class S3Location:
    """Where models live: a bucket and an optional key prefix inside it."""

    bucket: str
    prefix: str

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"


@dataclass(frozen=True)
class S3Setup:
    """Everything needed to build an obstore ``S3Store``, plus a secret-free summary.

    Attributes:
        location: Bucket and prefix.
        config: S3 settings for obstore (may hold credentials; never shown).
        client_options: HTTP-client settings.
        retry_config: Retry settings.
        endpoint: The endpoint in use without any user-info, or None for AWS itself.
        region: The configured region, if any.
        credentials: Where credentials come from (``storage_options``, ``environment`` or
            ``default chain``), never the values.
    """

    location: S3Location
    config: dict[str, Any]
    client_options: dict[str, Any]
    retry_config: dict[str, Any]
    endpoint: str | None
    region: str | None
    credentials: str


def parse_s3_uri(uri: str) -> S3Location:
    """``s3://bucket/some/prefix`` → bucket ``bucket``, prefix ``some/prefix``.

    Raises:
        ValueError: Not an ``s3://`` URI, or no bucket.
    """
    parsed = urlparse(uri)
    if parsed.scheme != "s3":
        raise ValueError(f"not an s3:// URI: {uri!r}")
    if not parsed.netloc:
        raise ValueError(f"no bucket in {uri!r}; expected s3://bucket or s3://bucket/prefix")
    if parsed.query or parsed.fragment:
        raise ValueError(f"{uri!r}: put S3 settings in storage_options, not in the URI")
    prefix = parsed.path.strip("/")
    if "//" in prefix or any(part in {".", ".."} for part in prefix.split("/")):
        raise ValueError(f"{uri!r}: the prefix must not contain empty, '.' or '..' segments")
    return S3Location(bucket=parsed.netloc, prefix=prefix)


def _flag(value: Any) -> bool:
    return value if isinstance(value, bool) else str(value).strip().lower() in _TRUE


def _first(env: Mapping[str, str], names: tuple[str, ...]) -> str | None:
    return next((env[name] for name in names if env.get(name)), None)


def public_endpoint(endpoint: str | None) -> str | None:
    """The endpoint without ``user:password@``, so it is safe to show."""
    if not endpoint:
        return None
    parsed = urlparse(endpoint)
    host = parsed.hostname or ""
    netloc = f"{host}:{parsed.port}" if parsed.port else host
    return urlunparse(parsed._replace(netloc=netloc))


def resolve(uri: str, options: Mapping[str, Any], env: Mapping[str, str] | None = None) -> S3Setup:
    """Combines the URI, anomd's ``storage_options`` and the environment.

    Raises:
        ValueError: A bad URI, a bad option value, or a plain-http endpoint without
            ``allow_http`` (obstore would otherwise fail later with an opaque "builder error").
    """
    env = os.environ if env is None else env
    location = parse_s3_uri(uri)
    config: dict[str, Any] = {}
    client: dict[str, Any] = {"connect_timeout": DEFAULT_CONNECT_TIMEOUT}
    retry: dict[str, Any] = {}
    for raw_key, value in options.items():
        key = ALIASES.get(raw_key, raw_key)
        if key in ("bucket", "prefix"):
            raise ValueError(f"storage option {raw_key!r}: give the bucket and prefix in the URI")
        if key in CLIENT_KEYS:
            client[key] = value
        elif key in RETRY_KEYS:
            retry[key] = value
        else:
            config[key] = value  # obstore validates S3 keys and names unknown ones
    client["allow_http"] = _flag(client.get("allow_http", env.get("AWS_ALLOW_HTTP", "false")))
    if "allow_invalid_certificates" in client:
        client["allow_invalid_certificates"] = _flag(client["allow_invalid_certificates"])
    elif env.get("AWS_ALLOW_INVALID_CERTIFICATES"):
        client["allow_invalid_certificates"] = _flag(env["AWS_ALLOW_INVALID_CERTIFICATES"])

    try:
        retry_config = {
            "max_retries": int(retry.get("max_retries", DEFAULT_MAX_RETRIES)),
            "retry_timeout": timedelta(
                seconds=float(retry.get("retry_timeout", DEFAULT_RETRY_TIMEOUT_S))
            ),
            "backoff": dict(BACKOFF),
        }
    except (TypeError, ValueError):
        raise ValueError(
            "storage options max_retries and retry_timeout (seconds) must be numbers"
        ) from None

    endpoint = config.get("endpoint") or _first(env, _ENDPOINT_VARS)
    if endpoint and urlparse(str(endpoint)).scheme == "http" and not client["allow_http"]:
        raise ValueError(
            f"endpoint {public_endpoint(str(endpoint))} is plain http; set AWS_ALLOW_HTTP=true "
            "(or storage_options allow_http = true) to allow unencrypted connections"
        )
    region = config.get("region") or config.get("default_region") or _first(env, _REGION_VARS)
    if config.get("access_key_id"):
        credentials = "storage_options"
    elif env.get("AWS_ACCESS_KEY_ID"):
        credentials = "environment"
    elif _flag(config.get("skip_signature", env.get("AWS_SKIP_SIGNATURE", "false"))):
        credentials = "anonymous"
    else:
        credentials = "default chain (web identity, container or instance role)"
    return S3Setup(
        location=location,
        config=config,
        client_options=client,
        retry_config=retry_config,
        endpoint=public_endpoint(str(endpoint)) if endpoint else None,
        region=str(region) if region else None,
        credentials=credentials,
    )
