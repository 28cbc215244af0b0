"""``anomd models``: list, inspect and delete stored models, in-process (no server needed).

It opens the storage the configuration names, exactly as the server would, so it sees (and
changes) the same models a running server serves.
"""

from __future__ import annotations

import argparse

from anomd.commands.common import (
    add_command,
    add_config_option,
    add_data_dir_option,
    print_json,
    settings_from,
)
from anomd.commands.tables import human_bytes, render_table


def register(sub: argparse._SubParsersAction) -> None:
    parser = add_command(
        sub,
        "models",
        help="list, show or delete stored models",
        description="Manage the models in the configured storage (the same ones the server uses).",
        epilog=(
            "examples:\n"
            "  anomd models list\n"
            "  anomd models show fraud-detector_ecod.joblib\n"
            "  anomd models delete fraud-detector_ecod.joblib --data-dir /var/lib/anomd"
        ),
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    listing = add_command(
        actions,
        "list",
        help="one line per stored model",
        description="List the stored models with their size and creation time.",
    )
    listing.add_argument("--json", action="store_true", help="print the records as JSON")
    listing.set_defaults(run=run_list)

    show = add_command(
        actions,
        "show",
        help="everything known about one model",
        description="Print a model's manifest as JSON (it is never unpickled).",
    )
    show.add_argument(
        "filename", metavar="FILENAME", help="<model>_<backend>.joblib, as `models list` shows"
    )
    show.set_defaults(run=run_show)

    remove = add_command(
        actions, "delete", help="delete one model", description="Delete a model from the storage."
    )
    remove.add_argument(
        "filename", metavar="FILENAME", help="<model>_<backend>.joblib, as `models list` shows"
    )
    remove.set_defaults(run=run_delete)

    for action in (listing, show, remove):
        add_data_dir_option(action)
        add_config_option(action)


def _service(args: argparse.Namespace):
    from anomd.service import AnomalyService

    return AnomalyService(settings_from(args))


def run_list(args: argparse.Namespace) -> int:
    service = _service(args)
    try:
        models = service.list_models()
        where = service.storage.describe()
    finally:
        service.close()
    if args.json:
        print_json(models)
        return 0
    if not models:
        print(f"no models in {_where(where)}")
        return 0
    rows = [
        (
            m.filename,
            m.name or "?",
            m.backend or "?",
            m.samples_fitted or "",
            human_bytes(m.size_bytes),
            m.created or m.error or "",
        )
        for m in models
    ]
    print(render_table(("FILENAME", "NAME", "BACKEND", "ROWS", "SIZE", "CREATED"), rows))
    return 0


def run_show(args: argparse.Namespace) -> int:
    service = _service(args)
    try:
        print_json(service.model_info(args.filename))
    finally:
        service.close()
    return 0


def run_delete(args: argparse.Namespace) -> int:
    service = _service(args)
    try:
        service.delete_model(args.filename)
    finally:
        service.close()
    print(f"deleted {args.filename}")
    return 0


def _where(described: dict) -> str:
    return str(described.get("root") or described.get("uri") or described.get("backend"))
