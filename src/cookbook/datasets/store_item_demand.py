"""Kaggle "Store Item Demand Forecasting Challenge" (chapter 3): loader, spec, generator.

``train.csv`` has the columns ``date, store, item, sales``: daily unit sales from 2013-01-01 to
2017-12-31 for 10 stores x 50 items, 500 complete series (913,000 rows, LF line endings). The
competition download ``demand-forecasting-kernels-only.zip`` holds it with ``test.csv`` and
``sample_submission.csv``; :func:`load` reads ``train.csv`` straight from that zip, or from a
plain CSV in the same format.

The synthetic default writes a zip of the same name holding a ``train.csv`` of the same schema
and size, from a seeded simulation (see :func:`generate`).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from cookbook.datasets._fetch import DatasetFormatError, DownloadSpec, RemoteFile, fetch
from cookbook.datasets._files import read_text_table, write_zipped_csv
from cookbook.datasets._synthetic import check_source, ensure_generated

NAME = "kaggle_store_item_demand"
ZIP_NAME = "demand-forecasting-kernels-only.zip"
MEMBER = "train.csv"
COLUMNS = ("date", "store", "item", "sales")
START, END = "2013-01-01", "2017-12-31"
N_STORES, N_ITEMS = 10, 50
GENERATOR_VERSION = 1

SPEC = DownloadSpec(
    name=NAME,
    title="Kaggle Store Item Demand Forecasting Challenge",
    homepage="https://www.kaggle.com/competitions/demand-forecasting-kernels-only/data",
    license="Kaggle competition rules (no open licence stated)",
    files=(
        RemoteFile(
            filename=ZIP_NAME,
            url=None,  # behind a Kaggle login
            sha256="805a631a417ffce418276bfc8bf5654bdc1c07aa0b433d354bf37c6a09ea8ccd",
            mirror_path=f"{NAME}/{ZIP_NAME}",
        ),
    ),
    manual_instructions=(
        "This dataset needs a Kaggle account: sign in at kaggle.com, open\n"
        "https://www.kaggle.com/competitions/demand-forecasting-kernels-only/rules and accept\n"
        "the rules, create an API token (Settings > API > Create New Token, saved as\n"
        "~/.kaggle/kaggle.json), then run\n"
        "  pip install kaggle && kaggle competitions download -c demand-forecasting-kernels-only\n"
        f"and move {ZIP_NAME} to data/real/{NAME}/ (or to <mirror>/{NAME}/)."
    ),
)

# Day-of-week factors, Monday first: highest on Sunday, a sharp drop on Monday, then a recovery
# through the week (the shape of the real data).
WEEKDAY_FACTORS = (0.80, 0.91, 0.94, 0.99, 1.05, 1.12, 1.19)


def fetch_real(config: dict | None = None) -> Path:
    """Path to the competition zip (cache -> ``$COOKBOOK_DATA_MIRROR``; no public URL)."""
    return fetch(SPEC, ZIP_NAME, config=config)


def load(
    path: str | Path,
    stores: list[int] | None = None,
    items: list[int] | None = None,
    start: str | None = None,
) -> pd.DataFrame:
    """Read ``train.csv`` (from the competition zip or a plain CSV) and validate it.

    Optional filters keep some stores, items, and the days from ``start`` on. Returns columns
    ``date`` (datetime64), ``store``, ``item`` (int64) and ``sales`` (float64).

    Missing columns, unparseable dates or store/item numbers raise :class:`DatasetFormatError`
    naming the file and column. Non-numeric sales do not: they become NaN and a warning names
    the series, so that one bad series can be skipped without losing the others.
    """
    df, label = read_text_table(path, "sales file", member=MEMBER)
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise DatasetFormatError(
            f"{label}: missing column(s) {', '.join(missing)}; expected {', '.join(COLUMNS)}"
        )
    df = df[list(COLUMNS)]
    for col in ("store", "item"):
        values = pd.to_numeric(df[col], errors="coerce")
        if values.isna().any() or (values != values.round()).any():
            row = int(np.flatnonzero((values.isna() | (values != values.round())).to_numpy())[0])
            raise DatasetFormatError(
                f"{label}: column {col} must hold whole numbers; data row {row + 1} has "
                f"{df[col].iloc[row]!r}"
            )
        df[col] = values.astype("int64")
    dates = pd.to_datetime(df["date"], format="%Y-%m-%d", errors="coerce")
    if dates.isna().any():
        row = int(np.flatnonzero(dates.isna().to_numpy())[0])
        raise DatasetFormatError(
            f"{label}: column date must hold YYYY-MM-DD dates; data row {row + 1} has "
            f"{df['date'].iloc[row]!r}"
        )
    df["date"] = dates
    if stores:
        df = df[df["store"].isin(stores)]
    if items:
        df = df[df["item"].isin(items)]
    if start:
        df = df[df["date"] >= pd.Timestamp(start)]
    sales = pd.to_numeric(df["sales"], errors="coerce")
    bad = sales.isna()
    if bad.any():
        series = df.loc[bad, ["store", "item"]].drop_duplicates()
        listed = ", ".join(f"store {s} item {i}" for s, i in series.head(5).itertuples(index=False))
        warnings.warn(
            f"{label}: column sales has {int(bad.sum())} non-numeric value(s) in "
            f"{len(series)} series ({listed}{' ...' if len(series) > 5 else ''}); "
            "they are kept as NaN so that those series can be reported and skipped",
            stacklevel=2,
        )
    df = df.assign(sales=sales.astype("float64"))
    return df.sort_values(["store", "item", "date"], kind="stable").reset_index(drop=True)


def generate(folder: str | Path, seed: int = 3, start: str = START, end: str = END) -> Path:
    """Write a synthetic ``demand-forecasting-kernels-only.zip`` holding ``train.csv``.

    Each of the 500 store-item series is Poisson counts around
    ``level x trend x yearly x weekly`` (multiplicative seasonality):

    - ``level``: a store factor times an item factor (about 15 to 90 units a day);
    - ``trend``: growth of 6-14% of the starting level per year, linear, never levelling off;
    - ``yearly``: a peak in mid-July, low in January (amplitude 0.22-0.32);
    - ``weekly``: :data:`WEEKDAY_FACTORS`, with a little per-series variation.
    """
    rng = np.random.default_rng(seed)
    dates = pd.date_range(start, end, freq="D")
    years = (dates - dates[0]).days.to_numpy() / 365.25
    doy = dates.dayofyear.to_numpy()
    weekday = dates.dayofweek.to_numpy()
    store_f = rng.uniform(0.7, 1.3, N_STORES)
    item_f = rng.uniform(18, 70, N_ITEMS)
    frames = []
    for s in range(N_STORES):
        for i in range(N_ITEMS):
            level = store_f[s] * item_f[i]
            trend = 1 + rng.uniform(0.06, 0.14) * years
            yearly = 1 + rng.uniform(0.22, 0.32) * np.cos(2 * np.pi * (doy - 196) / 365.25)
            week = np.asarray(WEEKDAY_FACTORS) * rng.normal(1, 0.015, 7)
            lam = level * trend * yearly * week[weekday]
            frames.append(
                pd.DataFrame(
                    {"store": s + 1, "item": i + 1, "sales": rng.poisson(lam)}, index=dates
                )
            )
    df = pd.concat(frames).rename_axis("date").reset_index()
    df = df.sort_values(["item", "store", "date"], kind="stable")  # the original's row order
    csv = df.to_csv(index=False, columns=list(COLUMNS), date_format="%Y-%m-%d", lineterminator="\n")
    return write_zipped_csv(Path(folder) / ZIP_NAME, MEMBER, csv)


def prepare(source: str = "synthetic", seed: int = 3, config: dict | None = None) -> Path:
    """Path to the zip for ``source`` = ``"synthetic"`` (generated once, cached) or ``"real"``."""
    if source == "real":
        return fetch_real(config)
    check_source(source)
    folder = ensure_generated(NAME, {"seed": seed}, generate, config, version=GENERATOR_VERSION)
    return folder / ZIP_NAME
