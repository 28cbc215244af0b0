"""The post-processor contract: one call a plugin author runs against their PostprocessorSpec.

A post-processor turns a stream's raw scores, in arrival order, into the published ``score``.
The runtime relies on a few promises: it is deterministic; ``peek`` (scoring a point without
learning it) changes nothing; ``update_many`` is a loop of ``update``; its state survives a
checkpoint (pickle) and continues exactly; scores are finite and in [0, 1]; a larger raw score
never gets a smaller score from the same state; and a larger ``contamination`` never raises the
threshold. :func:`check_postprocessor` checks each on raw-score streams with spikes, plateaus,
zeros and a constant stretch, and reports every broken promise by name::

    from anomd.testing import check_postprocessor
    from my_plugin import SPEC

    def test_contract():
        check_postprocessor(SPEC)
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import msgspec
import numpy as np

from anomd.postprocessors import Postprocessor, PostprocessorSpec
from anomd.testing.check_runner import ID_PATTERN, NotRun, describe, raise_failures, run_checks

CHECKS: tuple[str, ...] = (
    "metadata", "deterministic", "peek", "update_many", "checkpoint", "range", "monotone", "threshold",
)


@dataclass
class PostprocessorReport:
    """What :func:`check_postprocessor` found for one post-processor."""

    postprocessor: str
    passed: list[str] = field(default_factory=list)


def probe_raw_scores(seed: int = 0, n: int = 1500) -> np.ndarray:
    """Raw scores with what real streams have: noise, spikes, a plateau, zeros, a flat stretch."""
    rng = np.random.default_rng(seed)
    raw = rng.exponential(1.0, size=n)
    raw[300:320] = 12.0  # a sustained episode
    raw[700] = 40.0  # a lone spike
    raw[900:1000] = 0.0
    raw[1100:1200] = 2.5  # constant
    raw[1300:] *= 5.0  # a noisier regime
    return raw


class _Contract:
    def __init__(self, spec: PostprocessorSpec, options: Mapping[str, Any] | None, seed: int) -> None:
        self.spec = spec
        self.raw_options = dict(options or {})
        self.raw = probe_raw_scores(seed)
        self.report = PostprocessorReport(spec.id)
        self._options: msgspec.Struct | None = None

    def fresh(self) -> Postprocessor:
        if self._options is None:
            try:
                self._options = self.spec.parse_options(self.raw_options)
            except Exception as exc:  # noqa: BLE001
                raise NotRun(f"the options {self.raw_options!r} do not parse: {describe(exc)}") from None
        return self.spec.build(self._options)

    def run(self, post: Postprocessor, raws: np.ndarray) -> np.ndarray:
        return np.array([post.update(float(r)) for r in raws])

    def check_metadata(self) -> None:
        spec = self.spec
        problems = []
        if not isinstance(spec.id, str) or not ID_PATTERN.match(spec.id) or spec.id == "none":
            problems.append(f"id {spec.id!r} must be lower-case letters, digits and '_' (and not 'none')")
        if not isinstance(spec.description, str) or not spec.description.strip():
            problems.append("description is empty")
        if not (isinstance(spec.options, type) and issubclass(spec.options, msgspec.Struct)):
            problems.append(f"options must be a msgspec.Struct subclass, got {spec.options!r}")
        elif not spec.options.__struct_config__.forbid_unknown_fields:
            problems.append("options must forbid unknown fields (a client's typo must be refused)")
        if not callable(spec.build):
            problems.append("build is not callable")
        assert not problems, "; ".join(problems)

    def check_deterministic(self) -> None:
        a, b = self.run(self.fresh(), self.raw), self.run(self.fresh(), self.raw)
        assert np.array_equal(a, b), "two fresh states gave different scores for the same raw scores"

    def check_peek(self) -> None:
        reference = self.run(self.fresh(), self.raw)
        post = self.fresh()
        for i, r in enumerate(self.raw.tolist()):
            if i % 7 == 0:
                peeked = post.peek(r * 3.0)  # a look at another point changes nothing...
                post.peek(r * 3.0)
                assert np.isfinite(peeked), f"peek gave {peeked} at point {i}"
            seen = post.peek(r)
            got = post.update(r)
            assert got == seen, f"point {i}: peek said {seen}, update gave {got}"
            assert got == reference[i], f"point {i}: peeking changed later scores ({got} vs {reference[i]})"

    def check_update_many(self) -> None:
        reference = self.run(self.fresh(), self.raw)
        post = self.fresh()
        parts = [post.update_many(chunk) for chunk in np.array_split(self.raw, [1, 50, 51, 700, 1499])]
        got = np.concatenate(parts)
        assert np.array_equal(got, reference), (
            f"update_many differs from a loop of update at points "
            f"{np.flatnonzero(got != reference)[:5].tolist()}"
        )

    def check_checkpoint(self) -> None:
        reference = self.run(self.fresh(), self.raw)
        post = self.fresh()
        self.run(post, self.raw[:800])
        restored = pickle.loads(pickle.dumps(post))
        got = self.run(restored, self.raw[800:])
        assert np.array_equal(got, reference[800:]), "a pickled and restored state continued differently"

    def check_range(self) -> None:
        extremes = np.concatenate([self.raw, [0.0, -5.0, 1e300, 1.7e308, 1e-300, 3.0, 3.0]])
        got = self.run(self.fresh(), extremes)
        bad = np.flatnonzero(~np.isfinite(got) | (got < 0.0) | (got > 1.0))
        assert bad.size == 0, f"scores outside [0, 1] or not finite at points {bad[:5].tolist()}: {got[bad[:3]].tolist()}"

    def check_monotone(self) -> None:
        post = self.fresh()
        for i, r in enumerate(self.raw.tolist()):
            if i % 50 == 0:
                ladder = [post.peek(r + step) for step in (0.0, 0.5, 2.0, 10.0, 100.0)]
                assert all(b >= a for a, b in pairwise(ladder)), (
                    f"point {i}: a larger raw score got a smaller score {ladder}"
                )
            post.update(r)

    def check_threshold(self) -> None:
        post = self.fresh()
        levels = [post.threshold(c) for c in (0.5, 0.1, 0.01, 0.001, 1e-6)]
        assert all(0.0 <= t <= 1.0 for t in levels), f"thresholds outside [0, 1]: {levels}"
        assert all(b >= a for a, b in pairwise(levels)), (
            f"a smaller contamination gave a lower threshold: {levels}"
        )


def check_postprocessor(
    spec: PostprocessorSpec, *, options: Mapping[str, Any] | None = None, seed: int = 0
) -> PostprocessorReport:
    """Runs the post-processor contract against ``spec``; raises if any promise is broken.

    Raises:
        AssertionError: Checks failed; the message lists every one with what it saw.
        TypeError: ``spec`` is not a PostprocessorSpec.
    """
    __tracebackhide__ = True
    if not isinstance(spec, PostprocessorSpec):
        raise TypeError(f"check_postprocessor expects a PostprocessorSpec, got {type(spec).__name__}")
    contract = _Contract(spec, options, seed)
    failures = run_checks(contract, CHECKS, contract.report.passed)
    raise_failures("postprocessor", repr(spec.id), failures, CHECKS)
    return contract.report
