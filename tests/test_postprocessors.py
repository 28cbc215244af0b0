"""Score post-processors: the contract, the built-ins' behaviour, and their place in a stream."""

from __future__ import annotations

import math

import msgspec
import numpy as np
import pytest

from anomd import StreamingAnomalyDetector
from anomd.errors import InvalidInput, NotFound
from anomd.plugins import PluginHost
from anomd.postprocessors import PostprocessorSpec, score_of_surprise, threshold_of
from anomd.streaming import InlineExecutor
from anomd.testing import check_postprocessor
from anomd.testing.postprocessor_contract import CHECKS


@pytest.fixture(scope="module")
def host() -> PluginHost:
    return PluginHost()


@pytest.mark.parametrize(("name", "options"), [("episode", None), ("episode", {"half_life": 3}),
                                              ("likelihood", None), ("likelihood", {"short": 1, "long": 40, "learn": 10})])
def test_builtins_pass_the_contract(host: PluginHost, name: str, options) -> None:
    assert check_postprocessor(host.postprocessors.get(name), options=options).passed == list(CHECKS)


class _Opts(msgspec.Struct, forbid_unknown_fields=True):
    pass


class _Leaky:
    """Broken on purpose: peek moves the state, scores run past 1."""

    def __init__(self, options) -> None:
        self.n = 0

    def peek(self, raw):
        self.n += 1
        return raw * self.n

    update = peek

    def update_many(self, raws):
        return np.array([self.update(r) for r in raws])

    def threshold(self, contamination):
        return contamination


def test_broken_postprocessors_are_caught_by_name() -> None:
    spec = PostprocessorSpec(id="leaky", description="broken", options=_Opts, build=_Leaky)
    with pytest.raises(AssertionError) as err:
        check_postprocessor(spec)
    message = str(err.value)
    for check in ("peek", "range", "threshold"):
        assert f"- {check}:" in message
    assert "- deterministic:" not in message


def test_the_published_scale_is_one_scale() -> None:
    assert score_of_surprise(math.log(1000)) == pytest.approx(0.3) == threshold_of(1e-3)
    assert score_of_surprise(math.log(1e5)) == pytest.approx(0.5) and score_of_surprise(1e9) == 1.0
    assert threshold_of(0.01) == pytest.approx(0.2) and score_of_surprise(-3.0) == 0.0


def test_episode_alerts_once_per_incident_and_again_after_quiet(host: PluginHost) -> None:
    spec = host.postprocessors.get("episode")
    post = spec.build(spec.parse_options({"half_life": 10}))
    surprise = np.full(200, 1.0)
    surprise[50:60] = 12.0  # one incident: ten surprising points
    surprise[55] = 15.0  # its worst moment
    surprise[150] = 12.0  # a second incident, long after
    scores = post.update_many(surprise)
    alerted = np.flatnonzero(scores > threshold_of(0.01)).tolist()
    assert alerted == [50, 55, 150]  # the first and the worst point of the first, then the second
    assert scores[50] == pytest.approx(score_of_surprise(12.0))


def test_an_absurd_surprise_does_not_silence_the_episode_gate_for_thousands_of_points(host: PluginHost) -> None:
    # A feature constant for hundreds of points and then not gets a surprise of ~1e19 nats; the
    # gate's reference is capped where the published score saturates, so an incident a few
    # half-lives later alerts again (uncapped, it would wait ~60 half-lives).
    spec = host.postprocessors.get("episode")
    post = spec.build(spec.parse_options({"half_life": 10}))
    surprise = np.full(300, 1.0)
    surprise[20] = 1e19
    surprise[120] = 12.0  # ten half-lives later
    scores = post.update_many(surprise)
    assert scores[20] == 1.0
    assert scores[120] == pytest.approx(score_of_surprise(12.0)) and scores[120] > threshold_of(0.01)


