"""Chapter 3 notebook (Prophet forecasts per series): executed with papermill in smoke mode, then
what it recorded is checked: metrics.json, the MLflow run (same values), the files it wrote."""

from __future__ import annotations

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from notebook_run import assert_logged, execute, mlflow_run

pytestmark = [pytest.mark.notebook, pytest.mark.slow]


@pytest.fixture(scope="module")
def ch3(sandbox):
    return execute("03-prophet-forecasting", sandbox, "synthetic")


def _forecast_table(executed, name="forecast_table"):
    return pd.read_parquet(executed.parent / name)


def test_ch3_every_series_gets_history_plus_horizon_rows(ch3):
    executed, r = ch3
    table = _forecast_table(executed)
    assert r["n_series"] == 6 and r["n_series_skipped"] == 0  # smoke: 2 stores x 3 items
    assert r["origins"] == 2 and r["n_models"] == 12  # smoke: two forecast origins
    cutoff = pd.Timestamp(r["cutoff"])
    # the partition defaults to the data's last training day: reruns land in the same one
    assert r["training_date"] == r["cutoff"]
    assert table["training_date"].astype(str).unique().tolist() == [r["cutoff"]]
    for (store, item), rows in table.groupby(["store", "item"]):
        history = (rows["ds"] <= cutoff.date()).sum()
        assert history == (cutoff - pd.Timestamp("2015-01-01")).days + 1, (store, item)
        assert len(rows) == history + 90 and rows["is_holdout"].sum() == 90
        assert rows["ds"].is_unique
    assert r["table_rows"] == len(table)
    assert r["rerun_rows_unchanged"] == 1  # the notebook wrote the partition twice


def test_ch3_keeps_every_fitted_model_in_a_table(ch3):
    from prophet.serialize import model_from_json

    executed, r = ch3
    models = _forecast_table(executed, "model_table")
    assert len(models) == r["n_series"] and (models["status"] == "ok").all()
    model = model_from_json(models["model_json"].iloc[0])
    assert model.seasonality_mode == "multiplicative"
    assert model.history["ds"].max() == pd.Timestamp(r["cutoff"])  # fitted up to the cutoff


def test_ch3_intervals_contain_the_point_forecast(ch3):
    executed, r = ch3
    table = _forecast_table(executed)
    ahead, history = table[table["is_holdout"]], table[~table["is_holdout"]]
    assert (ahead["yhat_lower"] <= ahead["yhat"]).all()  # NaN would fail: every day has one
    assert (ahead["yhat"] <= ahead["yhat_upper"]).all()
    # the history is predicted without sampling: fitted values, no interval
    assert history["yhat"].notna().all() and len(history) > len(ahead)
    assert history[["yhat_lower", "yhat_upper"]].isna().all().all()
    assert 0.85 <= r["interval_coverage_median"] <= 1.0  # 95% intervals, 90 held-out days


def test_ch3_recovers_the_seasonality_and_beats_the_baselines(ch3):
    _, r = ch3
    # Poisson noise at these levels alone costs ~10-12% sMAPE; the planted trend and
    # seasonality must be recovered to get close to it
    assert r["holdout_smape_median"] < 16
    assert r["holdout_smape_median"] < r["baseline_smape_median"] - 2
    assert r["baseline_smape_median"] == min(
        r["same_day_last_year_smape_median"], r["last_week_smape_median"]
    )
    assert r["prophet_win_rate"] >= 0.8 and r["rolling_min_win_rate"] >= 0.8
    assert r["rolling_smape_spread"] < 5  # the origins agree within a few points
    assert r["insample_smape_median"] < r["baseline_smape_median"]
    assert r["swing_level_correlation"] > 0.5  # multiplicative: swings grow with the level


