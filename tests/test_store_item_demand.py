import warnings
import zipfile

import numpy as np
import pandas as pd
import pytest

from cookbook.datasets import DatasetFormatError, DatasetUnavailableError, store_item_demand

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    return store_item_demand.generate(tmp_path_factory.mktemp("sid"), seed=3)


@pytest.fixture(scope="module")
def frame(synthetic):
    return store_item_demand.load(synthetic)


def test_synthetic_zip_has_the_competition_layout(synthetic, frame):
    assert synthetic.name == "demand-forecasting-kernels-only.zip"
    with zipfile.ZipFile(synthetic) as zf:
        head = zf.read("train.csv")[:60].decode()
    assert head.startswith("date,store,item,sales\n2013-01-01,1,1,")
    assert len(frame) == 913_000
    counts = frame.groupby(["store", "item"]).size()
    assert len(counts) == 500 and (counts == 1826).all()
    assert frame["date"].min() == pd.Timestamp("2013-01-01")
    assert frame["date"].max() == pd.Timestamp("2017-12-31")
    assert (frame["sales"] >= 0).all() and (frame["sales"] == frame["sales"].round()).all()


def test_planted_structure(frame):
    """Trend that keeps growing, a summer peak, Sunday high / Monday low, multiplicative."""
    yearly = frame.groupby(frame["date"].dt.year)["sales"].mean()
    assert (np.diff(yearly.to_numpy()) > 0).all()  # growth every year, no levelling off
    assert yearly[2017] - yearly[2016] > 0.5 * (yearly[2014] - yearly[2013])
    monthly = frame.groupby(frame["date"].dt.month)["sales"].mean()
    assert monthly.idxmax() == 7 and monthly.idxmin() in (1, 12)
    weekday = frame.groupby(frame["date"].dt.dayofweek)["sales"].mean()  # Monday = 0
    assert weekday.idxmax() == 6 and weekday.idxmin() == 0
    assert (np.diff(weekday.to_numpy()) > 0).all()  # recovers through the week
    # multiplicative: the July-January gap scales with the series' level
    by_series = frame.assign(m=frame["date"].dt.month).groupby(["store", "item", "m"])["sales"]
    table = by_series.mean().unstack()
    gap, level = table[7] - table[1], table.mean(axis=1)
    assert np.corrcoef(gap, level)[0, 1] > 0.9


def test_filters_and_plain_csv(synthetic, tmp_path):
    sub = store_item_demand.load(synthetic, stores=[2], items=[5, 7], start="2016-01-01")
    assert set(sub["store"]) == {2} and set(sub["item"]) == {5, 7}
    assert sub["date"].min() == pd.Timestamp("2016-01-01") and len(sub) == 2 * 731
    plain = tmp_path / "train.csv"
    sub.assign(date=sub["date"].dt.strftime("%Y-%m-%d")).to_csv(plain, index=False)
    pd.testing.assert_frame_equal(store_item_demand.load(plain), sub.reset_index(drop=True))


def test_missing_column_and_malformed_values(tmp_path):
    base = "date,store,item,sales\n2013-01-01,1,1,13\n2013-01-02,1,1,11\n"
    (tmp_path / "no_sales.csv").write_text("date,store,item\n2013-01-01,1,1\n")
    with pytest.raises(DatasetFormatError, match=r"no_sales\.csv: missing column\(s\) sales"):
        store_item_demand.load(tmp_path / "no_sales.csv")
    (tmp_path / "bad_date.csv").write_text(base + "13/01/2013,1,1,5\n")
    with pytest.raises(DatasetFormatError, match=r"column date .* row 3 has '13/01/2013'"):
        store_item_demand.load(tmp_path / "bad_date.csv")
    (tmp_path / "bad_store.csv").write_text(base + "2013-01-03,one,1,5\n")
    with pytest.raises(DatasetFormatError, match=r"column store .* 'one'"):
        store_item_demand.load(tmp_path / "bad_store.csv")


def test_non_numeric_sales_warn_and_become_missing(tmp_path):
    path = tmp_path / "messy.csv"
    path.write_text("date,store,item,sales\n2013-01-01,1,1,13\n2013-01-01,1,2,n/a\n")
    with pytest.warns(UserWarning, match=r"messy\.csv: column sales has 1 non-numeric .*item 2"):
        df = store_item_demand.load(path)
    assert df["sales"].isna().tolist() == [False, True]


def test_zip_without_train_csv_and_not_a_zip(tmp_path):
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as zf:
        zf.writestr("test.csv", "id,date,store,item\n")
    with pytest.raises(DatasetFormatError, match=r"other\.zip: the zip has no train\.csv"):
        store_item_demand.load(tmp_path / "other.zip")
    (tmp_path / "fake.zip").write_text("not a zip")
    with pytest.raises(DatasetFormatError, match=r"fake\.zip: not a valid zip"):
        store_item_demand.load(tmp_path / "fake.zip")


def test_real_data_unavailable_says_how_to_get_it(no_mirror):
    with pytest.raises(DatasetUnavailableError) as info:
        store_item_demand.fetch_real()
    text = str(info.value)
    assert "no public URL" in text and "kaggle competitions download" in text
    assert "COOKBOOK_DATA_MIRROR" in text


@pytest.mark.realdata
def test_real_loader_reads_train_csv_from_the_competition_zip(mirror):
    path = store_item_demand.fetch_real()
    assert path.is_relative_to(mirror)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the original has no malformed sales
        df = store_item_demand.load(path)
    assert len(df) == 913_000
    assert df.groupby(["store", "item"]).size().eq(1826).all()
    assert df["sales"].max() == 231
