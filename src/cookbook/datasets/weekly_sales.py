"""UCI "Sales Transactions Dataset Weekly" (chapter 2): loader, download spec, generator.

The original (James Tan, 2017; CC BY 4.0) is one CSV with CRLF line endings and the header
``Product_Code, W0..W51, MIN, MAX, Normalized 0..Normalized 51``: weekly units sold of 811
products coded P1..P819 (8 codes missing). MIN/MAX are the row's min and max over the weeks and
``Normalized i = round((Wi - MIN) / (MAX - MIN), 2)``.

The synthetic default writes the same file, byte format included, from a seeded simulation with
planted structure (see :func:`generate`), plus a ``truth.json`` sidecar that names the planted
groups so that tests and the notebook can check what DTW recovers.

:func:`prepare` returns a :class:`WeeklySalesFiles` for either source.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pandas as pd

from cookbook.datasets._fetch import DownloadSpec, RemoteFile, fetch
from cookbook.datasets._files import read_text_table
from cookbook.datasets._synthetic import check_source, ensure_generated
from cookbook.datasets.errors import DatasetFormatError
from cookbook.io import atomic_open, write_json

NAME = "weekly_sales"
FILENAME = "Sales_Transactions_Dataset_Weekly.csv"
TRUTH_FILE = "truth.json"
N_WEEKS = 52
WEEK_COLUMNS = [f"W{i}" for i in range(N_WEEKS)]
NORMALIZED_COLUMNS = [f"Normalized {i}" for i in range(N_WEEKS)]
COLUMNS = ["Product_Code", *WEEK_COLUMNS, "MIN", "MAX", *NORMALIZED_COLUMNS]
# Product codes absent from the original (811 of P1..P819 remain).
MISSING_CODES = (353, 385, 645, 648, 709, 710, 723, 725)
N_CODES = 819
# Bump when generate() changes, so cached synthetic files are regenerated.
GENERATOR_VERSION = 2
# The generator's parameters and their defaults (read-only), for generate() and prepare().
DEFAULTS = MappingProxyType({"seed": 42, "n_followers": 40, "n_flat": 120})

SPEC = DownloadSpec(
    name=NAME,
    title="UCI Sales Transactions Dataset Weekly",
    homepage="https://archive.ics.uci.edu/dataset/396/sales+transactions+dataset+weekly",
    license="CC BY 4.0 (James Tan, 2017)",
    files=(
        RemoteFile(
            filename=FILENAME,
            url="https://archive.ics.uci.edu/ml/machine-learning-databases/00396/"
            "Sales_Transactions_Dataset_Weekly.csv",
            sha256="c406378a12fd93d4ac6c3751bca8bc345554461e000d3708759cef26e0bb8cc1",
            mirror_path=f"uci_sales_transactions_weekly/{FILENAME}",
        ),
    ),
    notes="UCI now also serves it zipped from the dataset page; the CSV inside is the same file.",
)

# The shape the synthetic "followers" are planted from: the factory's weekly capacity used in
# chapter 2 (the original publication's "optimal pattern").
CAPACITY_PATTERN = (
    12.5, 13, 13.5, 14, 17, 10, 15, 16, 17, 16, 19, 14, 14, 15, 11, 20, 18, 17, 19, 21, 19, 15,
    17, 17, 16, 15, 19, 19, 20, 21, 19, 18, 17, 16, 20, 19, 19, 18, 17, 18, 26, 25, 17, 23, 21,
    19, 28, 18, 19, 16, 21, 23,
)  # fmt: skip


@dataclass(frozen=True)
class WeeklySalesFiles:
    """What :func:`prepare` returns.

    - ``csv``: ``Sales_Transactions_Dataset_Weekly.csv`` (read it with :func:`load`);
    - ``truth``: the synthetic file's ``truth.json`` (planted groups, see :func:`read_truth`);
      None for the real data;
    - ``source``: ``"synthetic"`` or ``"real"``.
    """

    csv: Path
    truth: Path | None
    source: str


def product_codes() -> list[str]:
    """The 811 product codes of the original, in file order."""
    return [f"P{i}" for i in range(1, N_CODES + 1) if i not in MISSING_CODES]


def load(path: str | Path, complete: bool = True) -> pd.DataFrame:
    """Read and validate a weekly-sales CSV (original or synthetic).

    Raises :class:`DatasetFormatError` naming the file, the product and what was expected: a
    missing or malformed column, an empty or duplicate product code, a week count that is not
    a non-negative whole number, ``MIN``/``MAX`` that are not the row's minimum and maximum,
    ``Normalized i`` that is not ``(Wi - MIN) / (MAX - MIN)`` to 2 decimals (or not in 0..1),
    and a file that looks truncated: a last row without its line break (cut mid-row) or, for a
    file of the original's product codes (P1..P819 without the 8 gaps, as the original and the
    synthetic files have), a code list that stops early or skips products (cut at a row
    boundary, or a row deleted). Pass ``complete=False`` to read a deliberate subset of the
    original's products. Returns the frame with integer week columns, one row per product.
    """
    path = Path(path)
    df, _ = read_text_table(path, "weekly sales file")
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        shown = ", ".join(missing[:10]) + (" ..." if len(missing) > 10 else "")
        raise DatasetFormatError(
            f"{path}: missing column(s) {shown}; expected Product_Code, W0..W51, MIN, MAX, "
            "Normalized 0..Normalized 51"
        )
    if df.empty:
        raise DatasetFormatError(f"{path}: the file holds a header but no products")
    if (df["Product_Code"].str.strip() == "").any() or df["Product_Code"].duplicated().any():
        dup = df.loc[df["Product_Code"].duplicated(), "Product_Code"].head(3).tolist()
        raise DatasetFormatError(f"{path}: column Product_Code has empty or duplicate codes {dup}")
    for col in [*WEEK_COLUMNS, "MIN", "MAX"]:
        values = pd.to_numeric(df[col], errors="coerce")
        bad = values.isna() | (values < 0) | (values != values.round())
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise DatasetFormatError(
                f"{path}: column {col} must hold non-negative whole numbers; "
                f"product {df['Product_Code'].iloc[row]} (data row {row + 1}) has "
                f"{df[col].iloc[row]!r}"
            )
        df[col] = values.astype("int64")
    for col in NORMALIZED_COLUMNS:
        values = pd.to_numeric(df[col], errors="coerce")
        if values.isna().any():
            row = int(np.flatnonzero(values.isna().to_numpy())[0])
            raise DatasetFormatError(
                f"{path}: column {col!r} must be numeric; product "
                f"{df['Product_Code'].iloc[row]} has {df[col].iloc[row]!r}"
            )
        df[col] = values.astype("float64")
    _check_consistency(df, path)
    if complete:
        _check_complete(df["Product_Code"], path)
    return df[COLUMNS]


# |Normalized - (W - MIN) / (MAX - MIN)| allowed: the file rounds to 2 decimals (0.005), and
# spreadsheet rounding of x.xx5 differs from Python's (the original shows both).
NORMALIZED_TOLERANCE = 0.0051


def _check_consistency(df: pd.DataFrame, path: Path) -> None:
    """MIN/MAX and the Normalized columns must agree with the week columns, row by row."""
    codes = df["Product_Code"].to_numpy()
    weeks = df[WEEK_COLUMNS].to_numpy(dtype=np.int64)
    lo, hi = weeks.min(axis=1), weeks.max(axis=1)
    for col, expected, what in (("MIN", lo, "minimum"), ("MAX", hi, "maximum")):
        bad = np.flatnonzero(df[col].to_numpy() != expected)
        if len(bad):
            i = int(bad[0])
            raise DatasetFormatError(
                f"{path}: product {codes[i]} (data row {i + 1}) has {col} = {df[col].iloc[i]} "
                f"but the {what} of its W0..W51 is {expected[i]}; expected {col} to be the "
                f"row's {what} over the weeks ({len(bad)} row(s) disagree)"
            )
    norm = df[NORMALIZED_COLUMNS].to_numpy(dtype=np.float64)
    span = np.where(hi > lo, hi - lo, 1)
    expected = (weeks - lo[:, None]) / span[:, None]
    bad = (
        ~np.isfinite(norm)
        | (norm < 0)
        | (norm > 1)
        | (np.abs(norm - expected) > NORMALIZED_TOLERANCE)
    )
    if bad.any():
        i, j = (int(v) for v in np.argwhere(bad)[0])
        raise DatasetFormatError(
            f"{path}: product {codes[i]} (data row {i + 1}) has Normalized {j} = "
            f"{float(norm[i, j])!r} "
            f"but (W{j} - MIN) / (MAX - MIN) = {expected[i, j]:.2f}; expected the Normalized "
            f"columns to agree with the week columns, to 2 decimals ({int(bad.sum())} value(s) "
            "disagree)"
        )


def _check_complete(codes: pd.Series, path: Path) -> None:
    """A file in the original's product codes must hold all 811 of them, in order."""
    known = product_codes()
    position = {code: i for i, code in enumerate(known)}
    found = codes.str.strip().tolist()
    if not found or not all(code in position for code in found):
        return  # not the original's code list: no expectation of completeness to check
    if len(found) == len(known):
        return
    missing = [code for code in known if code not in set(found)]
    at_end = missing == known[len(found) :]
    shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
    where = (
        f"it ends after product {found[-1]} (data row {len(found)})"
        if at_end
        else f"{len(missing)} product(s) are missing ({shown})"
    )
    raise DatasetFormatError(
        f"{path}: {where}, but the original lists {len(known)} products P1..P{N_CODES}: the file "
        "looks truncated or has lost rows; expected every product of the original (pass "
        "complete=False to read a deliberate subset)"
    )


