"""Where the artifact signing key comes from.

A configured key wins (several processes sharing one store must share it). Otherwise a random
key is generated once and kept, readable by its owner only, in the local data folder, so a
single-machine install is signed from the first start without any setup.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

KEY_FILE = "artifact-signing.key"


def artifact_key(configured: str, data_dir: str | os.PathLike[str]) -> bytes:
    if configured:
        return configured.encode()
    path = Path(data_dir).expanduser() / KEY_FILE
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write a private temp file, then hard-link it into place: the key file appears complete or
    # not at all, and if another process won the race its key is used.
    tmp = path.with_name(f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(secrets.token_hex(32).encode())
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_bytes().strip()
