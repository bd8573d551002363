"""Small helpers a notebook calls at its top: its output folder, and its parameters' checks."""

from __future__ import annotations

import os
from pathlib import Path

from cookbook.config import load_config
from cookbook.datasets import check_source
from cookbook.tracking import METRICS_FILE

__all__ = ["check_source", "output_dir"]


def output_dir(value: str | os.PathLike | None, chapter: str, config: dict | None = None) -> Path:
    """Resolve a notebook's ``OUTPUT_DIR`` parameter, create the folder, and clear the results
    file a previous run left there (so no stale value survives into this run's results).

    ``None`` or ``""`` means ``<output.dir>/<chapter>``; a relative path is taken from the
    project root (not from the notebook's working directory), an absolute one as is.
    """
    config = config or load_config()
    if not value:
        path = Path(config["output"]["dir"]) / chapter
    else:
        path = Path(value).expanduser()
        if not path.is_absolute():
            path = Path(config["root"]) / path
    path.mkdir(parents=True, exist_ok=True)
    (path / METRICS_FILE).unlink(missing_ok=True)
    return path
