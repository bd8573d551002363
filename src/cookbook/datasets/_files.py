"""Reading and writing the tabular files that several datasets share the shape of."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pandas as pd

from cookbook.datasets._fetch import DatasetFormatError
from cookbook.io import atomic_path


def read_text_table(
    path: str | Path, what: str, member: str | None = None
) -> tuple[pd.DataFrame, str]:
    """Read a CSV, or one inside a zip, with every cell as text; return ``(frame, label)``.

    Cells stay text (no NA guessing) so that a loader's error can quote a bad value as it is in
    the file. In a zip, ``member`` names the CSV (default: the first ``.csv``). ``label``
    (``file`` or ``file.zip:member``) is what error messages should name. Raises
    :class:`FileNotFoundError` (``what`` says which file) or :class:`DatasetFormatError`.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    source: Path | io.StringIO = path
    label = str(path)
    if path.suffix.lower() == ".zip":
        try:
            with zipfile.ZipFile(path) as zf:
                names = zf.namelist()
                if member is None:
                    csvs = [n for n in names if n.endswith(".csv")]
                    if not csvs:
                        raise DatasetFormatError(f"{path}: the zip holds no CSV ({names})")
                    member = csvs[0]
                elif member not in names:
                    raise DatasetFormatError(
                        f"{path}: the zip has no {member} (it holds {', '.join(names)})"
                    )
                source, label = io.StringIO(zf.read(member).decode("utf-8")), f"{path}:{member}"
        except zipfile.BadZipFile as exc:
            raise DatasetFormatError(f"{path}: not a valid zip file: {exc}") from exc
    try:
        return pd.read_csv(source, dtype=str, keep_default_na=False), label
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DatasetFormatError(f"{label}: not a readable CSV: {exc}") from exc


def write_zipped_csv(target: str | Path, member: str, text: str) -> Path:
    """Write ``text`` as ``member`` of a new zip at ``target``, atomically (temp, then rename)."""
    target = Path(target)
    with atomic_path(target) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(member, text)
    return target
