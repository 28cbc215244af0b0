"""``anomd serve``: run the HTTP API, in one process or several."""

from __future__ import annotations

import argparse
import os

from anomd.commands.common import add_command, add_config_option, add_data_dir_option, settings_from
from anomd.settings import Settings

FACTORY = "anomd.server.factory:app_from_env"


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def register(sub: argparse._SubParsersAction) -> None:
    parser = add_command(
        sub,
        "serve",
        help="run the HTTP server",
        description=(
            "Run the HTTP API (default 127.0.0.1:8000, models in ./.anomd). Flags override the "
            "configuration file, which ANOMD_* environment variables override in turn."
        ),
        epilog=(
            "examples:\n"
            "  anomd serve\n"
            "  anomd serve --port 9000 --data-dir /var/lib/anomd\n"
            "  anomd serve --workers 4 --config anomd.toml"
        ),
    )
    parser.add_argument("--host", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default 8000)")
    add_data_dir_option(parser)
    add_config_option(parser)
    parser.add_argument(
        "--workers",
        type=positive_int,
        default=1,
        metavar="N",
        help="server processes sharing the port and the model storage (default 1)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from anomd.logging import capture_warnings, stdlib_logging_config
    from anomd.server.auth import check_exposure
    from anomd.server.startup import refuse_if_strict

    settings = settings_from(args, host=args.host, port=args.port)
    check_exposure(settings)  # before any process starts, so the refusal is said once, clearly
    refuse_if_strict(settings)
    log_config = stdlib_logging_config(settings.log_level, settings.log_format)
    if args.workers == 1:
        from anomd.server.app import create_app

        capture_warnings()
        app = create_app(settings)
        uvicorn.run(
            app, host=settings.host, port=settings.port, log_level=None, access_log=False,  # levels: log_config
            log_config=log_config,
        )
        return 0
    _check_runtime(settings)
    _export_flags(args)
    uvicorn.run(
        FACTORY,
        factory=True,
        workers=args.workers,
        host=settings.host,
        port=settings.port,
        log_level=None,  # the levels are log_config's (uvicorn would override them)
        access_log=False,
        log_config=log_config,
    )
    return 0


def _check_runtime(settings: Settings) -> None:
    """Builds the runtime once in this process so a bad setting fails here, with a clear message.

    Otherwise each worker would crash on start-up and the process manager would keep restarting
    it. It also creates the signing key (when none is configured) before the workers race to.
    """
    from anomd.service import AnomalyService

    AnomalyService(settings).close()


def _export_flags(args: argparse.Namespace) -> None:
    """Hands the flags to the workers, which read only the file and the environment.

    Flags win over the environment in this process, so writing them into it keeps the
    precedence identical in the workers.
    """
    if args.config:
        os.environ["ANOMD_CONFIG"] = args.config
    if args.data_dir:
        os.environ["ANOMD_DATA_DIR"] = args.data_dir
    if args.host:
        os.environ["ANOMD_HOST"] = args.host
    if args.port is not None:
        os.environ["ANOMD_PORT"] = str(args.port)
