"""The ``anomd`` command line: server, backends, plugins, one-shot detection, models, config.

Each subcommand lives in its own module under :mod:`anomd.commands`. This module assembles
them and owns the one rule they share: an expected failure (bad configuration, unknown
backend, unreadable file...) prints ``anomd: <message>`` on stderr and exits with status 2,
never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from anomd.commands import COMMAND_MODULES
from anomd.commands.common import UsageError
from anomd.errors import AnomdError, PluginError
from anomd.settings import ConfigError

#: Exit status for expected failures (also argparse's status for usage errors).
EXIT_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="anomd",
        description="anomd: an anomaly-detection runtime (HTTP server and tools).",
        epilog=(
            "Run `anomd COMMAND --help` for a command's options. Configuration comes from a TOML "
            "file (--config or $ANOMD_CONFIG) and ANOMD_* environment variables; see "
            "`anomd config show` and docs/configuration.md."
        ),
    )
    from anomd.versions import anomd_version

    parser.add_argument("--version", action="version", version=f"anomd {anomd_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"anomd.commands.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (ConfigError, UsageError, PluginError) as exc:
        return _fail(str(exc))
    except AnomdError as exc:
        return _fail(exc.detail)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `anomd detect big.csv | head`: the reader left, which is not worth a message. Point
        # stdout at /dev/null so the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _fail(message: str) -> int:
    print(f"anomd: {message}", file=sys.stderr)
    return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