def test_likelihood_ignores_routine_noise_and_catches_a_burst_on_a_quiet_stream(host: PluginHost) -> None:
    spec = host.postprocessors.get("likelihood")
    rng = np.random.default_rng(3)
    noisy = rng.exponential(5.0, size=3000)  # raw scores that are always all over the place
    quiet = rng.exponential(0.1, size=3000)
    quiet[2000:2010] += 3.0  # a burst of moderately high raw scores
    bar = threshold_of(1e-4)
    noisy_scores = spec.build(spec.parse_options({})).update_many(noisy)
    quiet_scores = spec.build(spec.parse_options({})).update_many(quiet)
    assert (noisy_scores > bar).mean() < 0.005
    assert (quiet_scores[2000:2010] > bar).any() and (quiet_scores[:2000] > bar).mean() < 0.005
    assert (quiet_scores[:99] == 0.0).all()  # learning


def test_a_stream_publishes_the_postprocessor_score_and_keeps_its_state(host: PluginHost) -> None:
    rng = np.random.default_rng(4)
    points = [{"a": v} for v in rng.normal(size=800).tolist()]
    points[600] = {"a": 25.0}
    config = {"min_samples": 30, "retrain_interval": 50, "postprocessor": {"postprocessor": "likelihood", "short": 1}}
    detector = StreamingAnomalyDetector("post", executor=InlineExecutor(), **config)
    out = detector.process_many(points[:500])
    assert detector.pipeline == "tabular" and detector.get_stats()["postprocessor"]["postprocessor"] == "likelihood"
    assert detector.threshold_in_force == threshold_of(0.1)  # the post-processor's, for contamination
    scored = out.score[out.scored]
    assert ((scored >= 0.0) & (scored <= 1.0)).all() and (out.flag == (out.score > out.thresholds)).all()
    twin = StreamingAnomalyDetector("post", executor=InlineExecutor(), **config)
    twin.restore_state(detector.checkpoint_state())
    probe = detector.score_one(points[500])
    assert twin.score_one(points[500]) == probe and detector.score_one(points[500]) == probe  # pure
    a, b = detector.process_many(points[500:]), twin.process_many(points[500:])
    np.testing.assert_array_equal(a.score, b.score)
    assert a.flag[100] and a.score[100] > 0.5  # the spike, at point 600


def test_score_one_then_learn_one_equals_process_with_a_postprocessor() -> None:
    points = [{"a": v} for v in np.random.default_rng(5).normal(size=300).tolist()]
    config = {"min_samples": 20, "retrain_interval": 40, "retrain_lag": 5, "postprocessor": {"postprocessor": "episode"},
              "backend": "surprise"}
    whole = StreamingAnomalyDetector("w", executor=InlineExecutor(), **config)
    halves = StreamingAnomalyDetector("h", executor=InlineExecutor(), **config)
    for point in points:
        combined = whole.process(point)
        if halves.model_version:
            assert halves.score_one(point).score == combined.score
        halves.learn_one(point)
    assert whole.get_stats()["anomalies_detected"] >= 0 and whole.model_version == halves.model_version


def test_bad_postprocessor_requests_are_named() -> None:
    with pytest.raises(NotFound, match="unknown postprocessor 'smooth'; available: none, episode, likelihood"):
        StreamingAnomalyDetector("x", postprocessor={"postprocessor": "smooth"})
    with pytest.raises(InvalidInput, match="invalid options for postprocessor 'likelihood'"):
        StreamingAnomalyDetector("x", postprocessor={"postprocessor": "likelihood", "shrt": 3})
    with pytest.raises(InvalidInput, match="short .* must not exceed long"):
        StreamingAnomalyDetector("x", postprocessor={"postprocessor": "likelihood", "short": 50, "long": 20})
    with pytest.raises(InvalidInput, match='"postprocessor" name'):
        StreamingAnomalyDetector("x", postprocessor={"half_life": 3})


def test_the_documented_example_passes_the_contract(tmp_path, monkeypatch) -> None:
    """docs/plugins-postprocessors.md's example, as a module of its own (so it pickles)."""
    import importlib
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parent.parent / "docs" / "plugins-postprocessors.md").read_text()
    (tmp_path / "record_postprocessor.py").write_text(re.search(r"```python\n(.*?)```", doc, re.DOTALL).group(1))
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("record_postprocessor")
    assert check_postprocessor(module.SPEC).passed == list(CHECKS)
