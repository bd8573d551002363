"""Where the seeded synthetic datasets live, and when to (re)generate them."""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cookbook.config import load_config
from cookbook.datasets._fetch import sha256_of
from cookbook.io import write_json

_log = logging.getLogger(__name__)

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


def _generated_files(folder: Path) -> list[Path]:
    """The files a generator wrote into ``folder`` (not the marker, not temporary files)."""
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and p.name != PARAMS_FILE and not p.name.endswith(".part")
    )


# Files whose sha256 matched the manifest in this process: path -> (size, mtime_ns) then.
_VERIFIED: dict[str, tuple[int, int]] = {}


def _manifest(folder: Path) -> dict[str, dict[str, Any]]:
    """``{relative path: {"size", "sha256"}}`` of every generated file."""
    files = {}
    for path in _generated_files(folder):
        stat = path.stat()
        files[path.relative_to(folder).as_posix()] = {
            "size": stat.st_size,
            "sha256": sha256_of(path),
        }
        _VERIFIED[str(path)] = (stat.st_size, stat.st_mtime_ns)
    return files


def changed_files(folder: str | Path, files: dict[str, dict[str, Any]]) -> list[str]:
    """The files of a manifest that are missing or differ now, each with what differs.

    Sizes are compared always; the sha256 once per process for each file (again only when the
    file's size or modification time changes), so repeated ``prepare`` calls stay cheap.
    """
    folder = Path(folder)
    changed = []
    for rel, expected in files.items():
        path = folder / rel
        try:
            stat = path.stat()
        except FileNotFoundError:
            changed.append(f"{rel} is missing")
            continue
        if stat.st_size != expected.get("size"):
            changed.append(f"{rel} has {stat.st_size:,} bytes, not {expected.get('size'):,}")
            continue
        stamp = (stat.st_size, stat.st_mtime_ns)
        if _VERIFIED.get(str(path)) == stamp:
            continue
        if sha256_of(path) != expected.get("sha256"):
            changed.append(f"{rel}'s sha256 differs")
            continue
        _VERIFIED[str(path)] = stamp
    return changed


def ensure_generated(
    dataset: str,
    params: dict[str, Any],
    generate: Callable[..., Any],
    config: dict | None = None,
    version: int = 1,
) -> Path:
    """Run ``generate(folder, **params)`` unless ``folder`` already holds that generation, intact.

    ``version`` is the generator's version: bump it when the generator changes so that cached
    files are regenerated. A generation counts as complete only once its parameter file
    (``_generator.json``) is written, last and atomically, so an interrupted generation is
    simply redone. That file also records the size and sha256 of every file the generator
    wrote; before the cache is served they are checked (sizes every time, hashes once per
    process and file while its size and modification time stay the same: at most one read
    of the dataset per process, a fraction of a second per 100 MB). A missing,
    truncated or altered file makes the whole generation run again, with a warning naming it.
    """
    folder = synthetic_dir(dataset, params, config)
    marker = folder / PARAMS_FILE
    recorded = json.loads(json.dumps({"params": params, "version": version}))
    if marker.is_file():
        try:
            previous = json.loads(marker.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            previous = None
        same = isinstance(previous, dict) and all(previous.get(k) == v for k, v in recorded.items())
        files = previous.get("files") if same else None
        if same and isinstance(files, dict) and files:
            changed = changed_files(folder, files)
            if not changed:
                return folder
            warnings.warn(
                f"{folder}: the cached synthetic {dataset} files changed since they were "
                f"generated ({'; '.join(changed[:5])}{' ...' if len(changed) > 5 else ''}); "
                "generating them again",
                stacklevel=3,
            )
        elif same:
            _log.info("%s: no checksums recorded (an older cache): generating again", folder)
        marker.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    generate(folder, **params)
    write_json(marker, {**recorded, "files": _manifest(folder)})
    return folder
