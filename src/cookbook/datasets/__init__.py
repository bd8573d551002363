"""Dataset registry: one module per dataset, each with the same three parts.

(a) a real loader that validates the file (``load`` / ``load_wav``), raising
    :class:`DatasetFormatError` naming the file and the missing or malformed column;
(b) a download spec ``SPEC`` (official URL, file name, sha256), fetched cache -> mirror folder
    (``$COOKBOOK_DATA_MIRROR``) -> network by :func:`fetch`;
(c) a seeded synthetic generator ``generate`` writing the real format, with planted structure.

``prepare(source)`` returns the path(s) a notebook reads, for ``"synthetic"`` or ``"real"``.
"""

from __future__ import annotations

from types import ModuleType

from cookbook.datasets import (
    appliances_energy,
    nyc_taxi,
    paysim,
    speech_clips,
    stanford_cars,
    store_item_demand,
    weekly_sales,
    wsi,
)
from cookbook.datasets._fetch import (
    ChecksumMismatchError,
    DatasetError,
    DatasetFormatError,
    DatasetUnavailableError,
    DownloadSpec,
    RemoteFile,
    fetch,
    sha256_of,
)
from cookbook.datasets._synthetic import SOURCES, check_source

REGISTRY: dict[str, ModuleType] = {
    appliances_energy.NAME: appliances_energy,
    nyc_taxi.NAME: nyc_taxi,
    paysim.NAME: paysim,
    speech_clips.NAME: speech_clips,
    stanford_cars.NAME: stanford_cars,
    store_item_demand.NAME: store_item_demand,
    weekly_sales.NAME: weekly_sales,
    wsi.NAME: wsi,
}


def get(name: str) -> ModuleType:
    """The dataset module registered as ``name``."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown dataset {name!r}; known: {', '.join(sorted(REGISTRY))}") from None


__all__ = [
    "appliances_energy",
    "REGISTRY",
    "SOURCES",
    "check_source",
    "ChecksumMismatchError",
    "DatasetError",
    "DatasetFormatError",
    "DatasetUnavailableError",
    "DownloadSpec",
    "RemoteFile",
    "fetch",
    "nyc_taxi",
    "paysim",
    "get",
    "sha256_of",
    "speech_clips",
    "stanford_cars",
    "store_item_demand",
    "weekly_sales",
    "wsi",
]