def fetch_real(config: dict | None = None, download: bool = True) -> Path:
    """Path to the original CSV (cache -> ``$COOKBOOK_DATA_MIRROR`` -> UCI)."""
    return fetch(SPEC, FILENAME, config=config, download=download)


def _write_csv(path: Path, codes: list[str], weeks: np.ndarray) -> None:
    lo = weeks.min(axis=1)
    hi = weeks.max(axis=1)
    span = np.where(hi > lo, hi - lo, 1)
    norm = np.round((weeks - lo[:, None]) / span[:, None], 2)
    with atomic_open(path, "w", newline="", encoding="ascii") as fh:
        fh.write(",".join(COLUMNS) + "\r\n")
        for i, code in enumerate(codes):
            cells = [code, *map(str, weeks[i]), str(lo[i]), str(hi[i])]
            cells += [f"{v:g}" for v in norm[i]]
            fh.write(",".join(cells) + "\r\n")


def _shift(series: np.ndarray, k: int) -> np.ndarray:
    """Delay (k > 0) or advance (k < 0) a series by k steps, repeating the edge value."""
    if k == 0:
        return series.copy()
    out = np.roll(series, k)
    if k > 0:
        out[:k] = series[0]
    else:
        out[k:] = series[-1]
    return out


def generate(
    folder: str | Path,
    seed: int = DEFAULTS["seed"],
    n_followers: int = DEFAULTS["n_followers"],
    n_flat: int = DEFAULTS["n_flat"],
) -> Path:
    """Write a synthetic ``Sales_Transactions_Dataset_Weekly.csv`` (and ``truth.json``).

    Planted structure, 811 products in the original's codes, shuffled across the file:

    - ``followers``: the capacity pattern, shifted by -2..+2 weeks (what a 5% DTW window on
      52 weeks absorbs), scaled to 0.4-2.2x the pattern's level, with 6% multiplicative noise
      and whole units;
    - ``flat``: a steady level with small count noise and no shape;
    - ``noisy``: the rest, like the original's mix: half low-volume sparse counts, half higher
      volume with a random trend, a random seasonal bump and noise.

    No product is constant (DTW z-normalises each series). Returns the CSV path.
    """
    folder = Path(folder)
    rng = np.random.default_rng(seed)
    codes = product_codes()
    n = len(codes)
    if n_followers + n_flat > n:
        raise ValueError(f"n_followers + n_flat must be <= {n}, got {n_followers + n_flat}")
    pattern = np.asarray(CAPACITY_PATTERN, dtype=float)
    t = np.arange(N_WEEKS)
    weeks = np.zeros((n, N_WEEKS), dtype=np.int64)
    kinds = np.array(["noisy"] * n, dtype=object)
    order = rng.permutation(n)
    follower_idx = order[:n_followers]
    flat_idx = order[n_followers : n_followers + n_flat]
    shifts = {}
    for i in follower_idx:
        k = int(rng.integers(-2, 3))
        expected = rng.uniform(0.4, 2.2) * _shift(pattern, k)
        weeks[i] = np.round(expected * rng.normal(1.0, 0.06, N_WEEKS)).clip(0)
        kinds[i] = "followers"
        shifts[codes[i]] = k
    for i in flat_idx:
        level = rng.uniform(2, 40)
        weeks[i] = np.round(level + rng.normal(0, 0.04 * level + 0.5, N_WEEKS)).clip(0)
        kinds[i] = "flat"
    for i in order[n_followers + n_flat :]:
        if rng.random() < 0.5:  # sparse, low volume
            weeks[i] = rng.poisson(rng.uniform(0.05, 4), N_WEEKS)
        else:
            level = rng.uniform(5, 45)
            trend = rng.normal(0, 0.3) * (t - t.mean()) / N_WEEKS * level
            bump = rng.uniform(0, 0.6) * level * np.sin(2 * np.pi * (t / N_WEEKS + rng.random()))
            weeks[i] = rng.poisson(np.clip(level + trend + bump, 0.1, None))
    for i in range(n):  # DTW z-normalises: a constant series has no shape at all
        if weeks[i].min() == weeks[i].max():
            weeks[i, rng.integers(N_WEEKS)] += 1
    path = folder / FILENAME
    _write_csv(path, codes, weeks)
    truth = {
        "seed": seed,
        "groups": {g: [codes[i] for i in range(n) if kinds[i] == g] for g in ("followers", "flat")},
        "follower_shifts": shifts,
    }
    write_json(folder / TRUTH_FILE, truth)
    return path


def read_truth(csv_path: str | Path) -> dict | None:
    """The planted groups of a synthetic file (``truth.json`` beside it), or None for real data."""
    sidecar = Path(csv_path).with_name(TRUTH_FILE)
    return json.loads(sidecar.read_text()) if sidecar.is_file() else None


def prepare(
    source: str = "synthetic",
    *,
    seed: int = DEFAULTS["seed"],
    n_followers: int = DEFAULTS["n_followers"],
    n_flat: int = DEFAULTS["n_flat"],
    config: dict | None = None,
) -> WeeklySalesFiles:
    """The files for ``source``: ``"synthetic"`` (generated once per parameters, cached) or
    ``"real"`` (the original CSV: cache -> ``$COOKBOOK_DATA_MIRROR`` -> UCI). The generator's
    parameters (see :func:`generate`) are ignored for ``"real"``."""
    if check_source(source) == "real":
        return WeeklySalesFiles(csv=fetch_real(config), truth=None, source=source)
    params = {"seed": seed, "n_followers": n_followers, "n_flat": n_flat}
    folder = ensure_generated(NAME, params, generate, config, version=GENERATOR_VERSION)
    return WeeklySalesFiles(csv=folder / FILENAME, truth=folder / TRUTH_FILE, source=source)
