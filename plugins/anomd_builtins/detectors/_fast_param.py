"""The ``fast_scoring`` switch shared by every backend that has a fast scoring path."""

from __future__ import annotations

from typing import Annotated

import msgspec

#: Annotated bool for a params Struct: published with this description in ``/backends``.
FastScoring = Annotated[
    bool,
    msgspec.Meta(
        description=(
            "Score with anomd's fast path (PyOD still fits). False scores with PyOD's own "
            "decision_function and stores the full PyOD estimator (the reference; slower, larger)."
        )
    ),
]
