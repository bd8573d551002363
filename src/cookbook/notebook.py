"""Small helpers a notebook calls at its top: resolve its output folder, describe the setup."""

from __future__ import annotations

import os
from pathlib import Path

from cookbook.config import load_config


def output_dir(value: str | os.PathLike | None, chapter: str, config: dict | None = None) -> Path:
    """Resolve a notebook's ``OUTPUT_DIR`` parameter and create the folder.

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
    return path


def check_source(value: str) -> str:
    """Validate a ``DATA_SOURCE`` parameter."""
    if value not in ("synthetic", "real"):
        raise ValueError(f"DATA_SOURCE must be 'synthetic' or 'real', got {value!r}")
    return value
