"""The ``anomd`` subcommands, one module per command.

Each module exposes ``register(subparsers)``, which adds its parser and sets ``run`` (a
function taking the parsed arguments and returning the exit status). :mod:`anomd.cli` only
assembles them and turns expected failures into one-line messages.
"""

from __future__ import annotations

#: Modules under this package, in the order ``anomd --help`` lists them.
COMMAND_MODULES = ("serve", "backends", "plugins", "detect", "models", "jobs", "config", "docs")
