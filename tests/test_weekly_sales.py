import _ucrdtw
import numpy as np
import pandas as pd
import pytest

from cookbook.datasets import DatasetFormatError, weekly_sales
from cookbook.datasets._fetch import sha256_of

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sales")
    path = weekly_sales.generate(folder, seed=42)
    return path


def test_synthetic_file_has_the_original_format(synthetic):
    raw = synthetic.read_bytes()
    header, first = raw.split(b"\r\n")[:2]
    assert header.decode().split(",") == weekly_sales.COLUMNS
    assert raw.count(b"\r\n") == 812 and b"\n" not in raw.replace(b"\r\n", b"")  # CRLF only
    df = weekly_sales.load(synthetic)
    assert len(df) == 811
    assert df["Product_Code"].tolist() == weekly_sales.product_codes()
    assert "P353" not in set(df["Product_Code"]) and "P819" in set(df["Product_Code"])
    weeks = df[weekly_sales.WEEK_COLUMNS].to_numpy()
    assert (df["MIN"].to_numpy() == weeks.min(axis=1)).all()
    assert (df["MAX"].to_numpy() == weeks.max(axis=1)).all()
    expected = np.round((weeks - weeks.min(1)[:, None]) / np.ptp(weeks, axis=1)[:, None], 2)
    assert np.allclose(df[weekly_sales.NORMALIZED_COLUMNS].to_numpy(), expected)
    assert (np.ptp(weeks, axis=1) > 0).all()  # no constant series
    assert first.decode().split(",")[0] == "P1"


def test_generation_is_deterministic(tmp_path, synthetic):
    again = weekly_sales.generate(tmp_path, seed=42)
    assert sha256_of(again) == sha256_of(synthetic)
    other = weekly_sales.generate(tmp_path / "b", seed=43)
    assert sha256_of(other) != sha256_of(synthetic)


def test_planted_followers_are_what_dtw_finds_closest(synthetic):
    """The planted structure is real: with the chapter's 5% window, the products closest to
    the capacity pattern are exactly the planted followers, and the flat ones are not."""
    df = weekly_sales.load(synthetic)
    truth = weekly_sales.read_truth(synthetic)
    pattern = list(weekly_sales.CAPACITY_PATTERN)
    dist = np.array(
        [_ucrdtw.ucrdtw(list(map(float, r)), pattern, 0.05, False)[1]
         for r in df[weekly_sales.WEEK_COLUMNS].to_numpy()]
    )  # fmt: skip
    followers = set(truth["groups"]["followers"])
    order = df["Product_Code"].to_numpy()[np.argsort(dist)]
    assert set(order[: len(followers)]) == followers
    flat = df["Product_Code"].isin(truth["groups"]["flat"]).to_numpy()
    assert dist[flat].min() > dist[df["Product_Code"].isin(followers).to_numpy()].max()
    # shifts stay within what a 5% window of 52 weeks (2 weeks) absorbs
    assert set(truth["follower_shifts"].values()) <= {-2, -1, 0, 1, 2}


def _write(df, path):
    df.to_csv(path, index=False)
    return path


def test_missing_week_column_names_file_and_column(synthetic, tmp_path):
    df = pd.read_csv(synthetic).drop(columns=["W17"])
    bad = _write(df, tmp_path / "no_w17.csv")
    with pytest.raises(DatasetFormatError, match=r"no_w17\.csv: missing column\(s\) W17"):
        weekly_sales.load(bad)


def test_malformed_value_names_column_and_product(synthetic, tmp_path):
    df = pd.read_csv(synthetic)
    df["W3"] = df["W3"].astype(object)
    df.loc[5, "W3"] = "n/a"
    bad = _write(df, tmp_path / "bad_value.csv")
    code = df.loc[5, "Product_Code"]
    with pytest.raises(DatasetFormatError, match=rf"column W3 .* product {code} .*'n/a'"):
        weekly_sales.load(bad)
    df.loc[5, "W3"] = -2
    with pytest.raises(DatasetFormatError, match="non-negative whole numbers"):
        weekly_sales.load(_write(df, tmp_path / "negative.csv"))


def test_duplicate_codes_and_missing_file(synthetic, tmp_path):
    df = pd.read_csv(synthetic)
    df.loc[1, "Product_Code"] = df.loc[0, "Product_Code"]
    with pytest.raises(DatasetFormatError, match="duplicate codes"):
        weekly_sales.load(_write(df, tmp_path / "dup.csv"))
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        weekly_sales.load(tmp_path / "nope.csv")


def test_prepare_caches_synthetic_and_validates_source(sandbox):
    files = weekly_sales.prepare("synthetic", seed=5)
    assert isinstance(files, weekly_sales.WeeklySalesFiles) and files.source == "synthetic"
    path = files.csv
    assert path.is_relative_to(sandbox / "data" / "synthetic" / "weekly_sales")
    assert files.truth == path.with_name(weekly_sales.TRUTH_FILE) and files.truth.is_file()
    assert weekly_sales.read_truth(path)["seed"] == 5
    stamp = path.stat().st_mtime_ns
    assert weekly_sales.prepare("synthetic", seed=5) == files
    assert path.stat().st_mtime_ns == stamp  # not regenerated
    with pytest.raises(ValueError, match="DATA_SOURCE must be"):
        weekly_sales.prepare("csv")


@pytest.mark.realdata
def test_real_loader_reads_the_original(mirror):
    path = weekly_sales.fetch_real()
    assert path.is_relative_to(mirror)
    df = weekly_sales.load(path)
    assert df.shape == (811, 107)
    assert df["Product_Code"].tolist() == weekly_sales.product_codes()
    assert int(df[weekly_sales.WEEK_COLUMNS].to_numpy().sum()) == 375_287  # per SOURCES.md
    assert weekly_sales.read_truth(path) is None
    assert weekly_sales.prepare("real") == weekly_sales.WeeklySalesFiles(path, None, "real")
