"""The datasets: one module per dataset, each with the same shape.

Every dataset module (named in :data:`DATASETS`) has:

- ``NAME``, equal to the module's name: its cache folders are ``<data.cache_dir>/real/<NAME>``
  (downloaded originals) and ``<data.cache_dir>/synthetic/<NAME>/<parameters>`` (generated);
- ``SPEC``, a :class:`DownloadSpec`: each original file's URL, sha256 and place in the mirror,
  fetched cache -> mirror folder (``$COOKBOOK_DATA_MIRROR``) -> network by :func:`fetch`;
- a real loader that validates the file (``load``, ``read_*``), raising
  :class:`DatasetFormatError` naming the file and what is wrong: a missing or malformed
  column, a value out of range or not finite, a duplicate key, a truncated file (a last row
  without its line break; a known file that stops early), invalid or implausible geometry, a
  damaged zip, bytes that are not UTF-8 (tests/test_bad_inputs.py damages a copy of every
  file each way);
- ``DEFAULTS``, the synthetic generator's parameters and their defaults (read-only), written
  once and used by both ``generate`` and ``prepare``; ``GENERATOR_VERSION``, bumped whenever
  the generator's output changes;
- ``generate(folder, **params)``: a seeded generator writing the real format, with planted
  structure (same parameters, same files); its output is cached, and the cache records every
  file's size and sha256, checked before it is served again (see
  :func:`cookbook.datasets._synthetic.ensure_generated`);
- ``prepare(source="synthetic", *, config=None, **params)``: a frozen dataclass of the paths a
  notebook reads (e.g. :class:`weekly_sales.WeeklySalesFiles`), for ``"synthetic"`` or
  ``"real"``.

The errors live in :mod:`cookbook.datasets.errors` (and are re-exported here). From a shell,
``python -m cookbook.datasets list|fetch|generate|verify`` (see :mod:`cookbook.datasets.cli`).
"""

from __future__ import annotations

from cookbook.datasets import (
    appliances_energy,
    nyc_taxi,
    paysim,
    speech_clips,
    stanford_cars,
    store_item_demand,
    synthetic_city,
    weekly_sales,
    wsi,
)
from cookbook.datasets._fetch import DownloadSpec, RemoteFile, fetch, sha256_of
from cookbook.datasets._synthetic import SOURCES, check_source
from cookbook.datasets.errors import (
    ChecksumMismatchError,
    DatasetError,
    DatasetFormatError,
    DatasetUnavailableError,
)

# The dataset modules, by name (each module's NAME): what the command line offers.
DATASETS = (
    "appliances_energy",
    "nyc_taxi",
    "paysim",
    "speech_clips",
    "stanford_cars",
    "store_item_demand",
    "weekly_sales",
    "wsi",
)

__all__ = [
    "appliances_energy",
    "DATASETS",
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
    "sha256_of",
    "speech_clips",
    "stanford_cars",
    "store_item_demand",
    "synthetic_city",
    "weekly_sales",
    "wsi",
]
