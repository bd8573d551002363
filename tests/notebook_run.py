"""Run a chapter notebook in smoke mode and read what it recorded: shared by the per-chapter
notebook tests (tests/test_notebook_ch*.py)."""

from __future__ import annotations

import pytest
from mlflow.tracking import MlflowClient

from cookbook import runner
from cookbook.tracking import setup_mlflow


def execute(key, sandbox, tag, language="en", **params):
    """Run chapter ``key`` with SMOKE=True (and ``params``) into ``sandbox/nb-<tag>``."""
    executed, results, _ = runner.execute(
        key, sandbox / f"nb-{tag}", {"SMOKE": True, **params}, timeout=900, language=language
    )
    return executed, results


def mlflow_run(results):
    setup_mlflow()
    return MlflowClient().get_run(results["mlflow_run_id"])


def assert_logged(results, run):
    """Every recorded result is in the MLflow run: numbers as metrics, strings as tags."""
    for key, value in results.items():
        if key == "mlflow_run_id":
            continue
        if isinstance(value, str):
            assert run.data.tags[f"result.{key}"] == value, key
        else:
            assert run.data.metrics[key] == pytest.approx(value), key
