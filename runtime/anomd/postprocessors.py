"""What a score post-processing plugin provides: raw scores in, published scores out.

A detector's raw score is on its own scale: ECOD's sum of log tail probabilities, a kNN
distance, a forest's path length. A post-processor turns a stream's raw scores, in arrival
order, into the ``score`` clients see, so that the score means the same on every stream and one
threshold works across a fleet. It may keep state between points (recent raw scores, the last
alert), which is why it sees them in order; the runtime calls it only on the streaming path and
on batch series, never on unordered rows.

The built-in ones publish on one scale: ``score = min(1, -log10(p) / 10)`` for the tail
probability ``p`` of what they observe, so 0.3 means "one in a thousand" and 0.5 "one in
100,000", whichever post-processor and stream. ``contamination`` converts to a threshold on that
scale (:meth:`Postprocessor.threshold`); ``is_anomaly`` stays ``score > threshold``.

A post-processor's state is pickled into stream checkpoints, so keep it to plain data.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import msgspec
import numpy as np

from anomd.struct_schema import inline_schema, parse_struct

#: Decades of probability the score scale spans: ``p = 10 ** (-10 * score)``.
DECADES = 10.0


def score_of_surprise(nats: float) -> float:
    """A surprise ``-ln p`` (nats) on the published scale, ``min(1, -log10(p) / 10)``."""
    return min(1.0, max(0.0, nats / (DECADES * math.log(10.0))))


def saturation_nats() -> float:
    """The surprise (nats) from which :func:`score_of_surprise` is 1: ``p = 10 ** -DECADES``."""
    return DECADES * math.log(10.0)


def threshold_of(contamination: float) -> float:
    """The published score a point needs to be flagged at tail probability ``contamination``."""
    return min(1.0, -math.log10(contamination) / DECADES)


@runtime_checkable
class Postprocessor(Protocol):
    """Turns a stream of raw scores into published scores in [0, 1], one point at a time."""

    def peek(self, raw: float) -> float:
        """The score :meth:`update` would give ``raw`` now, without changing any state."""
        ...

    def update(self, raw: float) -> float:
        """Takes the next raw score (arrival order) and returns its published score."""
        ...

    def update_many(self, raws: np.ndarray) -> np.ndarray:
        """:meth:`update` for each raw score in order (may be vectorised)."""
        ...

    def threshold(self, contamination: float) -> float:
        """The score above which a point is flagged, for ``contamination``."""
        ...


class ScoreStream:
    """A convenient base for post-processors: ``update_many`` as a loop of ``update``, the
    shared scale's threshold, and ``peek`` left to the subclass with ``update``."""

    def peek(self, raw: float) -> float:
        raise NotImplementedError

    def update(self, raw: float) -> float:
        raise NotImplementedError

    def update_many(self, raws: np.ndarray) -> np.ndarray:
        update = self.update
        return np.array([update(r) for r in raws.tolist()], dtype=np.float64)

    def threshold(self, contamination: float) -> float:
        return threshold_of(contamination)


@dataclass(frozen=True)
class PostprocessorSpec:
    """One post-processor a plugin registers.

    Attributes:
        id: What clients name in ``postprocessor`` (``{"postprocessor": "episode"}``); unique.
        description: One sentence for ``GET /v1/plugins`` and the docs.
        options: A msgspec Struct (``forbid_unknown_fields=True``) validating the options.
        build: ``build(options) -> Postprocessor``: a fresh state for one stream.
    """

    id: str
    description: str
    options: type[msgspec.Struct]
    build: Callable[[Any], Postprocessor]

    def parse_options(self, raw: dict[str, Any] | None) -> msgspec.Struct:
        """Validates options strictly.

        Raises:
            InvalidInput: Naming the post-processor and the offending option.
        """
        return parse_struct(raw, self.options, f"postprocessor {self.id!r}")

    def options_schema(self) -> dict[str, Any]:
        return inline_schema(self.options)
