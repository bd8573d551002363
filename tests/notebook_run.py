"""Run a chapter notebook in smoke mode and read what it recorded: shared by the per-chapter
notebook tests (tests/test_notebook_ch*.py)."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from cookbook import runner
from cookbook.io import atomic_path
from cookbook.tracking import setup_mlflow

# `make test` sets this to a folder: each chapter's default smoke run (English, embedded data)
# leaves its executed notebook there, and the book test then builds every chapter's page from
# them instead of executing the chapters again (tests/test_book.py). The runs' results go to
# results/<mode>/<chapter>.json there, where tests/test_repeat.py compares the local run with the
# same chapter's runs over Spark Connect and on the cluster (tests/test_modes.py).
EXECUTED_ENV = "COOKBOOK_TEST_EXECUTED"


def keep_results(mode: str, key: str, results: dict) -> None:
    """Under ``make test``, leave a default smoke run's results for tests/test_repeat.py."""
    keep = os.environ.get(EXECUTED_ENV)
    if not keep:
        return
    target = Path(keep) / "results" / mode / f"{key}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as tmp:
        Path(tmp).write_text(json.dumps(results, indent=1, sort_keys=True))


# MLflow announces an API it will remove with a FutureWarning, a DeprecationWarning or a logged
# "deprecated": a notebook that triggers one teaches a call its readers will have to unlearn.
MLFLOW_DEPRECATION = re.compile(
    r"mlflow\S*.*(deprecat|FutureWarning)|(deprecat|FutureWarning).*mlflow", re.IGNORECASE
)


def assert_no_mlflow_deprecation(executed: Path) -> None:
    """No output of the executed notebook carries an MLflow deprecation warning."""
    import nbformat

    nb = nbformat.read(executed, as_version=4)
    found = [
        f"cell {i}: {line.strip()[:200]}"
        for i, cell in enumerate(nb.cells)
        for out in cell.get("outputs", [])
        if out.get("output_type") == "stream"
        for line in out.get("text", "").splitlines()
        if MLFLOW_DEPRECATION.search(line)
    ]
    assert not found, f"{executed.name}: MLflow deprecation warnings\n" + "\n".join(found)


def execute(key, sandbox, tag, language="en", **params):
    """Run chapter ``key`` with SMOKE=True (and ``params``) into ``sandbox/nb-<tag>``."""
    executed, results, _ = runner.execute(
        key, sandbox / f"nb-{tag}", {"SMOKE": True, **params}, timeout=900, language=language
    )
    assert_no_mlflow_deprecation(executed)
    keep = os.environ.get(EXECUTED_ENV)
    if keep and tag == "synthetic" and language == "en" and not params:
        target = Path(keep) / key / executed.name
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(target) as tmp:
            shutil.copyfile(executed, tmp)
        keep_results("local", key, results)
    return executed, results


def mlflow_run(results):
    setup_mlflow()
    return MlflowClient().get_run(results["mlflow_run_id"])


def assert_logged(results, run):
    """Every recorded result is in the MLflow run: numbers as metrics, strings as tags; and the
    run names the data it read (``ch.log_input``), each with a fingerprint and a file source."""
    inputs = run.inputs.dataset_inputs
    assert inputs, "the chapter's run logged no input dataset"
    for entry in inputs:
        assert len(entry.dataset.digest) == 16 and entry.dataset.name, entry.dataset
        assert json.loads(entry.dataset.source)["uri"].startswith("file:///"), entry.dataset
    for key, value in results.items():
        if key == "mlflow_run_id":
            continue
        if isinstance(value, str):
            assert run.data.tags[f"result.{key}"] == value, key
        else:
            assert run.data.metrics[key] == pytest.approx(value), key
