"""The sliding window keeps exactly the newest rows, in order, through compactions."""

from __future__ import annotations

import numpy as np
import pytest

from anomd.streaming.window import SlidingWindow


def test_append_keeps_newest_rows_in_order_across_compactions() -> None:
    window = SlidingWindow(width=2, capacity=5, slack=3)
    rows = np.arange(60, dtype=float).reshape(30, 2)
    for i, row in enumerate(rows):
        window.append(row.tolist())
        expected = rows[max(0, i - 4) : i + 1]
        np.testing.assert_array_equal(window.rows(), expected)
        assert len(window) == len(expected)
    np.testing.assert_array_equal(window.tail(2), rows[-2:])
    np.testing.assert_array_equal(window.tail(50), rows[-5:])
    assert window.tail(0).shape == (0, 2)


def test_extend_matches_appending_one_by_one() -> None:
    rng = np.random.default_rng(0)
    one, many = SlidingWindow(3, 7, slack=2), SlidingWindow(3, 7, slack=2)
    for size in (1, 4, 9, 2, 7, 3, 20, 1):
        rows = rng.normal(size=(size, 3))
        for row in rows:
            one.append(row)
        many.extend(rows)
        np.testing.assert_array_equal(one.rows(), many.rows())


def test_snapshot_is_a_copy_and_clear_empties() -> None:
    window = SlidingWindow(1, 3)
    for v in (1.0, 2.0, 3.0):
        window.append([v])
    snap = window.snapshot()
    window.append([4.0])
    np.testing.assert_array_equal(snap[:, 0], [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(window.rows()[:, 0], [2.0, 3.0, 4.0])
    window.clear()
    assert len(window) == 0 and window.rows().shape == (0, 1)


def test_rejects_empty_shape() -> None:
    with pytest.raises(ValueError):
        SlidingWindow(0, 10)
