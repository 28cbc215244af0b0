"""Configuration, error reporting and registration of the S3 plugin."""

from __future__ import annotations

import json
import socket
import time

import pytest
from anomd_s3.config import parse_s3_uri, public_endpoint, resolve
from anomd_s3.errors import BucketNotFound, S3StorageError
from anomd_s3.storage import SPEC, S3Storage, open_s3
from anomd_s3.testing import ACCESS_KEY_ID, SECRET_ACCESS_KEY, LocalS3

from anomd.plugins import PluginHost
from anomd.registry import Registry
from anomd.settings import ConfigError
from anomd.storage_config import open_storage


@pytest.mark.parametrize(
    ("uri", "bucket", "prefix"),
    [
        ("s3://models", "models", ""),
        ("s3://models/", "models", ""),
        ("s3://models/team/anomd", "models", "team/anomd"),
        ("s3://models/team/anomd/", "models", "team/anomd"),
    ],
)
def test_uri_gives_bucket_and_prefix(uri: str, bucket: str, prefix: str) -> None:
    location = parse_s3_uri(uri)
    assert (location.bucket, location.prefix) == (bucket, prefix)


@pytest.mark.parametrize(
    "uri", ["s3://", "file:///tmp/x", "s3://b/a//c", "s3://b/../x", "s3://b/p?region=x"]
)
def test_bad_uris_are_refused(uri: str) -> None:
    with pytest.raises(ValueError):
        parse_s3_uri(uri)


def test_storage_options_win_over_the_environment() -> None:
    env = {
        "AWS_ENDPOINT_URL": "http://env-endpoint:9000",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ALLOW_HTTP": "true",
        "AWS_ACCESS_KEY_ID": "env-key",
    }
    setup = resolve(
        "s3://b/p", {"endpoint_url": "https://options-endpoint", "region": "ap-south-1"}, env
    )
    assert setup.endpoint == "https://options-endpoint"
    assert setup.region == "ap-south-1"
    assert setup.config["endpoint"] == "https://options-endpoint"  # boto3 spelling accepted
    assert setup.credentials == "environment"


def test_the_aws_variables_are_used_when_options_are_empty() -> None:
    env = {
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9000",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ALLOW_HTTP": "TRUE",
        "AWS_ACCESS_KEY_ID": "k",
        "AWS_SECRET_ACCESS_KEY": "s",
    }
    setup = resolve("s3://b", {}, env)
    assert (setup.endpoint, setup.region, setup.credentials) == (
        "http://127.0.0.1:9000",
        "eu-west-1",
        "environment",
    )
    assert setup.client_options["allow_http"] is True


def test_plain_http_endpoint_needs_allow_http() -> None:
    with pytest.raises(ValueError, match="AWS_ALLOW_HTTP"):
        resolve("s3://b", {}, {"AWS_ENDPOINT_URL": "http://127.0.0.1:9000"})
    # ... and through the core, the operator gets a configuration error, not a crash.
    registry: Registry = Registry("storage backend")
    registry.add("s3", SPEC, "anomd-s3")
    with pytest.raises(ConfigError, match="plain http"):
        open_storage("s3://b", {"endpoint": "http://127.0.0.1:9000"}, registry)


def test_unknown_option_is_refused_with_its_name() -> None:
    with pytest.raises(ValueError, match="endpiont"):
        open_s3("s3://b", {"endpiont": "https://x"})


def test_endpoint_user_info_is_never_shown() -> None:
    assert public_endpoint("https://user:pa55@minio.local:9000/") == "https://minio.local:9000/"


def test_describe_shows_where_and_never_the_credentials(s3: LocalS3) -> None:
    store = open_s3(f"s3://{s3.create_bucket('described')}/team", s3.options())
    description = store.describe()
    assert description["backend"] == "s3"
    assert description["uri"] == "s3://described/team"
    assert description["endpoint"] == s3.endpoint
    assert description["credentials"] == "storage_options"
    text = json.dumps(description)
    assert SECRET_ACCESS_KEY not in text and ACCESS_KEY_ID not in text


def test_location_is_an_s3_uri(s3: LocalS3) -> None:
    assert (
        open_s3("s3://bkt/p", s3.options()).location("models/a_ecod.joblib")
        == "s3://bkt/p/models/a_ecod.joblib"
    )
    assert (
        open_s3("s3://bkt", s3.options()).location("models/a_ecod.joblib")
        == "s3://bkt/models/a_ecod.joblib"
    )


def test_a_missing_bucket_is_an_error_not_a_missing_model(s3: LocalS3) -> None:
    store = open_s3("s3://no-such-bucket-here", s3.options())
    for call in (
        lambda: store.head("models/a_ecod.joblib"),
        lambda: store.get("models/a_ecod.joblib"),
        lambda: store.put("models/a_ecod.joblib", b"x"),
        lambda: list(store.list("models/")),
        lambda: store.delete("models/a_ecod.joblib"),
    ):
        with pytest.raises(BucketNotFound, match="no-such-bucket-here"):
            call()


def test_an_unreachable_endpoint_fails_fast_with_a_short_message() -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    store = open_s3(
        "s3://bkt",
        {
            "endpoint": f"http://127.0.0.1:{port}",
            "allow_http": True,
            "access_key_id": "k",
            "secret_access_key": "s",
            "max_retries": 1,
        },
    )
    started = time.monotonic()
    with pytest.raises(S3StorageError) as caught:
        store.head("models/a_ecod.joblib")
    assert time.monotonic() - started < 15
    message = str(caught.value)
    assert f"127.0.0.1:{port}" in message and "Debug source" not in message and "\n" not in message


def test_prefixes_keep_deployments_apart(s3: LocalS3) -> None:
    bucket = s3.create_bucket()
    team_a = open_s3(f"s3://{bucket}/team-a", s3.options())
    team_ab = open_s3(f"s3://{bucket}/team-ab", s3.options())
    team_a.put("models/m_ecod.joblib", b"a")
    assert team_ab.head("models/m_ecod.joblib") is None
    assert list(team_ab.list()) == []
    assert [o.key for o in team_a.list()] == ["models/m_ecod.joblib"]


def test_the_plugin_registers_through_the_entry_point() -> None:
    host = PluginHost(strict=True)
    assert host.storage.get("s3") is SPEC
    record = next(r for r in host.report() if "storage:s3" in r.provides)
    assert record.distribution == "anomd-s3"


def test_open_storage_selects_s3_by_scheme(s3: LocalS3) -> None:
    host = PluginHost(strict=True)
    store = open_storage(f"s3://{s3.create_bucket()}/x", s3.options(), host.storage)
    assert isinstance(store, S3Storage)
    store.put("k", b"v")
    assert store.get("k") == b"v"
