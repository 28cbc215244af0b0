"""The HTTP server: a Litestar app over :class:`anomd.service.AnomalyService`."""

from anomd.server.app import create_app

__all__ = ["create_app"]
