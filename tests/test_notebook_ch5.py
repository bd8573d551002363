"""Chapter 5 notebook (fraud detection with decision trees): executed with papermill in smoke
mode, then what it recorded is checked: metrics.json, the MLflow run, the files it wrote."""

from __future__ import annotations

import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from notebook_run import assert_logged, execute, mlflow_run

pytestmark = [pytest.mark.notebook, pytest.mark.slow]


@pytest.fixture(scope="module")
def ch5(sandbox):
    return execute("05-fraud-detection", sandbox, "synthetic")


def _rule(df):
    o, t = df["oldbalanceOrg"], df["type"]
    return (
        ((o <= 56900) & (t == "TRANSFER") & (df["newbalanceDest"] <= 105))
        | ((o > 56900) & (df["newbalanceOrig"] <= 12))
        | ((o > 56900) & (df["newbalanceOrig"] > 12) & (df["amount"] > 1_160_000))
    )


def _check_against_the_rule(r, csv):
    """Recompute, outside Spark, what the notebook says about the rule on its test period."""
    df = pd.read_csv(csv)
    flagged = _rule(df)
    assert r["rule_flag_rate"] == pytest.approx(flagged.mean())
    test = df["step"] >= r["test_start_step"]
    fraud = test & (df["isFraud"] == 1)
    assert r["n_fraud_test"] == fraud.sum()
    assert r["rule_recall_on_isfraud"] == pytest.approx(flagged[fraud].mean())
    assert r["rule_precision_on_isfraud"] == pytest.approx(
        (flagged & fraud).sum() / (flagged & test).sum()
    )


def test_ch5_model_chosen_on_validation_and_scored_on_a_later_test_period(ch5):
    _, r = ch5
    assert r["n_rows"] == 40_000 and r["n_rejected_rows"] == 0
    assert 0.02 <= r["rule_flag_rate"] <= 0.08
    assert 0.05 <= r["rule_flag_amount_share"] <= 0.25
    assert r["split"] == "time" and r["validation_start_step"] < r["test_start_step"]
    assert r["chosen_by"] == "validation PR AUC"
    scores = {m: r[f"{m}_validation_pr_auc"] for m in ("tuned", "balanced")}
    assert r["chosen_model"] == max(scores, key=scores.get)
    # the label is the rule, which a tree can represent: high scores are expected
    assert r["test_pr_auc"] >= 0.9 and r["test_roc_auc"] >= 0.98
    assert r["tuned_max_depth"] in (5, 10) and r["tuned_max_bins"] == 20


def test_ch5_rule_and_model_compared_on_the_same_rows(ch5):
    from cookbook.datasets import paysim

    executed, r = ch5
    _check_against_the_rule(r, paysim.prepare("synthetic", n_rows=40_000, seed=11).csv)
    assert r["operating_threshold"] == 0.5
    assert r["model_precision_vs_rule"] >= 0.9 and r["model_recall_vs_rule"] >= 0.9
    assert 0 <= r["model_recall_on_isfraud"] <= 1 and r["n_fraud_test"] > 0
    # after undersampling, the closed-form correction does not make calibration worse
    assert r["calibration_gap_balanced_calibrated"] <= r["calibration_gap_balanced_raw"] + 0.002
    queue = pd.read_csv(executed.parent / "review_queue.csv")
    assert len(queue) == 200 and queue["p_flag"].is_monotonic_decreasing
    assert r["review_queue_rule_precision"] == pytest.approx(queue["label"].mean())
    assert r["review_queue_rule_precision"] >= 0.9
    rules = (executed.parent / "tree_rules.txt").read_text()
    assert "feature " not in rules and "oldbalanceOrg" in rules


def test_ch5_mlflow_logs_both_models_and_registers_the_chosen_one(ch5):
    _, r = ch5
    parent = mlflow_run(r)
    client = MlflowClient()
    assert_logged(r, parent)
    children = client.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
    )
    assert sorted(c.data.params["balanced"] for c in children) == ["False", "True"]
    for child in children:
        assert "validation_pr_auc" in child.data.metrics and "maxDepth" in child.data.params
    champion = client.get_model_version_by_alias("cookbook-fraud-tree", "champion")
    chosen = next(c for c in children if c.info.run_name.startswith(r["chosen_model"]))
    assert champion.run_id == chosen.info.run_id
    model = mlflow.models.get_model_info(f"models:/cookbook-fraud-tree/{champion.version}")
    assert model.signature is not None and model.saved_input_example_info is not None


def test_ch5_malformed_rows_are_reported_not_fatal(sandbox, tmp_path):
    from cookbook.datasets import paysim

    path = paysim.generate(tmp_path, n_rows=20_000, seed=5)
    with open(path, "a") as fh:
        fh.write("700,PAYMENT,-12.5,C1,100.0,112.5,M2,0.0,0.0,0,0\n")
        fh.write("700,CRYPTO,10.0,C3,100.0,90.0,M4,0.0,0.0,0,0\n")
        fh.write("700,TRANSFER,12x,C5,100.0,88.0,C6,0.0,12.0,0,0\n")
    executed, r = execute("05-fraud-detection", sandbox, "bad", DATA_PATH=str(path))
    assert r["n_rows"] == 20_000 and r["n_rejected_rows"] == 3
    rejected = pd.read_csv(executed.parent / "rejected_rows.csv")
    assert sorted(rejected["reason"].str.split().str[0]) == ["amount", "amount", "type"]


@pytest.mark.realdata
def test_ch5_on_the_real_paysim_sample(sandbox):
    from cookbook.datasets import paysim

    _, r = execute("05-fraud-detection", sandbox, "real", DATA_SOURCE="real")
    assert r["n_rows"] == 33_000
    _check_against_the_rule(r, paysim.fetch_real("paysim_sample_allfraud_33k.csv"))
    assert r["test_pr_auc"] >= 0.9
    assert r["model_recall_on_isfraud"] >= 0.5
