"""``python -m anomd`` runs the CLI."""

import sys

from anomd.cli import main

sys.exit(main())
