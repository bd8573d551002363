"""Reading and writing the tabular files that several datasets share the shape of."""

from __future__ import annotations

import codecs
import io
import zipfile
import zlib
from pathlib import Path

import pandas as pd

from cookbook.datasets.errors import DatasetFormatError
from cookbook.io import atomic_path


def decode_text(data: bytes, label: str) -> str:
    """Decode ``data`` as UTF-8 (a leading byte-order mark is dropped).

    A byte that is not UTF-8 raises :class:`DatasetFormatError` naming ``label``, the byte, its
    offset, line and column, so that the bad spot can be found in an editor.
    """
    bom = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        return data[bom:].decode("utf-8")
    except UnicodeDecodeError as exc:
        at = exc.start + bom
        line = data.count(b"\n", 0, at) + 1
        column = at - (data.rfind(b"\n", 0, at) + 1) + 1
        raise DatasetFormatError(
            f"{label}: byte 0x{data[at]:02x} at offset {at} (line {line}, column {column}) is "
            f"not UTF-8 ({exc.reason}); expected UTF-8 text: re-save the file as UTF-8 "
            "(a Latin-1 or Windows-1252 export shows this)"
        ) from exc


def read_zip_member(path: str | Path, member: str | None = None, suffix: str = ".csv"):
    """The bytes of one member of a zip, and the ``zip:member`` label errors should name.

    ``member`` names it (default: the first name ending in ``suffix``). A damaged archive (no
    central directory, a CRC mismatch, a corrupt deflate stream, an encrypted or unsupported
    member) raises :class:`DatasetFormatError` naming the archive and the member.
    """
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            if member is None:
                found = [n for n in names if n.lower().endswith(suffix)]
                if not found:
                    raise DatasetFormatError(f"{path}: the zip holds no {suffix} file ({names})")
                member = found[0]
            elif member not in names:
                raise DatasetFormatError(
                    f"{path}: the zip has no {member} (it holds {', '.join(names)})"
                )
            label = f"{path}:{member}"
            try:
                return zf.read(member), label
            except zipfile.BadZipFile as exc:
                raise DatasetFormatError(
                    f"{path}: member {member} is damaged ({exc}); the archive is corrupt or "
                    "truncated: download it again"
                ) from exc
            except (zlib.error, EOFError, OSError, RuntimeError, NotImplementedError) as exc:
                raise DatasetFormatError(
                    f"{path}: member {member} cannot be decompressed "
                    f"({type(exc).__name__}: {exc}); the archive is corrupt, truncated, "
                    "encrypted or uses an unsupported compression: download it again"
                ) from exc
    except zipfile.BadZipFile as exc:
        raise DatasetFormatError(
            f"{path}: not a valid zip file ({exc}); a truncated download looks like this"
        ) from exc


def check_ends_with_newline(text: str, label: str) -> None:
    """Raise :class:`DatasetFormatError` when ``text`` does not end with a line break.

    Every original file and every generated one ends its last row with a line break, so a
    file that does not was most likely cut off in the middle of a row (a truncated download or
    copy); its last row would otherwise be read with a value cut short.
    """
    if text and not text.endswith(("\n", "\r")):
        line = text.count("\n") + 1
        tail = text[text.rfind("\n") + 1 :][-60:]
        raise DatasetFormatError(
            f"{label}: the last line (line {line}, ending {tail!r}) has no line break: the file "
            "looks truncated in the middle of a row; expected every row, the last included, to "
            "end with a line break (if the file is complete, add one)"
        )


def check_file_ends_with_newline(path: str | Path, tail_bytes: int = 65536) -> None:
    """:func:`check_ends_with_newline` for a file too large to read whole: reads its tail only.

    For the files Spark reads: a truncated copy would otherwise reach Spark, which reads the
    cut row with its last value cut short or its last fields missing (null).
    """
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as fh:
        fh.seek(max(0, size - tail_bytes))
        tail = fh.read()
    if tail and not tail.endswith((b"\n", b"\r")):
        last = tail[tail.rfind(b"\n") + 1 :][-60:].decode("utf-8", errors="replace")
        raise DatasetFormatError(
            f"{path}: the last line (ending {last!r}, at byte {size}) has no line break: the "
            "file looks truncated in the middle of a row; expected every row, the last "
            "included, to end with a line break (if the file is complete, add one)"
        )


def read_text_table(
    path: str | Path, what: str, member: str | None = None
) -> tuple[pd.DataFrame, str]:
    """Read a CSV, or one inside a zip, with every cell as text; return ``(frame, label)``.

    Cells stay text (no NA guessing) so that a loader's error can quote a bad value as it is in
    the file. In a zip, ``member`` names the CSV (default: the first ``.csv``). ``label``
    (``file`` or ``file.zip:member``) is what error messages should name. Raises
    :class:`FileNotFoundError` (``what`` says which file) or :class:`DatasetFormatError`: a
    damaged zip, bytes that are not UTF-8 (with their offset and line), a last row without its
    line break (a truncated file), rows with more fields than the header, or unparseable CSV.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    if path.suffix.lower() == ".zip":
        data, label = read_zip_member(path, member)
    else:
        data, label = path.read_bytes(), str(path)
    text = decode_text(data, label)
    check_ends_with_newline(text, label)
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DatasetFormatError(f"{label}: not a readable CSV: {exc}") from exc
    if not isinstance(frame.index, pd.RangeIndex):  # pandas moves surplus leading fields there
        raise DatasetFormatError(
            f"{label}: the data rows have more fields than the header's {len(frame.columns)} "
            "names; expected one field per header column"
        )
    return frame, label


def write_zipped_csv(target: str | Path, member: str, text: str) -> Path:
    """Write ``text`` as ``member`` of a new zip at ``target``, atomically (temp, then rename)."""
    target = Path(target)
    with atomic_path(target) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(member, text)
    return target
