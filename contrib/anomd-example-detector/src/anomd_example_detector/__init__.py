"""anomd-example-detector: a third-party anomd detector to copy when writing your own.

The plugin is :mod:`anomd_example_detector.robust_zscore`, which anomd finds through the
``anomd`` entry-point group declared in this distribution's ``pyproject.toml``.
"""
