"""Kaggle "Store Item Demand Forecasting Challenge" (chapter 3): loader, spec, generator.

``train.csv`` has the columns ``date, store, item, sales``: daily unit sales from 2013-01-01 to
2017-12-31 for 10 stores x 50 items, 500 complete series (913,000 rows, LF line endings). The
competition download ``demand-forecasting-kernels-only.zip`` holds it with ``test.csv`` and
``sample_submission.csv``; :func:`load` reads ``train.csv`` straight from that zip, or from a
plain CSV in the same format.

The synthetic default writes a zip of the same name holding a ``train.csv`` of the same schema
and size, from a seeded simulation (see :func:`generate`). :func:`prepare` returns a
:class:`StoreItemDemandFiles` for either source.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pandas as pd

from cookbook.datasets._fetch import DownloadSpec, RemoteFile, fetch
from cookbook.datasets._files import read_text_table, write_zipped_csv
from cookbook.datasets._synthetic import check_source, ensure_generated
from cookbook.datasets.errors import DatasetFormatError

NAME = "store_item_demand"
MIRROR_DIR = "kaggle_store_item_demand"  # the folder in the mirror (shared/data/real)
ZIP_NAME = "demand-forecasting-kernels-only.zip"
MEMBER = "train.csv"
COLUMNS = ("date", "store", "item", "sales")
START, END = "2013-01-01", "2017-12-31"
N_STORES, N_ITEMS = 10, 50
GENERATOR_VERSION = 1
# The generator's parameters and their defaults (read-only), for generate() and prepare().
DEFAULTS = MappingProxyType({"seed": 3, "start": START, "end": END})

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
            mirror_path=f"{MIRROR_DIR}/{ZIP_NAME}",
        ),
    ),
    manual_instructions=(
        "This dataset needs a Kaggle account: sign in at kaggle.com, open\n"
        "https://www.kaggle.com/competitions/demand-forecasting-kernels-only/rules and accept\n"
        "the rules, create an API token (Settings > API > Create New Token, saved as\n"
        "~/.kaggle/kaggle.json), then run\n"
        "  pip install kaggle && kaggle competitions download -c demand-forecasting-kernels-only\n"
        f"and move {ZIP_NAME} to <data.cache_dir>/real/{NAME}/ (or to <mirror>/{MIRROR_DIR}/)."
    ),
)

# Day-of-week factors, Monday first: highest on Sunday, a sharp drop on Monday, then a recovery
# through the week (the shape of the real data).
WEEKDAY_FACTORS = (0.80, 0.91, 0.94, 0.99, 1.05, 1.12, 1.19)


@dataclass(frozen=True)
class StoreItemDemandFiles:
    """What :func:`prepare` returns.

    - ``archive``: ``demand-forecasting-kernels-only.zip``, holding ``train.csv`` (read it with
      :func:`load`);
    - ``source``: ``"synthetic"`` or ``"real"``.
    """

    archive: Path
    source: str


def fetch_real(config: dict | None = None) -> Path:
    """Path to the competition zip (cache -> ``$COOKBOOK_DATA_MIRROR``; no public URL)."""
    return fetch(SPEC, ZIP_NAME, config=config)


def load(
    path: str | Path,
    stores: list[int] | None = None,
    items: list[int] | None = None,
    start: str | None = None,
    complete: bool = True,
) -> pd.DataFrame:
    """Read ``train.csv`` (from the competition zip or a plain CSV) and validate it.

    Optional filters keep some stores, items, and the days from ``start`` on. Returns columns
    ``date`` (datetime64), ``store``, ``item`` (int64) and ``sales`` (float64).

    Raises :class:`DatasetFormatError` naming the file, the row or series and what was expected
    for: a damaged zip or non-UTF-8 bytes, missing columns, unparseable dates, store/item numbers
    that are not whole numbers from 1, negative or infinite sales, a (date, store, item) that
    appears twice, a series with a missing day, a series that ends before the others (a file cut
    at a row boundary), and a truncated file (a last row cut short).
    For a file covering the original's 2013-2017 (the competition's, or the generated one), it
    also checks that every series covers the same days and that all 10 stores x 50 items are
    there (pass ``complete=False`` to read a subset); in a file of your own, series that start
    late or end early are products launched or dropped part-way, not damage. These checks look
    at the whole file, before the filters. Non-numeric sales do not raise: they become NaN and
    a warning names the series, so that one bad series can be skipped without losing the others.
    """
    df, label = read_text_table(path, "sales file", member=MEMBER)
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise DatasetFormatError(
            f"{label}: missing column(s) {', '.join(missing)}; expected {', '.join(COLUMNS)}"
        )
    df = df[list(COLUMNS)]
    for col in ("store", "item"):
        values = _to_number(df[col])
        if values.isna().any() or (values != values.round()).any():
            row = int(np.flatnonzero((values.isna() | (values != values.round())).to_numpy())[0])
            raise DatasetFormatError(
                f"{label}: column {col} must hold whole numbers; data row {row + 1} has "
                f"{df[col].iloc[row]!r}"
            )
        if (values < 1).any():
            row = int(np.flatnonzero((values < 1).to_numpy())[0])
            raise DatasetFormatError(
                f"{label}: column {col} must hold {col} numbers from 1 up; data row {row + 1} "
                f"has {df[col].iloc[row]!r}"
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
    all_sales = _to_number(df["sales"])
    bad = (all_sales < 0) | np.isinf(all_sales)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise DatasetFormatError(
            f"{label}: column sales must hold non-negative finite unit counts; data row "
            f"{row + 1} (store {df['store'].iloc[row]} item {df['item'].iloc[row]}, "
            f"{df['date'].iloc[row]:%Y-%m-%d}) has {df['sales'].iloc[row]!r} "
            f"({int(bad.sum())} such row(s))"
        )
    _check_panel(df, label, complete)
    if stores:
        df = df[df["store"].isin(stores)]
    if items:
        df = df[df["item"].isin(items)]
    if start:
        df = df[df["date"] >= pd.Timestamp(start)]
    sales = all_sales.loc[df.index]
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


def _to_number(text: pd.Series) -> pd.Series:
    """Text cells as numbers, NaN where they do not parse (whole numbers take a fast path)."""
    try:
        return text.astype("int64")
    except (ValueError, OverflowError):
        return pd.to_numeric(text, errors="coerce")


def _check_panel(df: pd.DataFrame, label: str, complete: bool) -> None:
    """One row per (date, store, item); every series daily, over the same days; a full grid."""
    if df.empty:
        raise DatasetFormatError(f"{label}: the file holds a header but no data rows")
    dup = df.duplicated(["date", "store", "item"], keep=False).to_numpy()
    if dup.any():
        rows = np.flatnonzero(dup)
        first = df.iloc[rows[0]]
        twin = rows[1:][
            (df["date"].to_numpy()[rows[1:]] == first["date"])
            & (df["store"].to_numpy()[rows[1:]] == first["store"])
            & (df["item"].to_numpy()[rows[1:]] == first["item"])
        ][0]
        raise DatasetFormatError(
            f"{label}: store {first['store']} item {first['item']} on {first['date']:%Y-%m-%d} "
            f"appears twice (data rows {rows[0] + 1} and {twin + 1}); expected one row per "
            f"date, store and item ({len(rows)} rows are duplicates)"
        )
    store, item = df["store"].to_numpy(), df["item"].to_numpy()
    day = df["date"].to_numpy().astype("datetime64[D]").astype(np.int64)
    order = np.lexsort((day, item, store))
    store, item, day = store[order], item[order], day[order]
    same = (store[1:] == store[:-1]) & (item[1:] == item[:-1])
    gap = np.flatnonzero(same & (np.diff(day) != 1))
    if len(gap):
        i = int(gap[0])
        before, after = (pd.Timestamp(int(d), unit="D") for d in (day[i], day[i + 1]))
        raise DatasetFormatError(
            f"{label}: store {store[i]} item {item[i]} jumps from {before:%Y-%m-%d} to "
            f"{after:%Y-%m-%d} ({(after - before).days - 1} day(s) missing); expected one row "
            f"per day in every series ({len(gap)} gap(s) in all)"
        )
    ends = np.r_[np.flatnonzero(~same), len(day) - 1]
    starts = np.r_[0, ends[:-1] + 1]
    original = complete and len(day) and (day.min(), day.max()) == _original_span()
    # A series that ends early is what a file cut at a row boundary looks like, so it is an
    # error everywhere (complete=False reads a deliberate subset). In a file of your own, a
    # series that starts late, or a store without some item, is a product launched part-way
    # or not sold there: real, not damage (the notebook skips a series too short to model).
    edges = (("ends", ends), ("starts", starts)) if original else (("ends", ends),)
    for what, edge in edges if complete else ():
        values, counts = np.unique(day[edge], return_counts=True)
        if len(values) > 1:
            usual = values[np.argmax(counts)]
            odd = edge[day[edge] != usual][0]
            raise DatasetFormatError(
                f"{label}: store {store[odd]} item {item[odd]} {what} on "
                f"{pd.Timestamp(int(day[odd]), unit='D'):%Y-%m-%d} while {counts.max()} of the "
                f"{len(edge)} series {what[:-1]} on {pd.Timestamp(int(usual), unit='D'):%Y-%m-%d}"
                f": the file looks truncated or that series lost days; expected every series "
                "to cover the same days"
            )
    pairs = set(zip(store[starts].tolist(), item[starts].tolist(), strict=True))
    all_stores, all_items = sorted(set(store.tolist())), sorted(set(item.tolist()))
    if not original:
        return
    if len(day):
        all_stores = sorted(set(all_stores) | set(range(1, N_STORES + 1)))
        all_items = sorted(set(all_items) | set(range(1, N_ITEMS + 1)))
    lacking = [(s, i) for s in all_stores for i in all_items if (s, i) not in pairs]
    if lacking:
        s, i = lacking[0]
        raise DatasetFormatError(
            f"{label}: there is no series for store {s} item {i} ({len(lacking)} store-item "
            f"series missing of {len(all_stores)} stores x {len(all_items)} items): the file "
            "looks truncated; expected every store to sell every item (and, for a file "
            f"covering the original's {START}..{END}, its {N_STORES} stores x {N_ITEMS} items; "
            "pass complete=False to read a subset)"
        )


def _original_span() -> tuple[int, int]:
    days = pd.to_datetime([START, END]).to_numpy().astype("datetime64[D]").astype(np.int64)
    return int(days[0]), int(days[1])


def generate(
    folder: str | Path,
    seed: int = DEFAULTS["seed"],
    start: str = DEFAULTS["start"],
    end: str = DEFAULTS["end"],
) -> Path:
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


def prepare(
    source: str = "synthetic",
    *,
    seed: int = DEFAULTS["seed"],
    start: str = DEFAULTS["start"],
    end: str = DEFAULTS["end"],
    config: dict | None = None,
) -> StoreItemDemandFiles:
    """The files for ``source``: ``"synthetic"`` (generated once per parameters, cached) or
    ``"real"`` (the competition zip: cache -> ``$COOKBOOK_DATA_MIRROR``; no public URL). The
    generator's parameters (see :func:`generate`) are ignored for ``"real"``."""
    if check_source(source) == "real":
        return StoreItemDemandFiles(archive=fetch_real(config), source=source)
    params = {"seed": seed, "start": start, "end": end}
    folder = ensure_generated(NAME, params, generate, config, version=GENERATOR_VERSION)
    return StoreItemDemandFiles(archive=folder / ZIP_NAME, source=source)
