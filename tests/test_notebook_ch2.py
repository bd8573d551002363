"""Chapter 2 notebook (DTW sales trends on Spark): executed with papermill in smoke mode, then
what it recorded is checked: metrics.json, the MLflow run (same values), the files it wrote."""

from __future__ import annotations

import _ucrdtw
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from notebook_run import assert_logged, execute, mlflow_run

from cookbook.datasets import weekly_sales

pytestmark = [pytest.mark.notebook, pytest.mark.slow]


@pytest.fixture(scope="module")
def ch2(sandbox):
    return execute("02-dtw-sales-trends", sandbox, "synthetic")


def _direct_distances(csv_path, window=0.05):
    """Single-process reference: the same ucrdtw call in a plain loop, no Spark."""
    df = weekly_sales.load(csv_path)
    pattern = list(weekly_sales.CAPACITY_PATTERN)
    dist = [
        _ucrdtw.ucrdtw(list(map(float, row)), pattern, window, False)[1]
        for row in df[weekly_sales.WEEK_COLUMNS].to_numpy()
    ]
    return pd.Series(dist, index=df["Product_Code"], name="dtw_dist")


def test_ch2_spark_distances_match_a_plain_loop(ch2):
    executed, r = ch2
    dist = pd.read_csv(executed.parent / "distances.csv")
    assert list(dist.columns) == ["Product_Code", "dtw_dist"]
    assert len(dist) == r["n_products"] == 811
    reference = _direct_distances(weekly_sales.prepare("synthetic", seed=42).csv)
    got = dist.set_index("Product_Code")["dtw_dist"].reindex(reference.index)
    np.testing.assert_allclose(got.to_numpy(), reference.to_numpy(), rtol=1e-12)
    assert r["median_distance"] == pytest.approx(float(np.median(reference)))
    assert r["closest_product"] == reference.idxmin()
    assert r["farthest_product"] == reference.idxmax()


def test_ch2_spark_estimate_comes_from_the_timed_passes(ch2):
    executed, r = ch2
    seconds = pd.read_csv(executed.parent / "timings.csv").set_index("stage")["seconds"]
    loop = seconds["ucrdtw, plain loop on the driver"]
    transfer = seconds["Spark pandas UDF, transfer only"]
    # at most L / (L / c + T): the loop's seconds shared by the cores, plus the transfer alone
    assert r["spark_expected_vs_loop"] == pytest.approx(loop / (loop / r["spark_cores"] + transfer))
    assert r["products_per_second_transfer"] == pytest.approx(r["n_products"] / transfer)


def test_ch2_finds_the_planted_followers(ch2):
    _, r = ch2
    assert r["planted_followers"] == 40
    assert r["planted_recall_at_k"] >= 0.95
    truth = weekly_sales.read_truth(weekly_sales.prepare("synthetic", seed=42).csv)
    assert r["closest_product"] in truth["groups"]["followers"]
    assert r["farthest_product"] not in truth["groups"]["followers"]
    assert 0 < r["n_candidates"] < r["n_products"] / 2
    # the warping paths come from dtaidistance, whose windowed distance is ucrdtw's
    assert r["dtaidistance_max_abs_diff"] < 1e-9


def test_ch2_sweep_and_model_reload(ch2):
    _, r = ch2
    assert r["n_stretch_factors"] == 3  # smoke: 0, the window, 0.5
    assert r["median_nonincreasing"] == 1
    assert r["median_distance_no_warping"] > r["median_distance"] > r["median_distance_max_stretch"]
    assert r["model_reload_max_abs_diff"] < 1e-9
    # the reloaded model scores new products sensibly: a shifted copy of the pattern is close,
    # the reversed pattern is far
    assert r["new_product_shifted_distance"] < 0.5 * r["median_distance"]
    assert r["new_product_reversed_distance"] > r["median_distance"]


def test_ch2_mlflow_runs_models_and_artifacts(ch2):
    _, r = ch2
    client = MlflowClient()
    parent = mlflow_run(r)
    assert_logged(r, parent)
    children = client.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
    )
    assert sorted(float(c.data.params["stretch_factor"]) for c in children) == [0.0, 0.05, 0.5]
    for child in children:
        names = {a.path for a in client.list_artifacts(child.info.run_id)}
        assert {"outliers.json", "distance_histogram.png"} <= names
        assert "median_distance" in child.data.metrics
    window_run = next(c for c in children if float(c.data.params["stretch_factor"]) == 0.05)
    assert window_run.data.metrics["median_distance"] == pytest.approx(r["median_distance"])
    # the window run's model is the registered champion, loaded by alias
    champion = client.get_model_version_by_alias("cookbook-dtw-sales", "champion")
    assert champion.run_id == window_run.info.run_id
    assert int(champion.version) == r["registered_version"]
    names = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"distance_histogram.png", "warping_paths.png", "distances.csv"} <= names
    inputs = parent.inputs.dataset_inputs
    assert [d.dataset.name for d in inputs] == ["weekly_sales"]


@pytest.mark.realdata
def test_ch2_on_the_real_file_matches_the_publication(sandbox):
    executed, r = execute("02-dtw-sales-trends", sandbox, "real", DATA_SOURCE="real")
    assert r["data_source"] == "real" and r["n_products"] == 811
    # the original publication's products, same pattern, algorithm and 5% window
    assert r["closest_product"] == "P675"
    assert r["farthest_product"] == "P716"
    reference = _direct_distances(weekly_sales.fetch_real())
    assert r["median_distance"] == pytest.approx(float(np.median(reference)), rel=1e-12)
    dist = pd.read_csv(executed.parent / "distances.csv").set_index("Product_Code")["dtw_dist"]
    np.testing.assert_allclose(dist.reindex(reference.index), reference, rtol=1e-12)
    assert "planted_recall_at_k" not in r
    assert r["book_pick"] == "P202" and 1 <= r["book_pick_rank"] <= 811
