"""The surprise detector's step floor: how far past its range a stream's own value must go to
count is measured in the steps the stream ordinarily takes, not in the spread of its level.

These tests hold the running sum of steps to a recomputation, check that the floor sharpens the
records of a smooth stream while leaving white noise as it was, that features derived by
transforms keep the spread floor, and that models pickled before the floor existed load with the
behaviour they were fitted with.
"""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

from anomd import StreamingAnomalyDetector
from anomd.timeseries.timestamps import iso
from anomd_builtins.detectors._tail_window import TailWindow
from anomd_builtins.detectors.surprise import SurpriseDetector, SurpriseParams

START = 1709251200.0  # 2024-03-01T00:00:00Z


@pytest.mark.parametrize("capacity", [2, 50, 1000])
def test_the_running_sum_of_steps_equals_a_recount(capacity: int) -> None:
    rng = np.random.default_rng(capacity)
    values = np.cumsum(rng.normal(size=3 * capacity + 17)) * 1e3  # large values: rounding would show
    window = TailWindow(capacity, step=1.5)
    for i, v in enumerate(values.tolist()):
        window.add(v)
        kept = values[max(0, i + 1 - capacity) : i + 1]
        expected = np.abs(np.diff(kept)).mean() if kept.size > 1 else 0.0
        assert window.mean_step() == pytest.approx(expected, rel=1e-9, abs=1e-9)
    built = TailWindow.of(values, capacity, 20, 0.1, 2, 1.5)
    assert built.mean_step() == pytest.approx(window.mean_step(), rel=1e-12)


def _record_surprise(values: np.ndarray, step: float, floor: float, past: float) -> float:
    window = TailWindow.of(values, len(values), 20, floor, 30, step)
    return window.surprise(float(values.max()) + past)


def test_a_smooth_stream_records_count_against_its_own_movement() -> None:
    """A slow swing with a little noise ranges widely but moves little from point to point; a
    value past its maximum by a sixth of its 5-95 % spread is a real departure for it. Half the
    spread as the floor calls that ordinary; the step floor (here its tenth-of-the-spread guard,
    far above 1.5 of its tiny steps) does not."""
    rng = np.random.default_rng(7)
    swing = 10.0 * np.sin(np.arange(1000) / 80.0) + rng.normal(0.0, 0.1, size=1000)
    ordered = np.sort(swing)
    past = (ordered[949] - ordered[49]) / 6
    spread_only = _record_surprise(swing, 0.0, 0.5, past)
    stepped = _record_surprise(swing, 1.5, 0.1, past)
    edge = math.log(1001 / 2)
    assert spread_only - edge < 0.4
    assert stepped - edge > 1.5


def test_on_white_noise_the_two_floors_agree() -> None:
    """1.5 mean steps of white noise is 0.5 times its 5-95 % spread: the default floor did not
    change for streams whose every point is independent."""
    rng = np.random.default_rng(8)
    noise = rng.normal(size=1000)
    edge = math.log(1001 / 2)
    for past in (0.5, 1.0, 3.0):
        spread_only = _record_surprise(noise, 0.0, 0.5, past) - edge
        stepped = _record_surprise(noise, 1.5, 0.1, past) - edge
        assert stepped == pytest.approx(spread_only, rel=0.1)


def test_derived_features_keep_the_spread_floor() -> None:
    rng = np.random.default_rng(9)
    X = np.column_stack([rng.normal(size=600), np.cumsum(rng.normal(0.0, 0.1, size=600))])
    params = SurpriseParams()
    told = SurpriseDetector(params, 0.01)
    told.set_inputs(1)
    told.fit(X)
    assert [(w.step, w.floor) for w in told.windows_] == [(params.step_floor, params.flat_floor), (0.0, params.tail_floor)]
    # Batch use: rows have no order to take steps along, so every feature keeps the spread.
    untold = SurpriseDetector(params, 0.01).fit(X)
    assert [(w.step, w.floor) for w in untold.windows_] == [(0.0, params.tail_floor)] * 2
    both = SurpriseDetector(params, 0.01)
    both.set_inputs(2)
    both.fit(X)
    assert [w.step for w in both.windows_] == [params.step_floor] * 2
    off = SurpriseDetector(SurpriseParams(step_floor=0.0), 0.01)
    off.set_inputs(2)
    off.fit(X)
    assert [(w.step, w.floor) for w in off.windows_] == [(0.0, params.tail_floor)] * 2
    # The smooth second column's record a twentieth of its spread out: surprising only where it
    # is one of the stream's own values.
    ordered = np.sort(X[:, 1])
    row = [float(np.median(X[:, 0])), float(ordered[-1] + (ordered[569] - ordered[29]) / 20)]
    assert both.score_row(row) > told.score_row(row) + 0.2


def test_a_window_pickled_before_the_floor_loads_as_it_was_fitted() -> None:
    rng = np.random.default_rng(10)
    values = np.cumsum(rng.normal(size=400))
    old = TailWindow.of(values, 300, 20, 0.5, 30)
    _, slots = old.__getstate__()
    state = (None, {k: v for k, v in slots.items() if k not in ("step", "steps")})
    loaded = TailWindow.__new__(TailWindow)
    loaded.__setstate__(state)
    assert loaded.step == 0.0
    assert loaded.mean_step() == pytest.approx(old.mean_step())
    for v in (values.max() + 1.0, values.min() - 5.0, float(np.median(values))):
        assert loaded.surprise(v) == old.surprise(v)
    loaded.add(1.0)
    assert len(loaded) == 300
    again = pickle.loads(pickle.dumps(loaded))
    assert (again.step, again.steps, list(again.order)) == (loaded.step, loaded.steps, list(loaded.order))


def test_a_series_stream_tells_the_detector_which_features_are_its_own() -> None:
    rng = np.random.default_rng(11)
    detector = StreamingAnomalyDetector("step-floor")
    points = [{"timestamp": iso(START + 60.0 * i), "value": float(v)} for i, v in enumerate(rng.normal(size=600))]
    detector.process_many(points)
    model = detector._model.detector
    assert model.inputs_ == 1
    assert model.windows_[0].step == SurpriseParams().step_floor
    assert all(w.step == 0.0 for w in model.windows_[1:])
    assert len(model.windows_) == len(detector.stats().features) == 5


def test_a_window_pickled_before_the_ring_was_circular_loads_in_order() -> None:
    """Before, the arrival-order copy kept a consumed prefix (``start`` values already out of
    the window) and dropped it once a lap; such a state loads as the window it was."""
    from array import array

    rng = np.random.default_rng(12)
    kept = rng.normal(size=300)
    consumed = rng.normal(size=120)
    state = (None, {"capacity": 300, "k": 20, "floor": 0.1, "minimum": 30, "step": 1.5,
                    "ring": array("d", np.concatenate((consumed, kept)).tobytes()), "start": 120,
                    "order": array("d", np.sort(kept).tobytes()), "steps": float(np.abs(np.diff(kept)).sum())})
    loaded = TailWindow.__new__(TailWindow)
    loaded.__setstate__(state)
    fresh = TailWindow.of(kept, 300, 20, 0.1, 30, 1.5)
    assert list(loaded.ring) == list(kept) and loaded.head == 0
    for v in rng.normal(size=450).tolist():  # past a lap of the circular ring
        loaded.add(v)
        fresh.add(v)
        assert loaded.mean_step() == fresh.mean_step()
        assert list(loaded.order) == list(fresh.order) and len(loaded) == 300
    assert len(loaded.ring) == 300  # full: overwritten in place, never longer
