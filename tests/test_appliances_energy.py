import zipfile

import numpy as np
import pandas as pd
import pytest

from cookbook import timeseries as ts
from cookbook.datasets import DatasetFormatError, appliances_energy

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    return appliances_energy.generate(tmp_path_factory.mktemp("ae"), seed=21)


def test_synthetic_file_has_the_original_format(synthetic):
    with zipfile.ZipFile(synthetic) as zf:
        raw = zf.read("energydata_complete.csv").decode()
    header, first = raw.split("\r\n")[:2]
    assert header == ",".join(f'"{c}"' for c in appliances_energy.COLUMNS)
    assert first.startswith('"2016-01-11 17:00:00","')
    df = appliances_energy.load(synthetic)
    assert len(df) == 19_735 and list(df.columns) == list(appliances_energy.COLUMNS)
    assert df["date"].iloc[-1] == pd.Timestamp("2016-05-27 18:00:00")
    assert (df["rv1"] == df["rv2"]).all()


def test_weather_drives_the_house(synthetic):
    df = appliances_energy.load(synthetic)
    hour = df["date"].dt.hour
    assert df.groupby(hour)["Appliances"].median().idxmax() in range(17, 21)  # evening routine
    # lights go with the load's activity within the day (the storage heater moves its level
    # from day to day, which lights know nothing about)
    within_day = df["Appliances"] - df["Appliances"].rolling(144, center=True, min_periods=1).mean()
    assert within_day.corr(df["lights"]) > 0.15
    # indoor temperature follows the outdoor one with a lag: the lagged correlation is higher
    lagged = df["T1"].corr(df["T_out"].shift(36))
    assert lagged > df["T1"].corr(df["T_out"].shift(-36))


def _write(df, path):
    df.to_csv(path, index=False)
    return path


def test_real_quirks_are_parsed(tmp_path):
    text = (
        '"date","' + '","'.join(appliances_energy.FEATURES) + '"\r\n'
        + '"2016-01-11 17:00:00","  60","30",'
        + ",".join(['" 6.5999999999999996e+00"'] * 26) + "\r\n"
    )  # fmt: skip
    path = tmp_path / "quirks.csv"
    path.write_text(text)
    df = appliances_energy.load(path)
    assert df["Appliances"].iloc[0] == 60.0 and df["T_out"].iloc[0] == pytest.approx(6.6)


def test_gap_non_numeric_and_missing_column(synthetic, tmp_path):
    df = appliances_energy.load(synthetic)
    out = df.assign(date=df["date"].dt.strftime("%Y-%m-%d %H:%M:%S"))
    with pytest.raises(DatasetFormatError, match=r"gap\.csv: .*exactly 10 minutes; row 101 goes"):
        appliances_energy.load(_write(out.drop(index=100), tmp_path / "gap.csv"))
    bad = out.astype({"T3": object})
    bad.loc[7, "T3"] = "warm"
    with pytest.raises(DatasetFormatError, match=r"column T3 must be numeric; row 8 .*'warm'"):
        appliances_energy.load(_write(bad, tmp_path / "text.csv"))
    with pytest.raises(DatasetFormatError, match=r"missing column\(s\) RH_out"):
        appliances_energy.load(_write(out.drop(columns="RH_out"), tmp_path / "norh.csv"))


def test_split_is_chronological_and_scaler_sees_train_only():
    split = ts.chronological_split(1000)
    assert split.train == (0, 700) and split.val == (700, 850) and split.test == (850, 1000)
    values = np.arange(1000.0)[:, None]
    lo, span = ts.fit_minmax(values[slice(*split.train)])
    assert lo[0] == 0 and span[0] == 699  # the test rows (850..999) never touched it
    with pytest.raises(ValueError, match="summing to 1"):
        ts.chronological_split(10, (0.5, 0.5, 0.5))


def test_windows_and_baselines_use_only_the_past():
    target = np.arange(3000.0)
    part = (1200, 3000)
    o = ts.origins(part, lookback=144, horizon=144)
    assert o[0] == 1200 + 143 and o[-1] == 3000 - 1 - 144
    b = ts.baselines(target, o, horizon=144, train_median=5.0)
    assert (b["persistence"] == target[o]).all()
    # same time of day as the forecast, on the 7 days up to the origin: o, o-144, ..., o-864
    assert b["seasonal_naive"][0] == np.median(target[o[0] - 144 * np.arange(7)])
    assert (b["seasonal_naive"] <= target[o]).all() and (b["train_median"] == 5.0).all()
    with pytest.raises(ValueError, match="too short for a lookback of 2000"):
        ts.origins((0, 1500), lookback=2000, horizon=144)
    with pytest.raises(ValueError, match="needs 864 steps of history"):
        ts.baselines(target, np.array([100]), horizon=144, train_median=0.0)


@pytest.mark.realdata
def test_real_loader_reads_the_mirror_zip(mirror):
    path = appliances_energy.fetch_real()
    assert path.is_relative_to(mirror) and path.suffix == ".zip"
    df = appliances_energy.load(path)
    assert len(df) == 19_735 and df["Appliances"].max() == 1080
