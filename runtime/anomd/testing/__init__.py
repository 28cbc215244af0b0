"""Helpers for people who write anomd plugins, and for anomd's own tests.

- :func:`check_detector` runs the detector contract against a :class:`~anomd.detectors.DetectorSpec`.
- :func:`running_server` starts a real server on 127.0.0.1 in a subprocess.
"""

from anomd.testing.server import ServerProcess, running_server, start_server

__all__ = ["ServerProcess", "running_server", "start_server"]
