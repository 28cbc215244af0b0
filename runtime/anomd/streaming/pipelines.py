"""The two default pipelines of a stream, and how a stream gets one.

A stream created with nothing but its id gets a pipeline chosen by its first point:

* **series**, when the point carries a timestamp. Sensor readings and service metrics are time
  series, and their anomalies are surprises *for the moment they happen*: a spike, a level
  shift, a flat afternoon where there is usually a ramp, a slow drift of the recent mean. The
  features are the value, its seasonal residual (against the median of the same phase in the
  last 3 cycles, the period found from the data) and its means over the last 4, 16 and 64
  points; the ``surprise`` detector scores each against its own last 1,000 values (a feature
  still partial at the stream's start, such as a 64-point mean of three points, is left out
  until it is whole) and learns every point;
  the ``episode`` post-processor publishes ``-log10(p) / 10`` once per incident. The score means
  the same on every stream: 0.2 is "one in a hundred", 0.3 "one in a thousand". Why each part is
  there, and what it scores on NAB and elsewhere: docs/timeseries.md.
* **tabular**, otherwise: rows without an order that matters beyond recency, the batch
  detectors (``ecod`` by default) refitted every 100 points on the last 1,000, and the batch
  API's standardised score and learned threshold.

Every field a client sets wins over the pipeline's default, so a series stream can use another
detector, and a tabular one the ``likelihood`` post-processor. The choice is made once and then
fixed, like the rest of the configuration.
"""

from __future__ import annotations

from typing import Any

import msgspec

from anomd.streaming.config import StreamConfig

#: Defaults of each pipeline for the fields a client may leave out (None in StreamConfig).
DEFAULTS: dict[str, dict[str, Any]] = {
    "series": {
        "backend": "surprise",
        "min_samples": 30,
        # A refit every 500 points re-finds the period on the window; between refits the
        # detector learns every point by itself. The refit is applied at once (a few ms on a
        # window of 1,000): a new rhythm found 500 points late costs 5 NAB points.
        "retrain_interval": 500,
        "retrain_lag": 0,
        "contamination": 0.01,
        # Periods up to 500 points: daily cycles sampled every 3 minutes or slower, weekly ones
        # every 20 minutes or slower. Three cycles of a longer period would need more history
        # than the window (and refits that cost more) for rhythms rarely that long.
        "transforms": [
            {"transform": "seasonal", "cycles": 3, "tolerance": 1, "max_period": 500},
            # Recent means at three time scales, a factor 4 apart around 16 points: a shift
            # that lasts a few points, an hour or an afternoon (docs/timeseries.md).
            {"transform": "rolling", "windows": [4, 16, 64], "stats": ["mean"]},
        ],
        "postprocessor": {"postprocessor": "episode"},
    },
    "tabular": {
        "backend": "ecod",
        "min_samples": 50,
        "retrain_interval": 100,
        "retrain_lag": None,
        "contamination": 0.1,
        "transforms": [],
        "postprocessor": {"postprocessor": "none"},
    },
}


def settle(config: StreamConfig, timed: bool) -> StreamConfig:
    """``config`` with its pipeline chosen (``series`` iff ``timed`` when ``auto``) and every
    field a client left out filled in from that pipeline.

    Raises:
        InvalidInput: The filled-in configuration is inconsistent (``min_samples`` over
            ``window_size``, say).
    """
    pipeline = config.pipeline if config.settled else ("series" if timed else "tabular")
    defaults = DEFAULTS[pipeline]
    filled = {
        name: defaults[name] if getattr(config, name) is None else getattr(config, name)
        for name in defaults
    }
    return msgspec.structs.replace(config, pipeline=pipeline, **filled).check()
