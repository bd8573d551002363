"""``python -m cookbook.datasets list|fetch|generate|verify`` against a private cache."""

import json
import subprocess
import sys

import pytest

from cookbook.datasets import DATASETS, paysim, weekly_sales
from cookbook.datasets._fetch import sha256_of
from cookbook.datasets.cli import main

pytestmark = pytest.mark.unit


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A fresh cache folder for this test only."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("COOKBOOK__DATA__CACHE_DIR", str(folder))
    return folder


def _run(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_list_names_every_dataset(capsys, cache):
    status, out, _ = _run(capsys, "list")
    assert status == 0
    for name in DATASETS:
        assert f"{name}: " in out
        assert str(cache / "real" / name) in out
    assert "defaults n_rows=500000, seed=11" in out


def test_module_runs_as_a_command(cache):
    done = subprocess.run(
        [sys.executable, "-m", "cookbook.datasets", "list"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "weekly_sales: UCI Sales Transactions Dataset Weekly" in done.stdout


def test_generate_prints_the_folder_of_the_synthetic_files(capsys, cache):
    status, out, _ = _run(capsys, "generate", "weekly_sales", "--seed", "5")
    assert status == 0
    folder = cache / "synthetic" / "weekly_sales" / "n_flat-120_n_followers-40_seed-5"
    assert out == f"{folder}\n"
    assert json.loads((folder / "_generator.json").read_text())["params"]["seed"] == 5
    files = weekly_sales.prepare("synthetic", seed=5)  # the same folder, not generated again
    assert files.csv == folder / weekly_sales.FILENAME
    assert weekly_sales.read_truth(files.csv)["seed"] == 5

    status, out, _ = _run(capsys, "generate", "paysim", "--param", "n_rows=1000", "--seed", "2")
    assert status == 0 and out.strip().endswith("n_rows-1000_seed-2")
    assert paysim.prepare("synthetic", n_rows=1000, seed=2).csv.parent == cache / out.strip()


def test_generate_rejects_unknown_parameters(capsys, cache):
    with pytest.raises(SystemExit) as info:
        main(["generate", "paysim", "--param", "rows=10"])
    assert info.value.code == 2
    assert "no generator parameter 'rows'; known: n_rows" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["generate", "paysim", "--param", "n_rows=many"])
    assert "expected int, got 'many'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["generate", "nyc_taxi_geo"])  # the old name
    assert "invalid choice: 'nyc_taxi_geo'" in capsys.readouterr().err


def test_fetch_reports_what_it_cannot_get(capsys, cache, no_mirror):
    status, out, err = _run(capsys, "fetch", "store_item_demand")  # no public URL: no network
    assert status == 1
    assert out.startswith("store_item_demand/demand-forecasting-kernels-only.zip\tFAILED: ")
    assert "no public URL" in out and "1 file(s) could not be had" in err
    status, out, _ = _run(capsys, "fetch", "weekly_sales", "--no-download")
    assert status == 1 and "downloading disabled" in out
    status, out, _ = _run(capsys, "fetch", "weekly_sales", "--file", "nope.csv")
    assert status == 1 and "no file 'nope.csv'" in out


def test_verify_checks_the_cache(capsys, cache, no_mirror):
    status, out, err = _run(capsys, "verify", "weekly_sales")
    assert status == 0 and "\tabsent\t" in out and "0 ok, 0 MISMATCH, 1 absent" in err
    assert _run(capsys, "verify", "weekly_sales", "--strict")[0] == 1
    cached = cache / "real" / "weekly_sales" / weekly_sales.FILENAME
    cached.parent.mkdir(parents=True)
    cached.write_text("Product_Code,W0\r\n")
    status, out, _ = _run(capsys, "verify", "all")
    assert status == 1
    assert f"weekly_sales/{weekly_sales.FILENAME}\tMISMATCH\t{cached}: sha256 is" in out


@pytest.mark.realdata
def test_fetch_and_verify_the_mirror(capsys, cache, mirror):
    status, out, _ = _run(capsys, "fetch", "weekly_sales")
    assert status == 0
    name, path = out.strip().split("\t")
    assert name == f"weekly_sales/{weekly_sales.FILENAME}"
    assert path == str(mirror / weekly_sales.SPEC.files[0].mirror_path)  # read in place
    assert sha256_of(path) == weekly_sales.SPEC.files[0].sha256
    status, out, err = _run(capsys, "verify", "all")
    assert status == 0 and "MISMATCH" not in out
    assert " 0 MISMATCH" in err and out.count("\tok\t") >= 70
    status, out, _ = _run(capsys, "fetch", "paysim", "--file", paysim.REAL_SAMPLE)
    assert status == 0 and out.strip().endswith(f"paysim/{paysim.REAL_SAMPLE}")
