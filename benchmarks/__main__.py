"""``python -m benchmarks <command> [options]``: one entry point for every benchmark.

Each command is a module of this package exposing ``main(argv: list[str]) -> int``, imported
only when it runs (so a missing optional dependency of one benchmark never breaks another).
``all`` runs every command that exists with the options given to it (``--quick`` passes
through), then draws the plot from the saved results.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import time
from collections.abc import Callable, Sequence

#: Command -> (module, one-line description). Modules that are not there yet are listed as such.
COMMANDS: dict[str, tuple[str, str]] = {
    "speed": ("benchmarks.speed", "fit/score time, single-row latency in-process and over HTTP, artifact size vs raw PyOD"),
    "accuracy": ("benchmarks.accuracy", "ODDS ROC-AUC through anomd vs raw PyOD vs PyOD's published table"),
    "far_values": ("benchmarks.far_values", "one feature far beyond the training data: flagged by each backend, capped vs extrapolated tail"),
    "overhead": ("benchmarks.overhead", "/score of 10k rows over HTTP vs the in-process call"),
    "coldstart": ("benchmarks.coldstart", "first request per backend on a fresh server, warm-up on vs off"),
    "streaming": ("benchmarks.streaming", "streaming detector throughput and latency"),
    "nab": ("benchmarks.nab", "Numenta Anomaly Benchmark score of the streaming detectors"),
    "skab": ("benchmarks.skab", "SKAB valve-rig runs (held out from the series defaults) through a stream, by NAB rules"),
    "series": ("benchmarks.series", "the time-series pipeline's speed and size, next to the tabular one"),
    "azure": ("benchmarks.azure", "series routes (Azure Anomaly Detector drop-in): NAB windows, severity, MdAPE; 8,640-point speed"),
    "ui": ("benchmarks.ui", "what the dashboard's live feed costs POST /stream, in-process and over HTTP"),
    "scaling": ("benchmarks.scaling", "dataset scoring and per-group fits on a Dask LocalCluster vs one process"),
    "soak": ("benchmarks.soak", "a steady mixed load on one server for minutes: RSS, files, threads, p50/p99 over time"),
    "plot": ("benchmarks.plot", "draw benchmarks/results/benchmarks.png from the saved results"),
    "markdown": ("benchmarks.markdown", "print the saved results as markdown tables (for docs/backends.md)"),
}
#: What ``all`` runs, in order (the plot last, so it sees every result). ``skab`` is left out:
#: its data is not in ../shared and must be downloaded first.
ALL = ("speed", "overhead", "coldstart", "accuracy", "far_values", "streaming", "nab", "series", "azure", "ui", "plot")


def available(command: str) -> bool:
    return importlib.util.find_spec(COMMANDS[command][0]) is not None


def runner(command: str) -> Callable[[list[str]], int]:
    return importlib.import_module(COMMANDS[command][0]).main


def usage() -> str:
    lines = ["usage: python -m benchmarks <command> [options]   (<command> --help for its options)", "", "commands:"]
    for name, (_, text) in COMMANDS.items():
        lines.append(f"  {name:10s} {text}" + ("" if available(name) else "  [not installed in this checkout]"))
    lines.append(f"  {'all':10s} run {', '.join(ALL)} (those present); --quick passes through")
    return "\n".join(lines)


#: Commands that take ``--quick`` (``all --quick`` passes it to these only).
TAKES_QUICK = frozenset({"speed", "overhead", "coldstart", "accuracy", "far_values", "streaming", "nab", "series", "azure", "ui", "scaling"})


def run_all(argv: list[str]) -> int:
    """Runs every present command; a failing one is reported and the rest still run."""
    quick = "--quick" in argv
    failed = []
    for command in ALL:
        if not available(command):
            print(f"\n=== {command}: not present in this checkout, skipped")
            continue
        print(f"\n=== {command} ===", flush=True)
        started = time.perf_counter()
        try:
            code = runner(command)(["--quick"] if quick and command in TAKES_QUICK else [])
        except Exception as exc:  # noqa: BLE001 - one broken benchmark must not hide the others
            print(f"{command} failed: {type(exc).__name__}: {exc}")
            code = 1
        print(f"=== {command} finished in {time.perf_counter() - started:.0f} s (exit {code})", flush=True)
        if code:
            failed.append(command)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(usage())
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command == "all":
        return run_all(rest)
    if command not in COMMANDS:
        print(f"unknown command {command!r}\n\n{usage()}", file=sys.stderr)
        return 2
    if not available(command):
        print(f"benchmark {command!r} is not present in this checkout ({COMMANDS[command][0]})", file=sys.stderr)
        return 2
    return runner(command)(rest)


if __name__ == "__main__":
    sys.exit(main())
