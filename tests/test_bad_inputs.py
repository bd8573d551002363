"""Bad inputs: every loader refuses a corrupted copy of its file with a
:class:`~cookbook.datasets.errors.DatasetFormatError` that names the file (or the parameter) and
says what is wrong, instead of accepting it silently or failing with a library's bare error.

Each case copies a small generated file (or, for the ``realdata`` cases, a file of the mirror
``$COOKBOOK_DATA_MIRROR``; the mirror itself is only read) into ``tmp_path``, damages the copy
one way, and checks the error type, that the message names the damaged copy, and what it says.
"""

from __future__ import annotations

import json
import re
import shutil
import struct
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.io import wavfile

from cookbook.datasets import (
    DatasetFormatError,
    _synthetic,
    appliances_energy,
    nyc_taxi,
    paysim,
    speech_clips,
    stanford_cars,
    store_item_demand,
    weekly_sales,
    wsi,
)

pytestmark = pytest.mark.unit
realdata = pytest.mark.realdata


def expect_error(call: Callable, names: str | Path, *patterns: str) -> str:
    """``call()`` raises DatasetFormatError naming ``names`` and matching every pattern."""
    with pytest.raises(DatasetFormatError) as info:
        call()
    message = str(info.value)
    assert str(names) in message, message
    for pattern in patterns:
        assert re.search(pattern, message), f"{pattern!r} not in: {message}"
    return message


def case(name: str, *marks):
    return lambda fn: pytest.param(fn, id=name, marks=marks)


def run_cases(cases):
    return pytest.mark.parametrize("damage", cases)


