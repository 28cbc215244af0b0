"""The ``anomd`` command line."""

from __future__ import annotations

import argparse
import sys

from anomd.settings import ConfigError, load_settings


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from anomd.server.app import create_app

    settings = load_settings(args.config, host=args.host, port=args.port, data_dir=args.data_dir)
    app = create_app(settings)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning", access_log=False)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="anomd", description="anomd: an anomaly-detection runtime (HTTP server and tools)."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the HTTP server",
                           description="Run the HTTP API (default 127.0.0.1:8000, storage in ./.anomd).")
    serve.add_argument("--host", help="interface to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default 8000)")
    serve.add_argument("--data-dir", help="local data folder for models and the signing key (default .anomd)")
    serve.add_argument("--config", help="TOML configuration file (default $ANOMD_CONFIG)")
    serve.set_defaults(run=_serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except ConfigError as exc:
        print(f"anomd: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
