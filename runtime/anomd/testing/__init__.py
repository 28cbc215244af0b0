"""Helpers for people who write anomd plugins, and for anomd's own tests.

- :func:`check_detector` runs the detector contract against a :class:`~anomd.detectors.DetectorSpec`.
- :func:`check_transform` runs the transform contract against a :class:`~anomd.transforms.TransformSpec`.
- :func:`check_postprocessor` runs the post-processor contract against a
  :class:`~anomd.postprocessors.PostprocessorSpec`.
- :func:`running_server` starts a real server on 127.0.0.1 in a subprocess.
- :class:`StorageContract` is the pytest class a storage backend's tests subclass.
"""

from typing import Any

from anomd.testing.detector_contract import ContractReport, check_detector
from anomd.testing.server import ServerProcess, running_server, start_server

__all__ = [
    "ContractReport", "PostprocessorReport", "ServerProcess", "StorageContract", "TransformReport",
    "check_detector", "check_postprocessor", "check_transform", "running_server", "start_server",
]


def __getattr__(name: str) -> Any:
    # The contract imports pytest, which a server does not need: load it only when asked for.
    if name == "StorageContract":
        from anomd.testing.storage_contract import StorageContract

        return StorageContract
    if name in ("check_transform", "TransformReport"):
        # Lazy too: it imports Polars, which importing anomd.testing should not force.
        from anomd.testing import transform_contract

        return getattr(transform_contract, name)
    if name in ("check_postprocessor", "PostprocessorReport"):
        from anomd.testing import postprocessor_contract

        return getattr(postprocessor_contract, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
