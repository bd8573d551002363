"""UCI "Appliances energy prediction" (chapter 4): loader, download spec, simulator.

``energydata_complete.csv`` (Candanedo et al. 2017; CC BY 4.0): 19,735 rows at a strict
10-minute step from 2016-01-11 17:00 to 2016-05-27 18:00. Columns: ``date``, ``Appliances``
(the target, Wh), ``lights`` (Wh), ``T1..T9`` and ``RH_1..RH_9`` (room temperatures and
humidities), ``T_out``, ``Press_mm_hg``, ``RH_out``, ``Windspeed``, ``Visibility``,
``Tdewpoint``, and two random variables ``rv1``, ``rv2``. The file quotes every field and pads
some numbers with spaces (``"  60"``, ``" 6.5999999999999996e+00"``); :func:`load` handles that
and checks the 10-minute index.

The synthetic default (:func:`generate`) writes the same columns and cadence from a simulated
house: weather drives the indoor climate with lags, appliance load follows daily and weekly
routines with spikes and rises in cold spells, and lights go with the load. :func:`prepare`
returns an :class:`AppliancesEnergyFiles` for either source.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pandas as pd

from cookbook.datasets._fetch import DownloadSpec, RemoteFile, fetch
from cookbook.datasets._files import read_text_table, write_zipped_csv
from cookbook.datasets._synthetic import check_source, ensure_generated
from cookbook.datasets.errors import DatasetFormatError, DatasetUnavailableError

NAME = "appliances_energy"
MIRROR_DIR = "uci_appliances_energy"  # the folder in the mirror (shared/data/real)
CSV_NAME = "energydata_complete.csv"
ZIP_NAME = "energydata_complete.zip"
TARGET = "Appliances"
ROOMS = range(1, 10)
FEATURES = (
    "Appliances", "lights",
    *[c for i in ROOMS for c in (f"T{i}", f"RH_{i}")],
    "T_out", "Press_mm_hg", "RH_out", "Windspeed", "Visibility", "Tdewpoint", "rv1", "rv2",
)  # fmt: skip
COLUMNS = ("date", *FEATURES)
STEP = pd.Timedelta(minutes=10)
START, END = "2016-01-11 17:00:00", "2016-05-27 18:00:00"
GENERATOR_VERSION = 2
# The generator's parameters and their defaults (read-only), for generate() and prepare().
DEFAULTS = MappingProxyType({"seed": 21})

SPEC = DownloadSpec(
    name=NAME,
    title="UCI Appliances energy prediction",
    homepage="https://archive.ics.uci.edu/dataset/374/appliances+energy+prediction",
    license="CC BY 4.0 (L. Candanedo, V. Feldheim, D. Deramaix, 2017)",
    files=(
        RemoteFile(
            filename=CSV_NAME,
            url="https://archive.ics.uci.edu/ml/machine-learning-databases/00374/"
            "energydata_complete.csv",
            sha256="2820bf712ad0275cb18b85a05250926100d8e65ebb9f4d2d016ca91ea152a25d",
            mirror_path=f"{MIRROR_DIR}/{CSV_NAME}",
        ),
        RemoteFile(
            filename=ZIP_NAME,  # the same CSV, zipped (as mirrored)
            url=None,
            sha256="78519cd2bc0535406c5fabdb921ca10ed7174b9ff09854932e85263bc4deb502",
            mirror_path=f"{MIRROR_DIR}/{ZIP_NAME}",
        ),
    ),
)


@dataclass(frozen=True)
class AppliancesEnergyFiles:
    """What :func:`prepare` returns.

    - ``data``: the energy data, ``energydata_complete.zip`` (synthetic, or the mirrored zip)
      or ``energydata_complete.csv`` (the UCI download); :func:`load` reads either;
    - ``source``: ``"synthetic"`` or ``"real"``.
    """

    data: Path
    source: str


def fetch_real(config: dict | None = None) -> Path:
    """The original data: the zipped copy if cached or mirrored, else the CSV (cache ->
    ``$COOKBOOK_DATA_MIRROR`` -> UCI download)."""
    try:
        return fetch(SPEC, ZIP_NAME, config=config, download=False)
    except DatasetUnavailableError:
        return fetch(SPEC, CSV_NAME, config=config)


# The physically possible range of each measured column (inclusive); values outside are
# errors. The original stays well inside: energies 0..1080 Wh, indoor 14..30 C, RH 1..100 %,
# pressure 729..772 mm Hg.
RANGES = {
    "Appliances": (0.0, 100_000.0),  # Wh per 10 minutes
    "lights": (0.0, 100_000.0),
    **{f"T{i}": (-60.0, 70.0) for i in ROOMS},  # Celsius
    **{f"RH_{i}": (0.0, 100.0) for i in ROOMS},  # percent
    "T_out": (-60.0, 60.0),
    "Press_mm_hg": (0.0, 1100.0),
    "RH_out": (0.0, 100.0),
    "Windspeed": (0.0, 150.0),  # m/s
    "Visibility": (0.0, 1000.0),  # km
    "Tdewpoint": (-80.0, 40.0),
}


def load(path: str | Path, complete: bool = True) -> pd.DataFrame:
    """Read and validate the energy data (zip or CSV); return ``date`` + 28 float columns.

    Raises :class:`DatasetFormatError` naming the file and the problem: a damaged zip or
    non-UTF-8 bytes, a missing column, a value that is not a finite number (column and row),
    a value outside its physical range (:data:`RANGES`: negative energy, humidity above 100 %,
    ...), an unparseable date, a break in the strict 10-minute index (the first gap or repeat,
    with its timestamps), or a truncated file: a last row cut short, or a file named like the
    original (``energydata_complete.csv``/``.zip``, as the synthetic copy is) that does not
    cover the original's whole period (pass ``complete=False`` to read such a part).
    """
    df, label = read_text_table(path, "energy data file")
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise DatasetFormatError(f"{label}: missing column(s) {', '.join(missing)}")
    if df.empty:
        raise DatasetFormatError(f"{label}: the file holds a header but no data rows")
    out = pd.DataFrame({"date": pd.to_datetime(df["date"].str.strip(), errors="coerce")})
    if out["date"].isna().any():
        row = int(np.flatnonzero(out["date"].isna().to_numpy())[0])
        raise DatasetFormatError(
            f"{label}: column date: row {row + 1} has {df['date'].iloc[row]!r}, "
            "expected 'YYYY-MM-DD HH:MM:SS'"
        )
    for col in FEATURES:
        values = pd.to_numeric(df[col].str.strip(), errors="coerce")
        if values.isna().any():
            row = int(np.flatnonzero(values.isna().to_numpy())[0])
            raise DatasetFormatError(
                f"{label}: column {col} must be numeric; row {row + 1} "
                f"({df['date'].iloc[row]}) has {df[col].iloc[row]!r}"
            )
        lo, hi = RANGES.get(col, (-np.inf, np.inf))
        bad = ~np.isfinite(values) | (values < lo) | (values > hi)
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            expected = f"between {lo:g} and {hi:g}" if col in RANGES else "a finite number"
            raise DatasetFormatError(
                f"{label}: column {col}: row {row + 1} ({df['date'].iloc[row].strip()}) has "
                f"{df[col].iloc[row].strip()!r}; expected {expected} ({int(bad.sum())} such "
                "value(s))"
            )
        out[col] = values.astype("float64")
    steps = out["date"].diff().iloc[1:]
    bad = steps != STEP
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0]) + 1
        before, after = out["date"].iloc[i - 1], out["date"].iloc[i]
        raise DatasetFormatError(
            f"{label}: the index must advance by exactly 10 minutes; row {i + 1} goes from "
            f"{before} to {after}"
        )
    first, last = out["date"].iloc[0], out["date"].iloc[-1]
    named_complete = {Path(path).name, label.rsplit(":", 1)[-1]} & {CSV_NAME, ZIP_NAME}
    if complete and named_complete and (first, last) != (pd.Timestamp(START), pd.Timestamp(END)):
        n_rows = int((pd.Timestamp(END) - pd.Timestamp(START)) / STEP) + 1
        raise DatasetFormatError(
            f"{label}: the data run from {first} to {last} ({len(out)} rows) but "
            f"{CSV_NAME} (the original, and the synthetic copy) runs from {START} to {END} "
            f"({n_rows} rows): the file looks truncated; expected the whole period (pass "
            "complete=False to read a part, or give the part another file name)"
        )
    return out


# --------------------------------------------------------------------------- simulator


def _ar1(rng, n, phi, sigma):
    """A stationary AR(1) series: slowly wandering noise."""
    x = np.empty(n)
    x[0] = rng.normal(0, sigma / np.sqrt(1 - phi**2))
    shocks = rng.normal(0, sigma, n)
    for t in range(1, n):
        x[t] = phi * x[t - 1] + shocks[t]
    return x


def _lagged(x, steps):
    """Exponential smoothing with a time constant of ``steps``: a lagged, damped response."""
    alpha = 1 / steps
    out = np.empty_like(x)
    out[0] = x[0]
    for t in range(1, len(x)):
        out[t] = out[t - 1] + alpha * (x[t] - out[t - 1])
    return out


def simulate(seed: int = DEFAULTS["seed"], start: str = START, end: str = END) -> pd.DataFrame:
    """The simulated house (see :func:`generate`) as a DataFrame."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range(start, end, freq=STEP)
    n = len(dates)
    hour = dates.hour.to_numpy() + dates.minute.to_numpy() / 60
    days = (dates - dates[0]).total_seconds().to_numpy() / 86400
    weekend = dates.dayofweek.to_numpy() >= 5

    # weather: a spring warming trend, a daily cycle, multi-day fronts
    front = _ar1(rng, n, 0.9985, 0.09)  # ~4-day memory
    t_out = 1.5 + 0.085 * days + 3.5 * np.sin(2 * np.pi * (hour - 9) / 24) + 2.2 * front
    rh_out = np.clip(82 - 2.2 * (t_out - t_out.mean()) / 2 + _ar1(rng, n, 0.995, 1.0), 24, 100)
    press = 756 + 6 * _ar1(rng, n, 0.999, 0.045)
    wind = np.clip(4 + 2.2 * _ar1(rng, n, 0.99, 0.14), 0, 14)
    visibility = np.clip(40 + 10 * _ar1(rng, n, 0.995, 0.1), 1, 66)
    a, b = 17.27, 237.7
    gamma = a * t_out / (b + t_out) + np.log(rh_out / 100)
    dewpoint = b * gamma / (a - gamma)

    # occupancy: weekday mornings and evenings, most of the weekend day; some days away
    # trips away of 2-5 days, about one a fortnight: today's absence predicts tomorrow's
    n_days = int(days[-1]) + 1
    away_days = np.zeros(n_days, dtype=bool)
    for first in np.flatnonzero(rng.random(n_days) < 1 / 14):
        away_days[first : first + rng.integers(2, 6)] = True
    away = away_days[days.astype(int)]
    weekday_home = ((hour >= 6.5) & (hour < 8)) | ((hour >= 17) & (hour < 23.5))
    weekend_home = (hour >= 8.5) & (hour < 23.5)
    home = np.where(weekend, weekend_home, weekday_home) & ~away
    awake_dark = home & ((hour < 8) | (hour >= 18))

    # indoor climate: heating to ~21 C when home, drifting with the lagged outdoor temperature
    outdoor_lag = _lagged(t_out, 36)  # ~6 hours
    heating = _lagged(home.astype(float), 6)
    room_offset = rng.normal(0, 1.0, 9)
    temps = {}
    hums = {}
    for i in ROOMS:
        base = 17.5 + room_offset[i - 1] + 0.18 * outdoor_lag + 3.0 * heating
        temps[i] = base + rng.normal(0, 0.08, n)
        hums[i] = 38 + 0.12 * (rh_out - 80) - 0.4 * (base - 21) + _ar1(rng, n, 0.99, 0.25)
    temps[6] = outdoor_lag + rng.normal(0, 0.3, n)  # T6: outside the building, north side
    hums[6] = np.clip(rh_out + rng.normal(0, 2, n), 1, 99.9)

    # appliance load: fridge cycling, routines when home, cooking and laundry spikes,
    # extra heating load in cold spells
    fridge = 45 + 10 * (np.sin(2 * np.pi * np.arange(n) / 9) > 0.3)
    routine = home * (30 + 25 * weekend)
    # a storage heater charges by the previous day's weather: its load follows the outdoor
    # temperature of 24 hours earlier (observable a day ahead, unlike routines and spikes)
    yesterday = np.r_[np.full(144, outdoor_lag[0]), outdoor_lag[:-144]]
    heat_load = 24.0 * np.clip(15 - yesterday, 0, None)
    cooking = home * ((np.abs(hour - 18.75) < 0.75) | (weekend & (np.abs(hour - 12.5) < 0.5)))
    spikes = cooking * rng.gamma(16.0, 10, n) + (rng.random(n) < 0.002) * rng.gamma(2, 150, n)
    appliances = fridge + routine + heat_load + spikes + rng.gamma(2, 3, n)
    appliances = np.clip(np.round(appliances / 10) * 10, 10, 1080)
    lights = np.where(awake_dark, 10 * rng.integers(1, 5, n), 0) * (rng.random(n) < 0.8)
    hums[1] = hums[1] + 6 * cooking  # the kitchen steams up when cooking
    rv = rng.uniform(0, 50, n)

    frame = {"date": dates, "Appliances": appliances, "lights": lights}
    for i in ROOMS:
        frame[f"T{i}"], frame[f"RH_{i}"] = temps[i], np.clip(hums[i], 1, 99.9)
    frame.update(
        {"T_out": t_out, "Press_mm_hg": press, "RH_out": rh_out, "Windspeed": wind,
         "Visibility": visibility, "Tdewpoint": dewpoint, "rv1": rv, "rv2": rv}
    )  # fmt: skip
    return pd.DataFrame(frame)[list(COLUMNS)]


