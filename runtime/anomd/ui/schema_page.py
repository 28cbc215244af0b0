"""``/schema`` rendered by Redoc from this server alone.

Litestar's Redoc page loads the Redoc bundle from a CDN, Google Fonts and a favicon from GitHub
by default, so on a host without internet access the API docs were a blank page. Here the
bundle is the vendored one (``static/vendor/redoc``, served at ``/schema/static``), fonts are
the system's, and the favicon is an empty data URL (no request at all).
"""

from __future__ import annotations

from litestar.openapi.plugins import RedocRenderPlugin

#: Where :func:`anomd.ui.routes.schema_asset_routes` serves the bundle.
REDOC_JS = "/schema/static/redoc.standalone.js"
_NO_FAVICON = "<link rel='icon' href='data:,'>"


def offline_redoc() -> RedocRenderPlugin:
    return RedocRenderPlugin(js_url=REDOC_JS, google_fonts=False, favicon=_NO_FAVICON)