def test_ch3_loop_and_fan_out_agree_and_the_fan_out_time_is_accounted_for(ch3):
    executed, r = ch3
    assert r["loop_series"] == 6  # smoke: all six series (the loop takes up to 20)
    assert r["loop_spark_max_abs_diff"] == 0.0  # same function, same data, same forecast
    # the workers cannot spend more time fitting than the fan-out's core-seconds: more would
    # mean more fits at once than cores, and a busy share that explains nothing
    assert 0 < r["fit_busy_share"] <= 1
    # every sampled series is matched with its fit inside Spark. The slowdown is a ratio of two
    # timings of six fits taken at different moments of the run, while the other pytest worker
    # shares the two cores: CI has read 0.78, so only a mismatch (seconds against milliseconds,
    # fits of other series) is caught here; its size is the bench's to measure (results.md)
    assert r["fit_slowdown_series"] == r["loop_series"]
    assert 0.2 < r["fit_slowdown_in_parallel"] < 10
    # the same fan-out without the fits does strictly less, and the bound is the formula of the
    # timed passes: L / (s L / c + T), L the loop's seconds for every model
    seconds = pd.read_csv(executed.parent / "timings.csv").set_index("stage")["seconds"]
    assert r["fit_transfer_seconds"] == seconds["fit, transfer only"] < seconds["fit"]
    loop_all = 60 * r["n_series"] * r["origins"] / r["loop_models_per_minute"]
    s, c = r["fit_slowdown_in_parallel"], r["spark_cores"]
    bound = loop_all / (s * loop_all / c + r["fit_transfer_seconds"])
    assert r["fit_expected_vs_loop"] == pytest.approx(bound)
    no_slowdown = loop_all / (loop_all / c + r["fit_transfer_seconds"])
    assert r["fit_bound_vs_loop"] == pytest.approx(no_slowdown)


def test_ch3_rerun_repeats_intervals_and_partition(ch3, sandbox):
    executed, r = ch3
    again = execute(
        "03-prophet-forecasting", sandbox, "synthetic", OUTPUT_DIR=str(executed.parent)
    )[1]
    for key in ("interval_coverage_median", "holdout_smape_median", "training_date"):
        assert again[key] == r[key], key
    table = _forecast_table(executed)
    assert table["training_date"].astype(str).unique().tolist() == [r["cutoff"]]
    assert len(table) == r["table_rows"]  # replaced, not appended


def test_ch3_mlflow_has_metrics_model_and_plots(ch3):
    _, r = ch3
    run = mlflow_run(r)
    assert_logged(r, run)
    names = {a.path for a in MlflowClient().list_artifacts(run.info.run_id)}
    assert {
        "per_series_metrics.csv",
        "holdout_accuracy.png",
        "aggregate_components.png",
        "skipped_series.csv",
        "timings.csv",
    } <= names
    assert r["reloaded_model_max_abs_diff"] < 1e-6  # the logged model forecasts like the table
    assert r["reloaded_interval_max_abs_diff"] < 1e-6  # seeded: the interval repeats too
    assert run.data.params["interval_samples"] == "1000"


def test_ch3_bad_series_are_reported_and_skipped(sandbox, tmp_path):
    from cookbook.datasets import store_item_demand

    good = store_item_demand.load(
        store_item_demand.prepare("synthetic", seed=3).archive,
        stores=[1],
        items=[1, 2, 3],
        start="2015-01-01",
    )
    short = good[good["item"] == 1].tail(400).assign(store=2)
    messy = good[good["item"] == 2].assign(store=2).astype({"sales": object})
    messy.iloc[100, messy.columns.get_loc("sales")] = "n/a"
    frame = pd.concat([good, short, messy])
    path = tmp_path / "my_sales.csv"
    frame.assign(date=frame["date"].dt.strftime("%Y-%m-%d")).to_csv(path, index=False)

    executed, r = execute("03-prophet-forecasting", sandbox, "bad", DATA_PATH=str(path))
    assert r["n_series"] == 3 and r["n_series_skipped"] == 2
    skipped = pd.read_csv(executed.parent / "skipped_series.csv")
    skipped = skipped[skipped["origin"] == 0].set_index("item")
    assert "need 730" in skipped.loc[1, "status"]
    assert "non-numeric" in skipped.loc[2, "status"]
    assert set(_forecast_table(executed)["store"]) == {1}


@pytest.mark.realdata
def test_ch3_on_real_series_from_the_mirror_zip(sandbox):
    _, r = execute(
        "03-prophet-forecasting", sandbox, "real", DATA_SOURCE="real", STORES=[1, 7], ITEMS=[1, 9]
    )
    assert r["data_source"] == "real" and r["n_series"] == 4
    # measured on the full real set: Prophet ~12.5% vs 16.6% (same day last year) median sMAPE
    assert r["holdout_smape_median"] < r["baseline_smape_median"]
    assert r["holdout_smape_median"] < 20
