"""When the dashboard is served.

The page shows every stream's data and offers to delete models, so it follows the API's own
exposure rule (:func:`anomd.server.auth.check_exposure`) one step more cautiously: on a loopback
bind it is on, as the whole API is open to this machine anyway; on a reachable interface it is
on only once API keys are configured, so that its data routes need a read key and deleting
needs an admin key. ``allow_unauthenticated`` (a proxy authenticates) is not enough on its own:
the operator says ``ui = "on"`` for that case.
"""

from __future__ import annotations

from anomd.server.auth import is_loopback
from anomd.settings import Settings


def ui_enabled(settings: Settings) -> bool:
    if settings.ui == "off":
        return False
    if settings.ui == "on":
        return True
    return bool(settings.admin_keys or settings.read_keys) or is_loopback(settings.host)
