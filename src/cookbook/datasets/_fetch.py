"""Getting original data files: cache -> mirror folder -> network, always checksum-verified.

Every dataset module declares a :class:`DownloadSpec`. :func:`fetch` resolves one of its files:

1. the cache, ``<data.cache_dir>/real/<dataset>/<filename>``, if its sha256 matches;
2. the mirror folder (``$COOKBOOK_DATA_MIRROR``, laid out like ``shared/data/real``), read in
   place after its sha256 is checked (originals are never copied into the project);
3. the official URL, through :mod:`pooch`: it downloads to a temporary file in the cache folder,
   checks the sha256, and only then renames the file into place.

Failures raise :class:`DatasetUnavailableError` (offline, no mirror) or
:class:`ChecksumMismatchError`, each naming the file, the URL and what to do.
"""

from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from cookbook.config import load_config
from cookbook.datasets.errors import (  # re-exported: the package's modules import them here too
    ChecksumMismatchError,
    DatasetError,
    DatasetFormatError,
    DatasetUnavailableError,
)

__all__ = [
    "ChecksumMismatchError",
    "DatasetError",
    "DatasetFormatError",
    "DatasetUnavailableError",
    "DownloadSpec",
    "RemoteFile",
    "cache_dir",
    "fetch",
    "mirror_root",
    "sha256_of",
]


@dataclass(frozen=True)
class RemoteFile:
    """One original file: where it comes from, and what it must hash to."""

    filename: str
    url: str | None
    sha256: str
    mirror_path: str  # relative to the mirror root, e.g. "uci_x/file.csv"


@dataclass(frozen=True)
class DownloadSpec:
    """How to get a dataset's original files, with provenance for the README."""

    name: str
    title: str
    homepage: str
    license: str
    files: tuple[RemoteFile, ...]
    manual_instructions: str = ""  # for sources behind a login (e.g. Kaggle)
    notes: str = ""
    extra: dict = field(default_factory=dict)

    def file(self, filename: str) -> RemoteFile:
        for rf in self.files:
            if rf.filename == filename:
                return rf
        names = ", ".join(rf.filename for rf in self.files)
        raise KeyError(f"{self.name}: no file {filename!r} in the download spec ({names})")


def sha256_of(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def mirror_root(config: dict | None = None) -> Path | None:
    """The mirror folder from ``$COOKBOOK_DATA_MIRROR`` / ``data.mirror``, or None."""
    mirror = (config or load_config())["data"].get("mirror")
    return Path(mirror).expanduser() if mirror else None


def cache_dir(dataset: str, config: dict | None = None) -> Path:
    """``<data.cache_dir>/real/<dataset>``: where downloaded originals are kept."""
    return Path((config or load_config())["data"]["cache_dir"]) / "real" / dataset


def fetch(
    spec: DownloadSpec,
    filename: str,
    config: dict | None = None,
    download: bool = True,
) -> Path:
    """Return a verified local path to ``filename`` of ``spec`` (cache -> mirror -> network)."""
    config = config or load_config()
    rf = spec.file(filename)
    cached = cache_dir(spec.name, config) / rf.filename
    if cached.is_file():
        if sha256_of(cached) == rf.sha256:
            return cached
        cached.unlink()  # stale or corrupt: fetch again

    mirror = mirror_root(config)
    tried = [f"cache: {cached} (absent)"]
    if mirror is not None:
        candidate = mirror / rf.mirror_path
        if candidate.is_file():
            actual = sha256_of(candidate)
            if actual != rf.sha256:
                raise ChecksumMismatchError(
                    f"{candidate}: sha256 is {actual}, expected {rf.sha256} "
                    f"(mirror copy of {spec.name}/{rf.filename} differs from the original)"
                )
            return candidate
        tried.append(f"mirror: {candidate} (absent)")
    else:
        tried.append("mirror: COOKBOOK_DATA_MIRROR not set")

    if not download or not rf.url:
        reason = "downloading disabled" if rf.url else "no public URL"
        raise DatasetUnavailableError(_unavailable(spec, rf, cached, tried, reason))
    return _download(spec, rf, cached, tried)


def _progress_bar(filename: str):
    """A download bar where someone is watching: a terminal, or a notebook (a tqdm widget,
    which papermill stores as one output, not a flood of carriage returns). None in CI (the
    ``CI`` variable set) or when output goes to a file."""
    if os.environ.get("CI") or not ("ipykernel" in sys.modules or sys.stderr.isatty()):
        return False
    from tqdm.auto import tqdm

    return tqdm(total=0, unit="B", unit_scale=True, desc=f"downloading {filename}", leave=True)


def _download(spec: DownloadSpec, rf: RemoteFile, target: Path, tried: list[str]) -> Path:
    import pooch

    target.parent.mkdir(parents=True, exist_ok=True)
    bar = _progress_bar(rf.filename)
    try:
        path = pooch.retrieve(
            url=rf.url,
            known_hash=f"sha256:{rf.sha256}",
            fname=rf.filename,
            path=target.parent,
            progressbar=bar,
        )
    except ValueError as exc:  # pooch: hash mismatch (the temporary file is already removed)
        if "hash" in str(exc).lower():
            raise ChecksumMismatchError(
                f"{rf.url}: downloaded file does not match sha256 {rf.sha256} "
                f"({spec.name}/{rf.filename}); nothing was kept. The file may have changed "
                f"upstream. Details: {exc}"
            ) from exc
        raise
    except Exception as exc:  # requests' connection errors, HTTP errors, timeouts
        tried.append(f"network: {rf.url} ({type(exc).__name__}: {exc})")
        message = _unavailable(spec, rf, target, tried, "download failed")
        raise DatasetUnavailableError(message) from exc
    finally:
        if bar:
            bar.close()
    return Path(path)


def _unavailable(
    spec: DownloadSpec, rf: RemoteFile, cached: Path, tried: list[str], reason: str
) -> str:
    lines = [
        f"cannot get {spec.name}/{rf.filename} ({spec.title}): {reason}.",
        "Tried:",
        *[f"  - {t}" for t in tried],
        "To fix, one of:",
        *([f"  - connect to the network so it downloads from {rf.url};"] if rf.url else []),
        f"  - put the original file at {cached};",
        f"  - set COOKBOOK_DATA_MIRROR to a folder that holds it at <mirror>/{rf.mirror_path};",
        "  - or use DATA_SOURCE='synthetic' (the embedded default).",
    ]
    if spec.manual_instructions:
        lines.append(spec.manual_instructions)
    return "\n".join(lines)
