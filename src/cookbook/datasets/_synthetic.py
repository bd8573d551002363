"""Where the seeded synthetic datasets live, and when to (re)generate them."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cookbook.config import load_config
from cookbook.io import write_json

PARAMS_FILE = "_generator.json"
SOURCES = ("synthetic", "real")


def check_source(source: str) -> str:
    """Validate a ``DATA_SOURCE`` value: ``"synthetic"`` or ``"real"``."""
    if source not in SOURCES:
        raise ValueError(f"DATA_SOURCE must be 'synthetic' or 'real', got {source!r}")
    return source


def synthetic_dir(dataset: str, params: dict[str, Any], config: dict | None = None) -> Path:
    """``<data.cache_dir>/synthetic/<dataset>/<slug>``; the slug spells out the parameters."""
    slug = "_".join(f"{k}-{v}" for k, v in sorted(params.items())) or "default"
    slug = "".join(c if c.isalnum() or c in "-_." else "-" for c in slug)
    return Path((config or load_config())["data"]["cache_dir"]) / "synthetic" / dataset / slug


def ensure_generated(
    dataset: str,
    params: dict[str, Any],
    generate: Callable[..., Any],
    config: dict | None = None,
    version: int = 1,
) -> Path:
    """Run ``generate(folder, **params)`` unless ``folder`` already holds that generation.

    ``version`` is the generator's version: bump it when the generator changes so that cached
    files are regenerated. A generation counts as complete only once its parameter file is
    written, last and atomically, so an interrupted generation is simply redone.
    """
    folder = synthetic_dir(dataset, params, config)
    marker = folder / PARAMS_FILE
    recorded = {"params": params, "version": version}
    if marker.is_file():
        try:
            if json.loads(marker.read_text()) == json.loads(json.dumps(recorded)):
                return folder
        except json.JSONDecodeError:
            pass
        marker.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    generate(folder, **params)
    write_json(marker, recorded)
    return folder
