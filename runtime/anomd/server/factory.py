"""An import-string app factory, for servers that start the app in other processes.

``uvicorn --workers N`` spawns fresh worker processes that import the application by name, so
the app cannot be handed over as an object. Each worker builds its own app from the same
configuration (TOML file and ``ANOMD_*`` environment, which ``anomd serve`` fills in from its
flags before spawning). Running several workers is safe because every model lives in the shared
storage and each worker's cache checks the stored version before using a cached copy.

Use it directly with uvicorn::

    uvicorn --factory anomd.server.factory:app_from_env --workers 4
"""

from __future__ import annotations

from litestar import Litestar

from anomd.logging import capture_warnings
from anomd.server.app import create_app
from anomd.settings import load_settings


def app_from_env() -> Litestar:
    """Builds the app from ``$ANOMD_CONFIG`` and the ``ANOMD_*`` environment variables.

    This runs in a server's worker process, which is anomd's own: Python warnings are routed
    into the structured log here (uvicorn applies the rest of the logging config).
    """
    capture_warnings()
    return create_app(load_settings())
