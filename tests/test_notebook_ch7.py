"""Chapter 7 notebook (car classification): executed with papermill in smoke mode, then
what it recorded is checked: metrics.json, the MLflow run (same values), the files it wrote."""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from notebook_checks import CH7_SMOKE_FLOOR
from notebook_run import assert_logged, execute, mlflow_run

pytestmark = [pytest.mark.notebook, pytest.mark.slow]


@pytest.fixture(scope="module")
def ch7(sandbox):
    return execute("07-car-classification", sandbox, "synthetic")


def test_ch7_resnet_learns_the_car_models(ch7):
    executed, r = ch7
    assert r["n_classes"] == 4 and r["chance_accuracy"] == 0.25
    assert r["test_accuracy"] >= CH7_SMOKE_FLOOR
    import h5py

    with h5py.File(executed.parent / "cars_train.h5") as f:
        assert f["images"].dtype == np.uint8 and f["images"].shape == (1000, 48, 48, 3)
        assert f["labels"][:].min() == 0 and f["labels"][:].max() == 3
        assert f["images"][:].std() > 10  # every row was written: no blank crops
    assert not list(executed.parent.glob(".*part*"))  # nothing half-written


def test_ch7_rest_service_refuses_bad_input_and_keeps_serving(ch7):
    _, r = ch7
    assert r["rest_predictions_valid"] == 1  # a known class name and a probability in [0, 1]
    assert r["rest_bad_request_min_status"] == r["rest_bad_request_max_status"] == 400
    assert r["rest_bad_request_stack_traces"] == 0
    assert r["rest_good_after_bad_status"] == 200
    assert r["rest_latency_ms_median"] <= r["rest_latency_ms_p95"]
    assert r["predict_on_batch_ms"] < r["keras_predict_ms"]
    # the load measurement ran against the default two workers with eight clients; its speed
    # goal is a benchmark (make bench, "rest"), not a timed test
    assert (r["rest_workers"], r["rest_clients"]) == (2, 8)
    assert r["rest_concurrent_speedup"] == pytest.approx(
        r["rest_requests_per_second_concurrent"] / r["rest_requests_per_second_1_client"]
    )


def test_ch7_mlflow_models_registry_and_limits(ch7):
    import base64
    import io

    from PIL import Image

    executed, r = ch7
    run = mlflow_run(r)
    assert_logged(r, run)
    assert r["reload_max_abs_diff"] < 1e-5
    models = mlflow.search_logged_models(
        experiment_ids=[run.info.experiment_id],
        filter_string=f"source_run_id = '{run.info.run_id}'",
        output_format="list",
    )
    assert {m.name for m in models} >= {"keras_model", "car_classifier"}
    for m in models:  # a LoggedModel carries no signature; its MLmodel file does
        assert mlflow.models.get_model_info(m.model_uri).signature is not None, m.name
    client = MlflowClient()
    champion = client.get_model_version_by_alias("cookbook-car-classifier", "champion")
    assert int(champion.version) == r["registered_version"]
    pyfunc = mlflow.pyfunc.load_model("models:/cookbook-car-classifier@champion")

    def b64(img, fmt="PNG"):
        buffer = io.BytesIO()
        img.save(buffer, format=fmt)
        return base64.b64encode(buffer.getvalue()).decode()

    answer = pyfunc.predict(pd.DataFrame({"image": [b64(Image.new("RGB", (80, 50), "red"))]}))
    assert list(answer.columns) == ["class_name", "probability"]
    assert 0 <= answer["probability"].iloc[0] <= 1
    with pytest.raises(mlflow.exceptions.MlflowException, match="row 0: not a base64"):
        pyfunc.predict(pd.DataFrame({"image": ["%%%"]}))
    with pytest.raises(mlflow.exceptions.MlflowException, match="row 1: 3000 x 3000 pixels"):
        pyfunc.predict(
            pd.DataFrame(
                {"image": [b64(Image.new("RGB", (8, 8))), b64(Image.new("L", (3000, 3000)))]}
            )
        )
    with pytest.raises(mlflow.exceptions.MlflowException, match="expected 1 to 64 images"):
        pyfunc.predict(pd.DataFrame({"image": [b64(Image.new("RGB", (8, 8)))] * 65}))
    names = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"confusion_matrix.png", "augmentation.png", "server.log"} <= names


@pytest.mark.realdata
def test_ch7_real_sample_photos_go_through_the_served_model(sandbox, mirror):
    from cookbook.datasets import stanford_cars

    folder = stanford_cars.fetch_sample_images()[0].parent
    _, r = execute(
        "07-car-classification", sandbox, "real-samples", SAMPLE_IMAGES_DIR=str(folder), EPOCHS=1
    )
    assert r["rest_sample_images"] == 3


@pytest.mark.full
def test_ch7_default_settings_learn_fine_grained_models_and_augmentation_helps(sandbox):
    """The default run: fine-grained classes near the book's accuracy, and augmentation on the
    fly measurably better than the same training without it (about 6 minutes). Measured
    2026-11-29: 0.870 with augmentation, 0.667 without (100 images per class, 40 epochs); with
    150 per class and 30 epochs, 0.897 and 0.815."""
    _, r = execute("07-car-classification", sandbox, "default", SMOKE=False)
    assert r["n_classes"] == 12
    assert 0.75 <= r["test_accuracy"] <= 0.95
    assert r["test_accuracy"] >= r["no_augmentation_test_accuracy"] + 0.05
