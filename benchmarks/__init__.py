"""anomd's benchmarks: speed and accuracy against raw PyOD, and the service's HTTP overhead.

Run from the repository root: ``python -m benchmarks <command> [options]`` (``--help`` lists
the commands). Shared helpers for new benchmark modules live in :mod:`benchmarks.common`.
"""