def write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def rezip(src: Path, target: Path, member: str, edit: Callable[[bytes], bytes]) -> Path:
    """A copy of the zip ``src`` whose ``member`` is ``edit``-ed (the others kept)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            zout.writestr(info.filename, edit(data) if info.filename == member else data)
    return target


def flip_member_byte(src: Path, target: Path, member: str) -> Path:
    """A copy of a zip with one byte of ``member``'s compressed data flipped."""
    data = bytearray(src.read_bytes())
    with zipfile.ZipFile(src) as zf:
        info = zf.getinfo(member)
    name_len, extra_len = struct.unpack(
        "<HH", data[info.header_offset + 26 : info.header_offset + 30]
    )
    start = info.header_offset + 30 + name_len + extra_len
    data[start + info.compress_size // 2] ^= 0x5A
    return write_bytes(target, bytes(data))


def mirror_file(mirror: Path, rel: str, tmp_path: Path) -> Path:
    """A writable copy of a mirror file in ``tmp_path`` (the mirror is never modified)."""
    target = tmp_path / Path(rel).name
    shutil.copyfile(mirror / rel, target)
    return target


# ============================================================================ weekly_sales


@pytest.fixture(scope="module")
def weekly_csv(tmp_path_factory) -> Path:
    return weekly_sales.generate(tmp_path_factory.mktemp("weekly"))


def _weekly_edit(src: Path, target: Path, edit: Callable[[list[list[str]]], None]) -> Path:
    lines = src.read_bytes().decode().split("\r\n")[:-1]
    rows = [line.split(",") for line in lines]
    edit(rows)
    target.write_bytes("".join(",".join(r) + "\r\n" for r in rows).encode())
    return target


def _set_cell(column: str, row: int, value: str):
    def edit(rows):
        rows[row][rows[0].index(column)] = value

    return edit


def _wrong_normalized(week: int, row: int):
    """Set ``Normalized week`` of a row 0.5 away from what its week columns give."""

    def edit(rows):
        cells = dict(zip(rows[0], rows[row], strict=True))
        lo, hi, w = (float(cells[k]) for k in ("MIN", "MAX", f"W{week}"))
        right = (w - lo) / (hi - lo) if hi > lo else 0.0
        rows[row][rows[0].index(f"Normalized {week}")] = f"{(right + 0.5) % 1:.2f}"

    return edit


WEEKLY_CASES = [
    (
        "cut_at_row_boundary",
        lambda src, t: _weekly_edit(src, t, lambda rows: rows.__delitem__(slice(601, None))),
        [r"ends after product P\d+ \(data row 600\)", r"811 products", r"truncated"],
    ),
    (
        "cut_mid_row",
        lambda src, t: write_bytes(t, src.read_bytes()[: len(src.read_bytes()) * 2 // 3]),
        [r"no line break", r"truncated in the middle of a row"],
    ),
    (
        "row_deleted",
        lambda src, t: _weekly_edit(src, t, lambda rows: rows.__delitem__(17)),
        [r"1 product\(s\) are missing \(P17\)"],
    ),
    (
        "min_disagrees",
        lambda src, t: _weekly_edit(src, t, _set_cell("MIN", 3, "999")),
        [r"product P3 \(data row 3\) has MIN = 999 but the minimum of its W0..W51 is"],
    ),
    (
        "normalized_disagrees",
        lambda src, t: _weekly_edit(src, t, _wrong_normalized(7, 5)),
        [r"product P5 .* Normalized 7 = 0\.\d+ but \(W7 - MIN\) / \(MAX - MIN\) ="],
    ),
    (
        "normalized_infinite",
        lambda src, t: _weekly_edit(src, t, _set_cell("Normalized 0", 2, "inf")),
        [r"Normalized 0 = inf"],
    ),
    (
        "negative_week",
        lambda src, t: _weekly_edit(src, t, _set_cell("W9", 4, "-3")),
        [r"column W9 must hold non-negative whole numbers; product P4 .*'-3'"],
    ),
    (
        "latin1_byte",
        lambda src, t: write_bytes(t, src.read_bytes().replace(b"P12,", b"P12\xe9,", 1)),
        [r"byte 0xe9 at offset \d+ \(line 13, column 4\) is not UTF-8"],
    ),
    (
        "extra_field_in_one_row",
        lambda src, t: write_bytes(t, src.read_bytes().replace(b"\r\nP7,", b"\r\nP7,1,", 1)),
        [r"not a readable CSV: .*Expected 107 fields in line 8, saw 108"],
    ),
]


@pytest.mark.parametrize(
    ("make", "patterns"), [c[1:] for c in WEEKLY_CASES], ids=[c[0] for c in WEEKLY_CASES]
)
def test_weekly_sales_bad_inputs(weekly_csv, tmp_path, make, patterns):
    bad = make(weekly_csv, tmp_path / "weekly_bad.csv")
    expect_error(lambda: weekly_sales.load(bad), bad, *patterns)


def test_weekly_sales_subset_is_allowed_when_asked(weekly_csv, tmp_path):
    head = _weekly_edit(
        weekly_csv, tmp_path / "head.csv", lambda rows: rows.__delitem__(slice(101, None))
    )
    assert len(weekly_sales.load(head, complete=False)) == 100


@realdata
@pytest.mark.parametrize(
    ("edit", "patterns"),
    [
        (
            lambda rows: rows.__delitem__(slice(700, None)),
            [r"ends after product P\d+", r"truncated"],
        ),
        (_wrong_normalized(51, 10), [r"product P10 .* Normalized 51 = 0\.\d+ but"]),
        (_set_cell("MAX", 100, "0"), [r"has MAX = 0 but the maximum"]),
        (_set_cell("W0", 1, "1.5"), [r"column W0 must hold non-negative whole numbers.*'1.5'"]),
    ],
    ids=["cut_at_row_boundary", "normalized", "max", "fraction"],
)
def test_weekly_sales_bad_real_copies(mirror, tmp_path, edit, patterns):
    real = mirror / "uci_sales_transactions_weekly" / weekly_sales.FILENAME
    bad = _weekly_edit(real, tmp_path / weekly_sales.FILENAME, edit)
    expect_error(lambda: weekly_sales.load(bad), bad, *patterns)


# ============================================================================ store_item_demand


@pytest.fixture(scope="module")
def store_zip(tmp_path_factory) -> Path:
    return store_item_demand.generate(tmp_path_factory.mktemp("sid"), start="2017-12-01")


def _csv_lines(edit):
    def apply(data: bytes) -> bytes:
        lines = data.decode().split("\n")[:-1]
        edit(lines)
        return ("\n".join(lines) + "\n").encode()

    return apply


def _replace_sales(row: int, value: str):
    def edit(lines):
        cells = lines[row].split(",")
        lines[row] = ",".join([*cells[:3], value])

    return edit


STORE_CASES = [
    (
        "negative_sales",
        "rezip",
        _csv_lines(_replace_sales(5, "-4")),
        [r"column sales must hold non-negative finite unit counts; data row 5 .*'-4'"],
    ),
    (
        "infinite_sales",
        "rezip",
        _csv_lines(_replace_sales(9, "inf")),
        [r"data row 9 \(store 1 item 1, 2017-12-09\) has 'inf'"],
    ),
    (
        "duplicate_row",
        "rezip",
        _csv_lines(lambda lines: lines.insert(3, lines[2])),
        [r"store 1 item 1 on 2017-12-02 appears twice \(data rows 2 and 3\)"],
    ),
    (
        "missing_day",
        "rezip",
        _csv_lines(lambda lines: lines.__delitem__(10)),
        [r"store 1 item 1 jumps from 2017-12-09 to 2017-12-11 \(1 day\(s\) missing\)"],
    ),
    (
        "cut_at_row_boundary",
        "rezip",
        _csv_lines(lambda lines: lines.__delitem__(slice(-10, None))),
        [
            r"store 10 item 50 ends on 2017-12-21 while 499 of the 500 series end on 2017-12-31",
            r"truncated",
        ],
    ),
    # A whole series cut off at the end is detectable only against the original's 10 x 50
    # series (a file of your own may lack items): see the real-copy cases below.
    (
        "cut_mid_row",
        "rezip",
        lambda data: data[:-3],
        [r"train.csv: the last line .* no line break"],
    ),
    (
        "store_zero",
        "rezip",
        _csv_lines(lambda lines: lines.__setitem__(1, "2017-12-01,0,1,5")),
        [r"column store must hold store numbers from 1 up; data row 1 has '0'"],
    ),
    (
        "latin1_byte",
        "rezip",
        lambda data: data.replace(b"2017-12-05,1,1,", b"2017-12-05,1,1,\xe9", 1),
        [r"train\.csv: byte 0xe9 at offset \d+ \(line 6, column 16\) is not UTF-8"],
    ),
    (
        "flipped_zip_byte",
        "flip",
        None,
        [r"member train\.csv (is damaged|cannot be decompressed)", r"download it again"],
    ),
    ("truncated_zip", "cut", None, [r"not a valid zip file"]),
]


@pytest.mark.parametrize(
    ("how", "edit", "patterns"), [c[1:] for c in STORE_CASES], ids=[c[0] for c in STORE_CASES]
)
def test_store_item_demand_bad_inputs(store_zip, tmp_path, how, edit, patterns):
    bad = tmp_path / store_item_demand.ZIP_NAME
    if how == "rezip":
        rezip(store_zip, bad, store_item_demand.MEMBER, edit)
    elif how == "flip":
        flip_member_byte(store_zip, bad, store_item_demand.MEMBER)
    else:
        write_bytes(bad, store_zip.read_bytes()[: store_zip.stat().st_size // 2])
    expect_error(lambda: store_item_demand.load(bad), bad, *patterns)


@realdata
@pytest.mark.parametrize(
    ("how", "patterns"),
    [
        ("flip", [r"member train\.csv (is damaged|cannot be decompressed)"]),
        ("no_item_50", [r"no series for store 1 item 50", r"10 stores x 50 items"]),
        ("negative", [r"data row 1 \(store 1 item 1, 2013-01-01\) has '-13'"]),
        ("duplicate", [r"appears twice \(data rows 1 and 2\)"]),
    ],
)
def test_store_item_demand_bad_real_copies(mirror, tmp_path, how, patterns):
    real = mirror / "kaggle_store_item_demand" / store_item_demand.ZIP_NAME
    bad = tmp_path / store_item_demand.ZIP_NAME
    member = store_item_demand.MEMBER
    if how == "flip":
        flip_member_byte(real, bad, member)
    elif how == "no_item_50":  # the original is sorted by item: a cut after item 49's last day
        rezip(real, bad, member, lambda d: d[: d.index(b"\n2013-01-01,1,50,") + 1])
    elif how == "negative":
        rezip(
            real,
            bad,
            member,
            lambda d: d.replace(b"\n2013-01-01,1,1,13\n", b"\n2013-01-01,1,1,-13\n", 1),
        )
    else:
        rezip(real, bad, member, _csv_lines(lambda lines: lines.insert(2, lines[1])))
    expect_error(lambda: store_item_demand.load(bad), bad, *patterns)


# ============================================================================ appliances_energy


@pytest.fixture(scope="module")
def energy_csv(tmp_path_factory) -> bytes:
    """The synthetic energy CSV's bytes (the generated zip's member)."""
    folder = tmp_path_factory.mktemp("energy")
    with zipfile.ZipFile(appliances_energy.generate(folder)) as zf:
        return zf.read(appliances_energy.CSV_NAME)


def _insert_line(data: bytes, at: int, line: bytes) -> bytes:
    lines = data.split(b"\r\n")
    lines.insert(at, line)
    return b"\r\n".join(lines)


def _energy_cell(column: str, row: int, value: str):
    def edit(data: bytes) -> bytes:
        lines = data.decode().split("\r\n")
        cells = lines[row].split(",")
        cells[appliances_energy.COLUMNS.index(column)] = f'"{value}"'
        lines[row] = ",".join(cells)
        return "\r\n".join(lines).encode()

    return edit


ENERGY_CASES = [
    (
        "infinite_temperature",
        _energy_cell("T3", 8, "inf"),
        [r"column T3: row 8 \(2016-01-11 18:10:00\) has 'inf'; expected between -60 and 70"],
    ),
    (
        "negative_energy",
        _energy_cell("Appliances", 3, "-40"),
        [r"column Appliances: row 3 .* has '-40'; expected between 0 and"],
    ),
    ("nan_text", _energy_cell("RH_out", 12, "NaN"), [r"column RH_out must be numeric; row 12"]),
    (
        "humidity_above_100",
        _energy_cell("RH_4", 20, "140.5"),
        [r"column RH_4: row 20 .* '140.5'; expected between 0 and 100"],
    ),
    (
        "infinite_random_variable",
        _energy_cell("rv1", 2, "-Infinity"),
        [r"column rv1: row 2 .*; expected a finite number"],
    ),
    (
        "cut_at_row_boundary",
        lambda data: data[: data.index(b'"2016-03-01 00:00:00"')],
        [r"run from 2016-01-11 17:00:00 to 2016-02-29 23:50:00", r"looks truncated"],
    ),
    ("cut_mid_row", lambda data: data[:-20], [r"no line break", r"truncated"]),
    (
        "repeated_row",
        lambda data: _insert_line(data, 6, data.split(b"\r\n")[5]),
        [r"advance by exactly 10 minutes; row 6 goes from (\S+ \S+) to \1"],
    ),
]


@pytest.mark.parametrize(
    ("edit", "patterns"), [c[1:] for c in ENERGY_CASES], ids=[c[0] for c in ENERGY_CASES]
)
def test_appliances_energy_bad_inputs(energy_csv, tmp_path, edit, patterns):
    bad = write_bytes(tmp_path / appliances_energy.CSV_NAME, edit(energy_csv))
    expect_error(lambda: appliances_energy.load(bad), bad, *patterns)


def test_appliances_energy_zip_damage(energy_csv, tmp_path):
    good = tmp_path / "good.zip"
    with zipfile.ZipFile(good, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(appliances_energy.CSV_NAME, energy_csv)
    bad = flip_member_byte(good, tmp_path / appliances_energy.ZIP_NAME, appliances_energy.CSV_NAME)
    expect_error(
        lambda: appliances_energy.load(bad), bad, r"member energydata_complete\.csv", r"again"
    )


def test_appliances_energy_part_is_allowed_when_asked(energy_csv, tmp_path):
    part = write_bytes(
        tmp_path / appliances_energy.CSV_NAME, energy_csv[:200_000].rsplit(b"\r\n", 1)[0] + b"\r\n"
    )
    assert len(appliances_energy.load(part, complete=False)) > 100


@realdata
@pytest.mark.parametrize(
    ("edit", "patterns"),
    [
        (_energy_cell("Appliances", 100, "-60"), [r"column Appliances: row 100 .* '-60'"]),
        (_energy_cell("T_out", 5, "inf"), [r"column T_out: row 5 .* 'inf'"]),
        (lambda d: d[: d.index(b'"2016-05-01 00:00:00"')], [r"looks truncated"]),
        (
            lambda d: d.replace(b"2016-01-11 17:50:00", b"2016-01-11 17:55:00", 1),
            [r"exactly 10 minutes; row 6 goes from 2016-01-11 17:40:00 to 2016-01-11 17:55:00"],
        ),
    ],
    ids=["negative_energy", "infinite", "cut_at_row_boundary", "off_grid_timestamp"],
)
def test_appliances_energy_bad_real_copies(mirror, tmp_path, edit, patterns):
    real = mirror / "uci_appliances_energy" / appliances_energy.ZIP_NAME
    bad = rezip(real, tmp_path / appliances_energy.ZIP_NAME, appliances_energy.CSV_NAME, edit)
    expect_error(lambda: appliances_energy.load(bad), bad, *patterns)


# ============================================================================ paysim

PAYSIM_GOOD = "1,PAYMENT,9839.64,C1231006815,170136.0,160296.36,M1979787155,0.0,0.0,0,0"
PAYSIM_BAD_ROWS = {
    # nameOrig (the row's key here) -> (row, the reason it must be set aside with)
    "C101": ("1,PAYMENT,NaN,C101,10.0,15.0,M2,0.0,0.0,0,0", "amount is not a finite number"),
    "C102": ("1,PAYMENT,Infinity,C102,10.0,15.0,M2,0.0,0.0,0,0", "amount is not a finite number"),
    "C103": ("1,TRANSFER,9.0,C103,10.0,1.0,C4,0.0,0.0,7,0", "isFraud is not 0 or 1"),
    "C104": ("1,TRANSFER,9.0,C104,10.0,1.0,C4,0.0,0.0,0,2", "isFlaggedFraud is not 0 or 1"),
    "C105": ("0,TRANSFER,9.0,C105,10.0,1.0,C4,0.0,0.0,0,0", "step is not an hour from 1 to 744"),
    "C106": ("1,TRANSFER,9.0,C106,10.0,1.0,X4,0.0,0.0,0,0",
             "nameDest is not an account name (C or M, then digits)"),
    "C107": ("1,TRANSFER,9.0,C107,10.0,1.0,C4,0.0,0.0,0,0,extra",
             "the row does not have the header's 11 comma-separated fields"),
    "C108": ("1,TRANSFER,9.0,C108,10.0,1.0,C4,0.0", "the row does not have the header's 11"),
    "C109": ("1,TRANSFER,9.0,C109,-inf,1.0,C4,0.0,0.0,0,0", "oldbalanceOrg is not a finite number"),
    "C110": ("1,TRANSFER,1e400,C110,10.0,1.0,C4,0.0,0.0,0,0", "amount is not a finite number"),
}  # fmt: skip


@pytest.fixture(scope="module")
def paysim_read(tmp_path_factory):
    from cookbook.spark import get_spark

    path = tmp_path_factory.mktemp("paysim") / "tx.csv"
    lines = [",".join(paysim.COLUMNS), PAYSIM_GOOD, *(row for row, _ in PAYSIM_BAD_ROWS.values())]
    path.write_text("\n".join(lines) + "\n")
    transactions, rejected = paysim.read_spark(get_spark(), path)
    reasons = {}
    for r in rejected.collect():
        reasons[r.line.split(",")[3]] = r.reason
    return transactions.count(), reasons


@pytest.mark.spark
@pytest.mark.parametrize("name", list(PAYSIM_BAD_ROWS))
def test_paysim_bad_rows_are_set_aside_with_a_reason(paysim_read, name):
    n_good, reasons = paysim_read
    assert n_good == 1
    assert reasons[name].startswith(PAYSIM_BAD_ROWS[name][1]), reasons[name]


@pytest.fixture(scope="module")
def paysim_csv(tmp_path_factory) -> Path:
    return paysim.generate(tmp_path_factory.mktemp("paysim_gen"), n_rows=2_000, seed=3)


@pytest.mark.parametrize(
    ("edit", "patterns"),
    [
        (lambda d: d[:-7], [r"no line break", r"truncated in the middle of a row"]),
        (lambda d: d.replace(b"isFraud,", b"is_fraud,", 1), [r"missing column\(s\) isFraud"]),
        (lambda d: d.replace(b"amount,", b"", 1), [r"missing column\(s\) amount"]),
        (lambda d: b"", [r"missing column\(s\) step"]),
    ],
    ids=["cut_mid_row", "renamed_column", "dropped_column", "empty_file"],
)
def test_paysim_file_level_problems_raise(paysim_csv, tmp_path, edit, patterns):
    bad = write_bytes(tmp_path / "paysim_bad.csv", edit(paysim_csv.read_bytes()))
    expect_error(lambda: paysim.check_header(bad), bad, *patterns)
    expect_error(lambda: paysim.read_spark(None, bad), bad, *patterns)  # before Spark is used


@realdata
def test_paysim_real_copy_cut_mid_row(mirror, tmp_path):
    bad = mirror_file(mirror, f"paysim/{paysim.REAL_SAMPLE}", tmp_path)
    bad.write_bytes(bad.read_bytes()[:-10])
    expect_error(lambda: paysim.check_header(bad), bad, r"no line break")


# ============================================================================ speech_clips


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> list[Path]:
    return speech_clips.generate(tmp_path_factory.mktemp("clips"))


def _wav_bytes(rate: int, samples: np.ndarray) -> bytes:
    import io

    buf = io.BytesIO()
    wavfile.write(buf, rate, samples)
    return buf.getvalue()


SPEECH_CASES = [
    (
        "cut_to_60_percent",
        lambda b: b[: len(b) * 6 // 10],
        [
            r"unreadable WAV data: truncated: the data chunk declares [\d,]+ bytes .*"
            r" \(60% of the clip\)"
        ],
    ),
    (
        "header_then_garbage",
        lambda b: b[:12] + b"\x00garbage" * 50,
        [r"byte 12: expected a RIFF chunk id .* found b'\\x00gar'"],
    ),
    ("garbage_after_fmt", lambda b: b[:36] + b"\xff" * 200, [r"byte 36: expected a RIFF chunk id"]),
    (
        "fmt_chunk_cut",
        lambda b: b[:30],
        [r"byte 12: chunk b'fmt ' declares 16 bytes but the file ends"],
    ),
    (
        "adpcm_format_tag",
        lambda b: b[:20] + struct.pack("<H", 2) + b[22:],
        [r"sample format tag 0x0002 is not supported; expected integer PCM"],
    ),
    (
        "zero_sample_rate",
        lambda b: b[:24] + struct.pack("<I", 0) + b[28:],
        [r"a sample rate of 0 Hz \(expected 1000..768000\)"],
    ),
    ("no_samples", lambda b: b[:40] + struct.pack("<I", 0), [r"holds no samples"]),
    ("not_a_wav", lambda b: b"ID3\x03" + b[4:], [r"not a WAV file \(expected a RIFF/WAVE header"]),
]


@pytest.mark.parametrize(
    ("edit", "patterns"), [c[1:] for c in SPEECH_CASES], ids=[c[0] for c in SPEECH_CASES]
)
def test_speech_clip_bad_inputs(clips, tmp_path, edit, patterns):
    bad = write_bytes(tmp_path / "clip_bad.wav", edit(clips[0].read_bytes()))
    expect_error(lambda: speech_clips.check_wav(bad), bad, *patterns)
    expect_error(lambda: speech_clips.load_wav(bad), bad, *patterns)


def test_a_float_clip_among_int16_clips_is_named(clips, tmp_path):
    for p in clips[:3]:
        shutil.copyfile(p, tmp_path / p.name)
    rate, samples = wavfile.read(clips[3])
    odd = write_bytes(
        tmp_path / clips[3].name, _wav_bytes(rate, samples.astype(np.float32) / 32768)
    )
    expect_error(
        lambda: speech_clips.prepare(audio_dir=tmp_path),
        odd,
        r"32-bit float at 16000 Hz, mono, but clip1_base.wav, .* are 16-bit integer PCM",
    )
    write_bytes(odd, _wav_bytes(8000, samples))
    expect_error(
        lambda: speech_clips.prepare(audio_dir=tmp_path), odd, r"16-bit integer PCM at 8000 Hz"
    )


def test_non_finite_float_samples_are_refused(tmp_path):
    samples = np.zeros(800, np.float32)
    samples[400] = np.nan
    bad = write_bytes(tmp_path / "nan.wav", _wav_bytes(8000, samples))
    expect_error(
        lambda: speech_clips.load_wav(bad), bad, r"sample 400 \(at 0.050 s\) is not a finite"
    )


@realdata
@pytest.mark.parametrize(
    ("edit", "patterns"),
    [
        (lambda b: b[: len(b) * 6 // 10], [r"truncated: .* \(60% of the clip\)"]),
        (lambda b: b[:12] + b"\x00" * 64, [r"byte 12: expected a RIFF chunk id"]),
        (lambda b: b[:20] + struct.pack("<H", 0x55) + b[22:], [r"format tag 0x0055"]),
        (lambda b: b[:34] + struct.pack("<H", 12) + b[36:], [r"12-bit int samples"]),
    ],
    ids=["cut_to_60_percent", "garbage", "mp3_tag", "odd_bit_depth"],
)
def test_speech_clip_bad_real_copies(mirror, tmp_path, edit, patterns):
    bad = mirror_file(mirror, f"fsdd_wavs/{speech_clips.REAL_CLIPS[0]}", tmp_path)
    bad.write_bytes(edit(bad.read_bytes()))
    expect_error(lambda: speech_clips.load_wav(bad), bad, *patterns)


@realdata
def test_a_float_copy_among_real_int16_clips_is_named(mirror, tmp_path):
    for name in speech_clips.REAL_CLIPS[:3]:
        shutil.copyfile(mirror / "fsdd_wavs" / name, tmp_path / name)
    rate, samples = wavfile.read(mirror / "fsdd_wavs" / speech_clips.REAL_CLIPS[3])
    odd = write_bytes(tmp_path / speech_clips.REAL_CLIPS[3], _wav_bytes(rate, samples / 32768.0))
    expect_error(lambda: speech_clips.prepare(audio_dir=tmp_path), odd, r"64-bit float at 8000 Hz")


# ============================================================================ nyc_taxi


@pytest.fixture(scope="module")
def city():
    return nyc_taxi.prepare("synthetic", n_trips=20_000, seed=8)  # shared with test_nyc_taxi.py


def _geojson_edit(src: Path, target: Path, edit: Callable[[dict], None]) -> Path:
    doc = json.loads(src.read_text())
    edit(doc)
    target.write_text(json.dumps(doc))
    return target


def _first_ring(doc: dict) -> list:
    geometry = doc["features"][0]["geometry"]
    return (
        geometry["coordinates"][0]
        if geometry["type"] == "Polygon"
        else geometry["coordinates"][0][0]
    )


def _all_positions(doc: dict):
    for feature in doc["features"]:
        geometry = feature["geometry"]
        polygons = (
            [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
        )
        for rings in polygons:
            for ring in rings:
                yield from ring


def _swap_all(doc):
    for pos in _all_positions(doc):
        pos[0], pos[1] = pos[1], pos[0]


def _shift_first(doc, dx):
    feature = doc["features"][0]["geometry"]
    polygons = [feature["coordinates"]] if feature["type"] == "Polygon" else feature["coordinates"]
    for rings in polygons:
        for ring in rings:
            for pos in ring:
                pos[0] += dx


def _property(doc, key, index=0):
    return doc["features"][index]["properties"][key]


def _set_property(key, value, index=0):
    def edit(doc):
        doc["features"][index]["properties"][key] = value

    return edit


ZONES_GEOJSON_CASES = [
    (
        "lon_200",
        lambda d: _shift_first(d, 274.0),
        [r"row 0 \(LocationID \d+\) spans longitude .*expected longitudes in -180..180"],
    ),
    ("lat_95", lambda d: _first_ring(d).__setitem__(1, [-73.9, 95.0]), [r"latitude .*95.*-90..90"]),
    ("swapped_pairs", _swap_all, [r"the coordinates are swapped", r"\[longitude, latitude\]"]),
    (
        "one_zone_far_away",
        lambda d: _shift_first(d, 10.0),
        [r"row 0 .* outside the region of the others"],
    ),
    ("unclosed_ring", lambda d: _first_ring(d).pop(), [r"feature 0 .* ring 0 is not closed"]),
    (
        "string_coordinates",
        lambda d: d["features"][2]["geometry"].__setitem__("coordinates", "abc"),
        [r"feature 2 \((Multi)?Polygon\)"],
    ),
    (
        "position_of_text",
        lambda d: _first_ring(d).__setitem__(1, ["-73.9", "40.7"]),
        [r"feature 0 .* position 1: expected a position \[x, y\] of numbers"],
    ),
    (
        "nan_coordinate",
        lambda d: _first_ring(d).__setitem__(2, [float("nan"), 40.7]),
        [r"position 2: position \[nan, 40.7\] is not finite"],
    ),
    (
        "null_geometry",
        lambda d: d["features"][3].__setitem__("geometry", None),
        [r"feature 3 has no geometry object"],
    ),
    (
        "location_id_fraction",
        _set_property("LocationID", 12.7, 4),
        [r"LocationID must hold whole numbers from 1; row 4 has 12.7"],
    ),
    ("location_id_text", _set_property("LocationID", "twelve", 4), [r"row 4 has 'twelve'"]),
    (
        "shared_id_other_zone",
        lambda d: _set_property("LocationID", _property(d, "LocationID"), 1)(d),
        [r"LocationID 1 is used by rows \[0, 1\] with different zone values"],
    ),
]


@pytest.mark.parametrize(
    ("edit", "patterns"),
    [c[1:] for c in ZONES_GEOJSON_CASES],
    ids=[c[0] for c in ZONES_GEOJSON_CASES],
)
def test_taxi_zone_geojson_bad_inputs(city, tmp_path, edit, patterns):
    bad = _geojson_edit(city.zones_geojson, tmp_path / "zones_bad.geojson", edit)
    expect_error(lambda: nyc_taxi.read_zones(bad), bad, *patterns)


def _copy_shapefile(src_shp: Path, folder: Path) -> Path:
    folder.mkdir()
    for part in src_shp.parent.glob(f"{src_shp.stem}.*"):
        shutil.copyfile(part, folder / part.name)
    return folder / src_shp.name


def _cut(path: Path, share: float) -> None:
    path.write_bytes(path.read_bytes()[: int(path.stat().st_size * share)])


@pytest.mark.parametrize(
    ("damage", "patterns"),
    [
        (lambda shp: _cut(shp, 0.6), [r"taxi_zones\.shp: truncated: its header declares"]),
        (
            lambda shp: _cut(shp.with_suffix(".dbf"), 0.6),
            [r"taxi_zones\.dbf: truncated: its header declares \d+ records"],
        ),
        (lambda shp: _cut(shp.with_suffix(".shx"), 0.5), [r"taxi_zones\.shx: truncated"]),
        (
            lambda shp: write_bytes(shp, b"\x00" * 100 + shp.read_bytes()[100:]),
            [r"not a Shapefile part \(expected a 100-byte header starting with the file code 9994"],
        ),
    ],
    ids=["shp_cut", "dbf_cut", "shx_cut", "shp_header_zeroed"],
)
def test_taxi_zone_shapefile_bad_inputs(city, tmp_path, damage, patterns):
    shp = _copy_shapefile(city.zones_shp, tmp_path / "zones")
    damage(shp)
    expect_error(lambda: nyc_taxi.read_zones(shp), "taxi_zones.", *patterns)


@pytest.mark.parametrize(
    ("edit", "patterns"),
    [
        (
            lambda df: df.assign(
                LocationID=df["LocationID"].astype(str).where(df.index != 3, "12.7")
            ),
            [r"LocationID must hold whole numbers from 1; row 3 has '12.7'"],
        ),
        (
            lambda df: df.assign(
                the_geom=df["the_geom"].where(
                    df.index != 2, "POLYGON ((-73.9 40.7, -73.8 40.7, -73.8 40.8))"
                )
            ),
            [r"data row 3: column the_geom does not hold valid WKT: .*\(an unclosed ring\)"],
        ),
        (
            lambda df: df.assign(the_geom=df["the_geom"].where(df.index != 5, "POLYGON ((")),
            [r"data row 6: column the_geom does not hold valid WKT"],
        ),
        (
            lambda df: df.assign(LocationID=df["LocationID"].where(df.index != 0, -4)),
            [r"row 0 has '-4'"],
        ),
    ],
    ids=["location_id_12.7", "unclosed_ring", "broken_wkt", "negative_id"],
)
def test_taxi_zone_wkt_bad_inputs(city, tmp_path, edit, patterns):
    frame = pd.read_csv(city.zones_wkt, dtype=str, keep_default_na=False)
    geom = next(c for c in ("the_geom", "geometry", "wkt", "WKT") if c in frame.columns)
    frame = frame.rename(columns={geom: "the_geom"})
    bad = tmp_path / "zones_bad.csv"
    edit(frame).to_csv(bad, index=False)
    expect_error(lambda: nyc_taxi.read_zones(bad), bad, *patterns)


@pytest.mark.parametrize(
    ("edit", "patterns"),
    [
        (
            lambda d: _set_property("boro_code", _property(d, "boro_code"), 1)(d),
            [r"boro_code '\d' appears in more than one feature"],
        ),
        (_swap_all, [r"the coordinates are swapped"]),
        (lambda d: _first_ring(d).pop(), [r"ring 0 is not closed"]),
        (lambda d: _first_ring(d).__setitem__(1, [-73.9, -95.0]), [r"-90..90"]),
    ],
    ids=["duplicate_code", "swapped_pairs", "unclosed_ring", "lat_minus_95"],
)
def test_borough_bad_inputs(city, tmp_path, edit, patterns):
    bad = _geojson_edit(city.boroughs, tmp_path / "boroughs_bad.geojson", edit)
    expect_error(lambda: nyc_taxi.read_boroughs(bad), bad, *patterns)


def test_zones_elsewhere_get_a_warning_not_silence(city, tmp_path):
    moved = _geojson_edit(
        city.zones_geojson,
        tmp_path / "moved.geojson",
        lambda d: [pos.__setitem__(0, pos[0] + 80.0) for pos in _all_positions(d)],
    )
    with pytest.warns(
        UserWarning, match=r"moved\.geojson: no geometry lies in the expected region"
    ):
        nyc_taxi.read_zones(moved)
    assert len(nyc_taxi.read_zones(moved, region=None)) > 0


@pytest.mark.parametrize(
    ("edit", "patterns"),
    [
        (lambda d: d[:-25], [r"no line break", r"truncated in the middle of a row"]),
        (lambda d: d.rstrip(b"\r\n"), [r"no line break"]),
        (lambda d: d.replace(b"Pickup_longitude", b"Pickup_lon", 1), [r"no coordinate column"]),
        (lambda d: d + b"\x00\x01garbage", [r"no line break"]),
    ],
    ids=["cut_mid_row", "last_break_removed", "renamed_coordinate", "garbage_appended"],
)
def test_trip_file_bad_inputs(city, tmp_path, edit, patterns):
    bad = write_bytes(tmp_path / "green_bad.csv", edit(city.trips.read_bytes()))
    # the file is checked before Spark is used, so no session is needed to see the error
    expect_error(lambda: nyc_taxi.read_trips_spark(None, bad), bad, *patterns)


@realdata
@pytest.mark.parametrize(
    ("target", "edit", "patterns"),
    [
        ("geojson", lambda d: _shift_first(d, 274.0), [r"expected longitudes in -180..180"]),
        ("geojson", _swap_all, [r"the coordinates are swapped"]),
        ("geojson", lambda d: _first_ring(d).pop(), [r"ring 0 is not closed"]),
        ("geojson", _set_property("LocationID", "12.7", 7), [r"row 7 has '?12.7'?"]),
        ("shp", lambda shp: _cut(shp, 0.6), [r"taxi_zones\.shp: truncated"]),
        ("shp", lambda shp: _cut(shp.with_suffix(".dbf"), 0.6), [r"taxi_zones\.dbf: truncated"]),
        ("trips", lambda d: d[:-30], [r"no line break"]),
        ("boroughs", _swap_all, [r"the coordinates are swapped"]),
    ],
    ids=[
        "lon_200",
        "swapped",
        "unclosed_ring",
        "location_id_12.7",
        "shp_cut",
        "dbf_cut",
        "trips_cut_mid_row",
        "boroughs_swapped",
    ],
)
def test_nyc_bad_real_copies(mirror, tmp_path, target, edit, patterns):
    if target == "geojson":
        bad = _geojson_edit(
            mirror / "nyc_geo" / nyc_taxi.ZONES_GEOJSON, tmp_path / "z.geojson", edit
        )
        expect_error(lambda: nyc_taxi.read_zones(bad), bad, *patterns)
    elif target == "boroughs":
        bad = _geojson_edit(
            mirror / "nyc_geo" / nyc_taxi.BOROUGHS_GEOJSON, tmp_path / "b.geojson", edit
        )
        expect_error(lambda: nyc_taxi.read_boroughs(bad), bad, *patterns)
    elif target == "shp":
        shp = _copy_shapefile(
            mirror / "nyc_geo" / "taxi_zones" / nyc_taxi.ZONES_SHP, tmp_path / "z"
        )
        edit(shp)
        expect_error(lambda: nyc_taxi.read_zones(shp), "taxi_zones.", *patterns)
    else:
        bad = mirror_file(mirror, f"nyc_taxi_trips/{nyc_taxi.GREEN_TRIPS}", tmp_path)
        bad.write_bytes(edit(bad.read_bytes()))
        expect_error(lambda: nyc_taxi.read_trips_spark(None, bad), bad, *patterns)


# ============================================================================ wsi


@pytest.fixture(scope="module")
def slides(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("wsi_bad")
    return wsi.generate(folder, n_tumour=1, n_normal=0, size=1024, patches_per_class=10, margin=32)


COORD_CASES = [
    (
        "extra_field",
        lambda t: t.replace("\n", ",7\n", 3).replace(",7\n", "\n", 2),
        [r"line 3: expected 3 comma-separated fields \(slide_name,x,y\), got 4"],
    ),
    ("missing_field", lambda t: t + "Tumor_001,17\n", [r"line 11: expected 3 .* got 2"]),
    (
        "path_traversal",
        lambda t: "../../etc/passwd,10,10\n" + t,
        [r"line 1: slide name '../../etc/passwd' is not a plain slide name"],
    ),
    (
        "fractional_x",
        lambda t: "Tumor_001,12.5,40\n" + t,
        [r"line 1: x must be a non-negative pixel coordinate \(a whole number\), got '12.5'"],
    ),
    ("negative_y", lambda t: t + "Tumor_001,12,-40\n", [r"line 11: y must be a non-negative"]),
    ("cut_mid_line", lambda t: t[:-3], [r"no line break", r"truncated"]),
    ("empty_slide_name", lambda t: ",5,5\n" + t, [r"line 1: slide name '' is not a plain"]),
]


@pytest.mark.parametrize(
    ("edit", "patterns"), [c[1:] for c in COORD_CASES], ids=[c[0] for c in COORD_CASES]
)
def test_ncrf_coordinate_list_bad_inputs(slides, tmp_path, edit, patterns):
    good = (slides / wsi.COORDS_DIR / "tumor_valid.txt").read_text()
    bad = tmp_path / "tumor_bad.txt"
    bad.write_text(edit(good))
    expect_error(lambda: wsi.read_coords(bad, 1), bad, *patterns)


def test_ncrf_coordinate_list_latin1_byte(slides, tmp_path):
    good = (slides / wsi.COORDS_DIR / "tumor_valid.txt").read_bytes()
    bad = write_bytes(tmp_path / "latin1.txt", b"Tumor_\xe9,1,1\n" + good)
    expect_error(
        lambda: wsi.read_coords(bad, 1), bad, r"byte 0xe9 at offset 6 \(line 1, column 7\)"
    )


BOWTIE = [[0, 0], [100, 100], [100, 0], [0, 100]]
JSON_CASES = [
    (
        "self_intersecting_zero_area",
        lambda d: d["positive"].append({"name": "bow", "vertices": BOWTIE}),
        [r"positive\[\d\] \(polygon 'bow'\) crosses itself so that its parts cancel out"],
    ),
    (
        "collinear",
        lambda d: d["positive"].append({"name": "line", "vertices": [[0, 0], [5, 5], [9, 9]]}),
        [r"positive\[\d\] \(polygon 'line'\) has zero area"],
    ),
    (
        "vertices_as_text",
        lambda d: d["positive"].append({"name": "t", "vertices": "10,20 30,40"}),
        [r"positive\[\d\] needs 'vertices' as 3 or more \[x, y\] pairs of numbers"],
    ),
    (
        "vertex_of_strings",
        lambda d: d["negative"].append({"vertices": [["1", "2"], [3, 4], [5, 9]]}),
        [r"negative\[0\] needs 'vertices'"],
    ),
    (
        "polygon_not_an_object",
        lambda d: d["positive"].append([[1, 2], [3, 4], [5, 6]]),
        [r"positive\[\d\] must be an object with 'name' and 'vertices', got list"],
    ),
    (
        "list_not_a_list",
        lambda d: d.__setitem__("negative", {"a": 1}),
        [r"'negative' must be a list of polygons, got dict"],
    ),
    (
        "negative_vertex",
        lambda d: d["positive"].append({"vertices": [[-5, 0], [10, 0], [10, 10]]}),
        [r"has a vertex that is negative or not finite"],
    ),
    (
        "boolean_coordinate",
        lambda d: d["positive"].append({"vertices": [[True, 0], [10, 0], [10, 10]]}),
        [r"needs 'vertices'"],
    ),
]


@pytest.mark.parametrize(
    ("edit", "patterns"), [c[1:] for c in JSON_CASES], ids=[c[0] for c in JSON_CASES]
)
def test_annotation_json_bad_inputs(slides, tmp_path, edit, patterns):
    doc = json.loads((slides / wsi.JSONS_DIR / "Tumor_001.json").read_text())
    edit(doc)
    bad = tmp_path / "Tumor_bad.json"
    bad.write_text(json.dumps(doc))
    expect_error(lambda: wsi.read_annotation_json(bad), bad, *patterns)


def _corrupt_tiles(src: Path, target: Path, page: int, tiles) -> Path:
    import tifffile

    data = bytearray(src.read_bytes())
    with tifffile.TiffFile(src) as tif:
        offsets, counts = tif.pages[page].dataoffsets, tif.pages[page].databytecounts
    rng = np.random.default_rng(0)
    for t in tiles:
        data[offsets[t] : offsets[t] + counts[t]] = rng.integers(
            0, 256, counts[t], dtype=np.uint8
        ).tobytes()
    return write_bytes(target, bytes(data))


@pytest.mark.parametrize(
    ("damage", "patterns"),
    [
        (
            lambda s, t: _corrupt_tiles(s, t, 0, [5]),
            [
                r"the tile at level 0, column 1, row 1 \(level-0 pixels x=256, y=256\)"
                r" does not decode"
            ],
        ),
        (
            lambda s, t: _corrupt_tiles(s, t, 1, [0, 1, 2, 3]),
            [r"the tile at level 1, column 0, row 0"],
        ),
        (
            lambda s, t: write_bytes(t, s.read_bytes()[: s.stat().st_size // 2]),
            [r"(OpenSlide cannot read this slide|truncated)"],
        ),
        (
            lambda s, t: write_bytes(t, b"II*\x00" + bytes(range(256)) * 4),
            [r"OpenSlide cannot read"],
        ),
    ],
    ids=["one_corrupt_tile", "corrupt_level", "truncated", "not_a_slide"],
)
def test_open_slide_finds_corrupt_tiles_when_it_opens(slides, tmp_path, damage, patterns):
    bad = damage(slides / wsi.SLIDES_DIR / "Tumor_001.tif", tmp_path / "Tumor_bad.tif")
    expect_error(lambda: wsi.open_slide(bad), bad, *patterns)


def test_open_slide_finds_a_tile_past_the_end_of_the_file(slides, tmp_path):
    """A tile whose byte count runs past the end of the file (a truncated slide whose IFDs
    survived) is found from the TIFF layout alone."""
    import tifffile

    src = slides / wsi.SLIDES_DIR / "Tumor_001.tif"
    with tifffile.TiffFile(src) as tif:
        tag = tif.pages[0].tags["TileByteCounts"]
        at, count, dtype = tag.valueoffset, tag.count, tag.dtype
    data = bytearray(src.read_bytes())
    fmt = {3: "<H", 4: "<I", 16: "<Q"}[int(dtype)]  # SHORT, LONG, LONG8
    assert count > 1
    data[at : at + struct.calcsize(fmt)] = struct.pack(fmt, 65535 if fmt == "<H" else 2**31 - 1)
    bad = write_bytes(tmp_path / "Tumor_past_end.tif", bytes(data))
    expect_error(
        lambda: wsi.open_slide(bad), bad, r"truncated: TIFF page 0 .* tile/strip 0 needs bytes"
    )


@realdata
@pytest.mark.parametrize(
    ("target", "patterns"),
    [
        ("coords_extra_field", [r"tumor_valid\.txt: line 5: expected 3 comma-separated fields"]),
        ("json_bowtie", [r"Tumor_101\.json: positive\[0\] .*crosses itself"]),
        ("json_wrong_type", [r"Tumor_101\.json: positive\[1\] needs 'vertices'"]),
        (
            "svs_corrupt_tile",
            [r"CMU-1-Small-Region\.svs: the tile at level 0, column \d+, row \d+"],
        ),
    ],
)
def test_wsi_bad_real_copies(mirror, tmp_path, target, patterns):
    base = mirror / wsi.MIRROR_DIR
    if target == "coords_extra_field":
        lines = (base / "ncrf_coords" / "tumor_valid.txt").read_text().split("\n")
        lines[4] += ",1"
        bad = tmp_path / "tumor_valid.txt"
        bad.write_text("\n".join(lines))
        expect_error(lambda: wsi.read_coords(bad, 1), bad, *patterns)
    elif target.startswith("json"):
        doc = json.loads((base / "ncrf_jsons_valid" / "Tumor_101.json").read_text())
        if target == "json_bowtie":
            (x, y) = doc["positive"][0]["vertices"][0]
            doc["positive"][0]["vertices"] = [
                [x, y],
                [x + 500, y + 500],
                [x + 500, y],
                [x, y + 500],
            ]
        else:
            doc["positive"][1]["vertices"] = {"x": [1, 2, 3], "y": [4, 5, 6]}
        bad = tmp_path / "Tumor_101.json"
        bad.write_text(json.dumps(doc))
        expect_error(lambda: wsi.read_annotation_json(bad), bad, *patterns)
    else:
        import tifffile

        src = base / wsi.REAL_SLIDE
        with tifffile.TiffFile(src) as tif:
            n_tiles = len(tif.pages[0].dataoffsets)
        bad = _corrupt_tiles(src, tmp_path / wsi.REAL_SLIDE, 0, range(n_tiles))
        expect_error(lambda: wsi.open_slide(bad), bad, *patterns)


# ============================================================================ stanford_cars


@pytest.fixture(scope="module")
def cars(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("cars_bad")
    return stanford_cars.generate(folder, n_classes=3, train_per_class=4, test_per_class=2, seed=5)


def _annos_copy(cars: Path, tmp_path: Path, edit: Callable[[pd.DataFrame], pd.DataFrame]) -> Path:
    """A damaged copy of the train annotations, with the class names beside it."""
    df = stanford_cars.load_annotations(cars / "devkit" / stanford_cars.TRAIN_ANNOS)
    shutil.copyfile(cars / "devkit" / stanford_cars.META, tmp_path / stanford_cars.META)
    return stanford_cars.save_annotations(tmp_path / "cars_train_annos_bad.mat", edit(df))


def _set(col, row, value):
    def edit(df):
        df = df.copy()
        df.loc[row, col] = value
        return df

    return edit


CARS_CASES = [
    ("class_0", _set("class", 2, 0), [r"annotation 3 \(00003\.jpg\) has class 0; expected 1..3"]),
    ("class_999", _set("class", 4, 999), [r"has class 999; expected 1..3 \(the class names in"]),
    (
        "path_traversal",
        _set("fname", 1, "../../x.jpg"),
        [r"annotation 2 has fname '../../x.jpg'; expected a plain image file name"],
    ),
    ("absolute_path", _set("fname", 1, "/etc/passwd"), [r"fname '/etc/passwd'"]),
    (
        "duplicate_fname",
        _set("fname", 5, "00001.jpg"),
        [r"fname '00001\.jpg' is annotated more than once \(annotations \[1, 6\]\)"],
    ),
    (
        "x2_equals_x1",
        lambda df: _set("bbox_x2", 0, int(df.loc[0, "bbox_x1"]))(df),
        [r"bounding box with no area for 00001\.jpg"],
    ),
    (
        "x1_zero",
        _set("bbox_x1", 3, 0),
        [r"bounding box \(0, .*\) of 00004\.jpg starts outside the image"],
    ),
]


@pytest.mark.parametrize(
    ("edit", "patterns"), [c[1:] for c in CARS_CASES], ids=[c[0] for c in CARS_CASES]
)
def test_car_annotation_bad_inputs(cars, tmp_path, edit, patterns):
    bad = _annos_copy(cars, tmp_path, edit)
    expect_error(lambda: stanford_cars.load_annotations(bad), bad, *patterns)


def test_car_bbox_outside_the_image_is_found_with_the_images(cars, tmp_path):
    bad = _annos_copy(cars, tmp_path, _set("bbox_x2", 2, 5000))
    expect_error(
        lambda: stanford_cars.load_annotations(bad, images_dir=cars / "cars_train"),
        bad,
        r"bounding box \(.*5000.*\) of 00003\.jpg extends past the image \(\d+x\d+\)",
    )
    assert len(stanford_cars.load_annotations(bad)) == 12  # without the images: not checkable


def test_car_class_limit_can_be_given(cars, tmp_path):
    annos = cars / "devkit" / stanford_cars.TRAIN_ANNOS
    expect_error(
        lambda: stanford_cars.load_annotations(annos, n_classes=2),
        annos,
        r"expected 1..2 \(given\)",
    )


def _v73(path: Path) -> Path:
    import h5py

    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024"
    header += b" HDF5 schema 1.00 ."
    header = header.ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02IM"
    with h5py.File(path, "w", userblock_size=512) as f:
        f["class_names"] = np.arange(3)
    with open(path, "r+b") as fh:
        fh.write(header.ljust(512, b"\x00"))
    return path


@pytest.mark.parametrize(
    ("make", "patterns"),
    [
        (lambda src, t: _v73(t), [r"MATLAB v7\.3 \(HDF5-based\)", r"save\(file, '-v7'\)", r"h5py"]),
        (
            lambda src, t: write_bytes(t, src.read_bytes()[: src.stat().st_size // 2]),
            [r"not a readable MATLAB \.mat file"],
        ),
        (
            lambda src, t: stanford_cars.save_class_names(t, ["Sedan", "Coupe", "Sedan"]),
            [r"class name 'Sedan' appears twice \(classes 1 and 3\)"],
        ),
        (
            lambda src, t: stanford_cars.save_class_names(t, ["Sedan", " ", "Coupe"]),
            [r"class_names entry 2 is ' '"],
        ),
    ],
    ids=["matlab_v7.3", "truncated", "duplicate_name", "blank_name"],
)
def test_car_class_name_bad_inputs(cars, tmp_path, make, patterns):
    bad = make(cars / "devkit" / stanford_cars.META, tmp_path / "cars_meta_bad.mat")
    expect_error(lambda: stanford_cars.load_class_names(bad), bad, *patterns)


@realdata
@pytest.mark.parametrize(
    ("edit", "patterns"),
    [
        (_set("class", 10, 999), [r"annotation 11 \(00011\.jpg\) has class 999; expected 1..196"]),
        (_set("class", 0, 0), [r"has class 0; expected 1..196"]),
        (_set("fname", 7, "../../x.jpg"), [r"fname '../../x.jpg'"]),
        (lambda df: _set("bbox_y2", 3, int(df.loc[3, "bbox_y1"]))(df), [r"no area for 00004\.jpg"]),
    ],
    ids=["class_999", "class_0", "path_traversal", "flat_box"],
)
def test_car_bad_real_copies(mirror, tmp_path, edit, patterns):
    devkit = mirror / "stanford_cars_devkit"
    df = stanford_cars.load_annotations(devkit / stanford_cars.TRAIN_ANNOS).head(300)  # quicker
    shutil.copyfile(devkit / stanford_cars.META, tmp_path / stanford_cars.META)
    bad = stanford_cars.save_annotations(tmp_path / stanford_cars.TRAIN_ANNOS, edit(df))
    expect_error(lambda: stanford_cars.load_annotations(bad), bad, *patterns)


@realdata
def test_car_real_meta_truncated_and_v73(mirror, tmp_path):
    bad = mirror_file(mirror, f"stanford_cars_devkit/{stanford_cars.META}", tmp_path)
    bad.write_bytes(bad.read_bytes()[:1500])
    expect_error(lambda: stanford_cars.load_class_names(bad), bad, r"not a readable MATLAB")
    v73 = _v73(tmp_path / "cars_meta_v73.mat")
    expect_error(lambda: stanford_cars.load_class_names(v73), v73, r"MATLAB v7\.3")


# ============================================================================ synthetic cache


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("COOKBOOK__DATA__CACHE_DIR", str(folder))
    return folder


@pytest.mark.parametrize(
    ("damage", "said"),
    [
        (
            lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size * 6 // 10]),
            r"has [\d,]+ bytes, not",
        ),
        (
            lambda p: p.write_bytes(p.read_bytes().replace(b"P1,", b"P1,9", 1)[:-1]),
            r"sha256 differs",
        ),
        (lambda p: p.unlink(), r"is missing"),
    ],
    ids=["truncated", "edited_same_size", "deleted"],
)
def test_a_damaged_cached_generation_is_generated_again(cache, monkeypatch, damage, said):
    files = weekly_sales.prepare("synthetic", seed=13)
    original = files.csv.read_bytes()
    damage(files.csv)
    # a later process: nothing verified yet (within one process, a file is hashed again only
    # when its size or modification time changes)
    monkeypatch.setattr(_synthetic, "_VERIFIED", {})
    with pytest.warns(UserWarning) as caught:
        again = weekly_sales.prepare("synthetic", seed=13)
    message = " ".join(str(w.message) for w in caught)
    assert "generating them again" in message and weekly_sales.FILENAME in message
    assert re.search(said, message), message
    assert again == files and files.csv.read_bytes() == original
    assert len(weekly_sales.load(files.csv)) == 811
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        weekly_sales.prepare("synthetic", seed=13)  # intact now: served from the cache


def test_the_marker_records_every_generated_file(cache):
    files = weekly_sales.prepare("synthetic", seed=14)
    marker = json.loads((files.csv.parent / _synthetic.PARAMS_FILE).read_text())
    assert set(marker["files"]) == {weekly_sales.FILENAME, weekly_sales.TRUTH_FILE}
    entry = marker["files"][weekly_sales.FILENAME]
    assert entry["size"] == files.csv.stat().st_size and len(entry["sha256"]) == 64
    assert _synthetic.changed_files(files.csv.parent, marker["files"]) == []


def test_an_old_marker_without_checksums_is_not_trusted(cache):
    files = weekly_sales.prepare("synthetic", seed=15)
    marker = files.csv.parent / _synthetic.PARAMS_FILE
    old = json.loads(marker.read_text())
    del old["files"]
    marker.write_text(json.dumps(old))
    files.csv.write_bytes(files.csv.read_bytes()[:1000])  # what the old marker would have served
    weekly_sales.prepare("synthetic", seed=15)
    assert "files" in json.loads(marker.read_text())
    assert len(weekly_sales.load(files.csv)) == 811
