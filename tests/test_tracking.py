import json
import math
from pathlib import Path
from urllib.parse import urlparse

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from cookbook.config import load_config
from cookbook.tracking import (
    chapter_run,
    experiment_name,
    get_experiment_id,
    read_results,
    record_results,
    setup_mlflow,
)

pytestmark = pytest.mark.unit


def test_experiment_gets_the_configured_artifact_root(sandbox):
    exp_id = get_experiment_id("99-unit-test")
    exp = MlflowClient().get_experiment(exp_id)
    assert exp.name == experiment_name("99-unit-test") == "cookbook-99-unit-test"
    location = Path(urlparse(exp.artifact_location).path)
    assert location == (sandbox / "mlruns" / "artifacts" / "cookbook-99-unit-test").resolve()
    assert get_experiment_id("99-unit-test") == exp_id  # idempotent


def test_record_results_writes_json_and_logs_the_same_values(tmp_path):
    with chapter_run("99-unit-test", run_name="r", params={"alpha": 0.5}, tags={"k": "v"}) as run:
        record_results(tmp_path, {"score": 0.25, "count": 3, "best": "P675", "ok": True})
        merged = record_results(tmp_path, {"later": 1.5})
    assert json.loads((tmp_path / "metrics.json").read_text()) == merged
    assert merged == {"score": 0.25, "count": 3, "best": "P675", "ok": 1, "later": 1.5}
    assert read_results(tmp_path) == merged

    data = MlflowClient().get_run(run.info.run_id).data
    assert data.metrics == {"score": 0.25, "count": 3.0, "ok": 1.0, "later": 1.5}
    assert data.tags["result.best"] == "P675"
    assert data.tags["cookbook.chapter"] == "99-unit-test"
    assert data.tags["k"] == "v"
    assert data.params == {"alpha": "0.5"}


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"x": math.nan}, "not a finite number"),
        ({"x": [1, 2]}, "must be a number or a string"),
        ({"": 1}, "non-empty strings"),
    ],
)
def test_record_results_rejects_what_is_not_flat(tmp_path, bad, message):
    with pytest.raises(ValueError, match=message):
        record_results(tmp_path, bad, log_to_mlflow=False)
    assert not (tmp_path / "metrics.json").exists()


def test_record_results_needs_a_run_and_read_results_reports_absence(tmp_path):
    setup_mlflow()
    assert mlflow.active_run() is None
    with pytest.raises(RuntimeError, match="no active MLflow run"):
        record_results(tmp_path, {"x": 1})
    with pytest.raises(FileNotFoundError, match="metrics.json"):
        read_results(tmp_path / "nowhere")
    assert read_results(tmp_path / "nowhere", missing_ok=True) == {}


def test_setup_mlflow_uses_the_configured_store(sandbox):
    uri = setup_mlflow()
    assert uri == load_config()["mlflow"]["tracking_uri"]
    assert mlflow.get_tracking_uri() == uri
    assert (sandbox / "mlruns").is_dir()


def test_nested_runs_land_in_the_chapter_experiment():
    with chapter_run("99-unit-test") as parent:
        with mlflow.start_run(nested=True) as child:
            pass
    client = MlflowClient()
    child_run = client.get_run(child.info.run_id)
    assert child_run.info.experiment_id == parent.info.experiment_id
    assert child_run.data.tags["mlflow.parentRunId"] == parent.info.run_id


def test_pinned_requirements_come_from_the_installed_versions():
    from importlib import metadata

    from cookbook.tracking import pinned

    assert pinned("mlflow", "numpy") == [
        f"mlflow=={metadata.version('mlflow')}",
        f"numpy=={metadata.version('numpy')}",
    ]
    with pytest.raises(ValueError, match="'no-such-dist' is not installed"):
        pinned("no-such-dist")


def test_a_data_file_is_logged_as_a_run_input_with_fingerprint_and_columns(tmp_path):
    import warnings

    import pandas as pd

    from cookbook.tracking import file_dataset, fingerprint

    frame = pd.DataFrame({"store": [1, 2], "sales": [3.5, 4.0]})
    csv = tmp_path / "train.csv"
    frame.to_csv(csv, index=False)
    with mlflow.start_run() as run, warnings.catch_warnings():
        warnings.simplefilter("error")  # no "interpreted in multiple ways", no integer hint
        mlflow.log_input(file_dataset(csv, "demand", sample=frame), context="training")
    (entry,) = MlflowClient().get_run(run.info.run_id).inputs.dataset_inputs
    assert entry.dataset.name == "demand" and entry.dataset.digest == fingerprint(csv)
    assert json.loads(entry.dataset.source)["uri"] == csv.resolve().as_uri()
    assert "store" in entry.dataset.schema and "sales" in entry.dataset.schema
    assert entry.tags[0].value == "training"


def test_the_fingerprint_follows_the_content_and_lists_folders(tmp_path):
    from cookbook.tracking import FINGERPRINT_BYTES, fingerprint

    big = tmp_path / "big.bin"
    data = bytearray(3 * FINGERPRINT_BYTES)
    big.write_bytes(data)
    before = fingerprint(big)
    data[-1] = 1  # the last MiB is read
    big.write_bytes(data)
    assert fingerprint(big) != before
    folder = tmp_path / "clips"
    folder.mkdir()
    (folder / "a.wav").write_bytes(b"12")
    listed = fingerprint(folder)
    (folder / "b.wav").write_bytes(b"3")
    assert fingerprint(folder) != listed
    with pytest.raises(FileNotFoundError, match="neither a file nor a folder"):
        fingerprint(tmp_path / "missing.csv")
