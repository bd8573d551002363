"""``python -m cookbook.datasets``: see :mod:`cookbook.datasets.cli`."""

from cookbook.datasets.cli import main

raise SystemExit(main())
