"""Time series as first-class data: timestamps, periods, and the pieces that use them.

A field named ``timestamp`` (``timestamp_field``) is never a feature: it orders and spaces the
points and feeds time-aware transforms. See ``docs/timeseries.md``.
"""
