"""Raw scores → the published ``score`` and ``is_anomaly`` of a stream's points.

Two ways, chosen by the stream's configuration:

* with a post-processor (the time-series pipeline's ``episode``, or ``likelihood``), the score
  is the post-processor's, which keeps state over the stream's raw scores in arrival order; the
  threshold is the configured one, or the post-processor's for ``contamination``;
* without, the score is the model's standardised raw score and the threshold the model's own
  (learned from its training scores, like the batch API's), as streams always had.

``is_anomaly`` is ``score > threshold`` either way. Scoring a point without learning it
(``score_one``) only peeks at the post-processor; processing it updates it.
"""

from __future__ import annotations

import copy

import numpy as np

from anomd.postprocessors import Postprocessor
from anomd.streaming.training import LiveModel


class Judge:
    """Publishes scores for one stream.

    Args:
        post: The stream's post-processor state, or None.
        contamination: The configured expected share of anomalies.
        threshold: A fixed threshold on the score scale, or None.
    """

    __slots__ = ("contamination", "fixed", "post")

    def __init__(self, post: Postprocessor | None, contamination: float, threshold: float | None) -> None:
        self.post = post
        self.contamination = contamination
        self.fixed = threshold

    def threshold(self, model: LiveModel | None) -> float | None:
        """The threshold in force with ``model`` (None before the first fit, if not fixed)."""
        if self.fixed is not None:
            return self.fixed
        if self.post is not None:
            return self.post.threshold(self.contamination)
        return model.threshold if model is not None else None

    def one(self, model: LiveModel, raw: float, update: bool) -> tuple[float, bool]:
        """Score and flag of one raw score; ``update`` moves the post-processor past it."""
        post = self.post
        if post is None:
            return model.judge(raw)
        score = post.update(raw) if update else post.peek(raw)
        return score, score > self.threshold(model)  # type: ignore[operator]

    def many(self, model: LiveModel, raws: np.ndarray, update: bool) -> tuple[np.ndarray, np.ndarray]:
        """Scores and flags of raw scores in arrival order (``update``: as :meth:`one` does)."""
        post = self.post
        if post is None:
            return model.judge_many(raws)
        if not update:
            post = copy.deepcopy(post)  # a pure look ahead: what these points would get
        scores = post.update_many(raws)
        return scores, scores > self.threshold(model)  # type: ignore[operator]
