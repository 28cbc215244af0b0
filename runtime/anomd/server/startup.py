"""Checks and one log line at start-up, so a misconfiguration is seen before it bites.

The effective configuration is logged once per server process (secrets masked, as ``anomd
config show`` prints it), with the memory budget the process derived from the machine.

Then the checks. Each names the setting that fixes it; each is a loud warning, and with
``strict_startup = true`` any of them refuses the start instead:

- remote storage (anything but a local folder) signed with a key generated on this machine:
  a second server on the same bucket generates its own key and then refuses every model the
  first one stored (409 "signed with another key"), and the first refuses the second's.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import structlog

from anomd import admission
from anomd.redaction import masked
from anomd.settings import ConfigError, Settings
from anomd.signing_key import KEY_FILE

log = structlog.get_logger("anomd.startup")


def findings(settings: Settings) -> list[str]:
    """What is wrong with this configuration for a server, one sentence each."""
    problems = []
    storage = settings.storage_uri()
    if urlsplit(storage).scheme not in ("", "file") and not settings.secret_key:
        problems.append(
            f"storage {storage} is shared, but secret_key is not set: models are signed with a "
            f"key generated on this machine ({settings.data_dir}/{KEY_FILE}), so another server "
            "on the same store cannot load them (409) and this one cannot load theirs. Set "
            "the same secret_key (ANOMD_SECRET_KEY) on every server that uses this store."
        )
    return problems


def check_startup(settings: Settings) -> list[str]:
    """Logs the effective configuration once and the findings as warnings; run before the
    service is built, so a refused start leaves nothing behind (no generated key).

    Returns:
        The findings (empty when all is well).

    Raises:
        ConfigError: ``strict_startup`` is on and there is a finding.
    """
    log.info("configuration", settings=masked(settings),
             effective_max_request_memory_mb=admission.limit_mb(settings.max_request_memory_mb))
    problems = findings(settings)
    for problem in problems:
        log.warning("start-up check failed", problem=problem,
                    refuse_with="strict_startup = true (ANOMD_STRICT_STARTUP=true)")
    refuse_if_strict(settings, problems)
    return problems


def refuse_if_strict(settings: Settings, problems: list[str] | None = None) -> None:
    """Raises ConfigError when ``strict_startup`` is on and a check fails (``anomd serve``
    calls it before starting worker processes, so the refusal is said once)."""
    problems = findings(settings) if problems is None else problems
    if problems and settings.strict_startup:
        raise ConfigError("strict_startup is on and a start-up check failed: " + " ".join(problems))
