"""The errors every dataset module raises (also importable from :mod:`cookbook.datasets`).

- :class:`DatasetError`: the base class of them all;
- :class:`DatasetUnavailableError`: an original file is not cached, not mirrored, and could not
  be downloaded (offline, no public URL, or downloading disabled);
- :class:`ChecksumMismatchError`: a file's sha256 differs from the one in the download spec;
- :class:`DatasetFormatError`: a file does not have the expected format, columns or values, or
  is truncated or corrupt (also a :class:`ValueError`, so that code catching bad values catches
  it too). Its message names the file (or the parameter), the row, field, line or byte where
  that helps, and what was expected; a library's own error (pandas, zipfile, zlib, scipy,
  GDAL, OpenSlide) is chained as its ``__cause__``.
"""

from __future__ import annotations

__all__ = [
    "ChecksumMismatchError",
    "DatasetError",
    "DatasetFormatError",
    "DatasetUnavailableError",
]


class DatasetError(Exception):
    """Base class for dataset problems."""


class DatasetUnavailableError(DatasetError):
    """The file is not cached, not mirrored, and could not be downloaded."""


class ChecksumMismatchError(DatasetError):
    """A file's sha256 differs from the one in the download spec."""


class DatasetFormatError(DatasetError, ValueError):
    """A file does not have the expected format, columns or values."""