def generate(folder: str | Path, seed: int = DEFAULTS["seed"]) -> Path:
    """Write a synthetic ``energydata_complete.zip`` in the original's format.

    The simulated house, 10-minute steps over the original's dates:

    - weather: a spring warming trend, a daily cycle and multi-day fronts; humidity, pressure,
      wind, visibility and a dew point consistent with them;
    - the rooms' temperatures follow the outdoor temperature with a ~6-hour lag, plus heating
      when someone is home; humidities follow the outdoor air, and the kitchen's cooking;
    - occupancy follows weekday and weekend routines, with some days away;
    - the appliance load is a fridge's cycle, plus routines and cooking spikes when someone is
      home (trips away last 2-5 days), plus a storage heater whose load follows the outdoor
      temperature of the previous day; lights go on when someone is home in the dark. So
      history and the other sensors predict the load beyond a time-of-day profile.

    Every field is quoted and the target is space-padded, as in the original file.
    """
    df = simulate(seed)
    buf = io.StringIO()
    writer = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    stamps = df["date"].dt.strftime("%Y-%m-%d %H:%M:%S").to_numpy()
    values = df[list(FEATURES)].to_numpy()
    for stamp, row in zip(stamps, values, strict=True):
        writer.writerow([stamp, f"{int(row[0]):4d}", f"{int(row[1])}",
                         *[repr(float(v)) for v in row[2:]]])  # fmt: skip
    return write_zipped_csv(Path(folder) / ZIP_NAME, CSV_NAME, buf.getvalue())


def prepare(
    source: str = "synthetic", *, seed: int = DEFAULTS["seed"], config: dict | None = None
) -> AppliancesEnergyFiles:
    """The files for ``source``: ``"synthetic"`` (simulated once per seed, cached) or ``"real"``
    (the zip if cached or mirrored, else the CSV from UCI). ``seed`` is ignored for ``"real"``."""
    if check_source(source) == "real":
        return AppliancesEnergyFiles(data=fetch_real(config), source=source)
    folder = ensure_generated(NAME, {"seed": seed}, generate, config, version=GENERATOR_VERSION)
    return AppliancesEnergyFiles(data=folder / ZIP_NAME, source=source)
