"""The hooks a plugin can implement: the public API for plugin authors.

A plugin is a module (or any object) exposed through the ``anomd`` entry-point group. It
implements one or more of the hooks below with ``@anomd.hookimpl``. Each hook receives a
``register`` callback; calling it adds one thing to a registry. Registration is attributed to
the plugin that made it, so a duplicate id names both plugins.

Example::

    import anomd

    @anomd.hookimpl
    def register_detectors(register):
        register(MY_DETECTOR_SPEC)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from anomd.detectors import DetectorSpec
    from anomd.postprocessors import PostprocessorSpec
    from anomd.storage import StorageSpec
    from anomd.transforms import TransformSpec

PROJECT = "anomd"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_detectors(register: Callable[[DetectorSpec], None]) -> None:
    """Register anomaly detectors (batch and streaming backends).

    Args:
        register: Call once per detector with a :class:`anomd.detectors.DetectorSpec`. Its
            ``id`` is what clients send as ``backend``; it must be unique across all plugins.
    """


@hookspec
def register_storage(register: Callable[[StorageSpec], None]) -> None:
    """Register storage backends that move model artifacts and checkpoints as bytes.

    Args:
        register: Call once per backend with a :class:`anomd.storage.StorageSpec`. Its
            ``scheme`` is the URI scheme operators configure (``file``, ``s3``, ...).
    """


@hookspec
def register_transforms(register: Callable[[TransformSpec], None]) -> None:
    """Register streaming feature transforms (rolling statistics, lags, differences...).

    A transform emits Polars expressions that build feature columns from a stream's raw
    columns; the same expressions build the training matrix of every retrain, so they must be
    causal (a row's features never depend on later rows). See :mod:`anomd.transforms`.

    Args:
        register: Call once per transform with a :class:`anomd.transforms.TransformSpec`. Its
            ``id`` is what clients name in ``transforms``; it must be unique across all plugins.
    """


@hookspec
def register_postprocessors(register: Callable[[PostprocessorSpec], None]) -> None:
    """Register score post-processors: a stream's raw scores in, its published ``score`` out.

    A post-processor sees a stream's raw scores in arrival order and may keep state between
    them (their recent distribution, the last alert); it makes ``score`` mean the same on every
    stream. See :mod:`anomd.postprocessors`.

    Args:
        register: Call once per post-processor with a
            :class:`anomd.postprocessors.PostprocessorSpec`. Its ``id`` is what clients name in
            ``postprocessor``; it must be unique across all plugins.
    """
