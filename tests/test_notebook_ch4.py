"""Chapter 4 notebook (LSTM forecasting): executed with papermill in smoke mode, then
what it recorded is checked: metrics.json, the MLflow run (same values), the files it wrote."""

from __future__ import annotations

import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from notebook_run import assert_logged, execute, mlflow_run

pytestmark = [pytest.mark.notebook, pytest.mark.slow]


@pytest.fixture(scope="module")
def ch4(sandbox):
    return execute("04-lstm-forecasting", sandbox, "synthetic")


def test_ch4_early_stopping_acts_and_keeps_the_validation_epoch(ch4):
    _, r = ch4
    # smoke: patience 3, cap 15: training stopped before the cap, PATIENCE epochs after the
    # epoch validation chose, and that epoch's weights are the ones kept
    assert r["epochs_run"] < r["epoch_cap"] == 15
    assert r["best_epoch"] == r["epochs_run"] - 3


def test_ch4_lstm_beats_every_baseline_on_the_synthetic_house(ch4):
    executed, r = ch4
    assert r["n_test_windows"] > 2000
    for baseline in ("persistence_mae", "seasonal_naive_mae", "train_median_mae"):
        assert r["test_mae"] < r[baseline], baseline
    # a margin, not a tie (smaller since training stops on the validation loss: ~7% on this
    # data); the MAE-trained LSTM aims at the median and wins by much more
    assert r["test_mae"] < 0.95 * r["persistence_mae"]
    assert r["compare_loss_test_mae"] < 0.8 * r["persistence_mae"]
    assert r["lstm_beats_all_baselines"] == 1 and r["best_forecast"] in ("LSTM", "LSTM, mae loss")
    assert r["test_mae_wh"] > r["test_mae"]  # converted back to Wh with the training range
    assert 0 < r["compare_loss_test_mae"] < r["train_median_mae"]  # the MAE-loss retrain
    table = pd.read_csv(executed.parent / "comparison.csv", index_col=0)
    assert table["test MAE (scaled)"].is_monotonic_increasing  # the verdict's table, sorted


def test_ch4_spark_scoring_matches_in_process(ch4):
    _, r = ch4
    assert r["spark_scored_windows"] == r["n_test_windows"]  # one prediction per window
    assert r["spark_max_abs_diff"] < 1e-5
    # the kernel's high-water mark, read after training and again at the end (MiB, not KiB)
    assert 200 < r["training_peak_rss_mb"] <= r["peak_rss_mb"] < 64 * 1024


def test_ch4_sweep_is_tracked_and_the_best_run_chosen_by_validation(ch4):
    _, r = ch4
    parent = mlflow_run(r)
    assert_logged(r, parent)
    client = MlflowClient()
    children = client.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
    )
    # smoke: two learning rates with the MSE loss, and the best one retrained with MAE
    assert sorted(c.data.params["loss"] for c in children) == ["mae", "mse", "mse"]
    sweep = [c for c in children if c.data.params["loss"] == "mse"]
    best = min(sweep, key=lambda c: c.data.metrics["val_mae"])
    assert float(best.data.params["learning_rate"]) == r["best_learning_rate"]
    for child in children:
        assert {"units", "learning_rate", "epoch_cap", "patience", "lookback"} <= set(
            child.data.params
        )
        epochs = client.get_metric_history(child.info.run_id, "val_loss")
        assert len(epochs) == child.data.metrics["epochs_run"]  # the Keras callback, per epoch
        names = {a.path for a in client.list_artifacts(child.info.run_id)}
        assert "tensorboard" in names
    champion = client.get_model_version_by_alias("cookbook-lstm-load", "champion")
    assert champion.run_id == best.info.run_id
    info = mlflow.models.get_model_info(f"models:/cookbook-lstm-load/{champion.version}")
    assert info.signature is not None


@pytest.mark.realdata
def test_ch4_on_the_real_data_reports_the_honest_comparison(sandbox):
    # reading, windowing and the comparison on the real file: one short training is enough
    _, r = execute(
        "04-lstm-forecasting",
        sandbox,
        "real",
        DATA_SOURCE="real",
        SMOKE=False,  # the smoke reductions would replace the short training below
        LOOKBACK=144,
        LEARNING_RATES=[0.00144],
        EPOCHS=4,
        PATIENCE=2,
        COMPARE_LOSS="",
    )
    assert r["data_source"] == "real"
    # the real load is spiky: the 7-day time-of-day median is the strongest baseline there
    assert r["seasonal_naive_mae"] < r["persistence_mae"]
    for key in ("test_mae", "persistence_mae", "seasonal_naive_mae", "train_median_mae"):
        assert 0.01 < r[key] < 0.2, key
    assert r["lstm_beats_all_baselines"] in (0, 1)  # recorded whichever way it goes
