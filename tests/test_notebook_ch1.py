"""Chapter 1 notebook (DTW by hand and on speech clips): executed with papermill in smoke mode, then
what it recorded is checked: metrics.json, the MLflow run (same values), the files it wrote."""

from __future__ import annotations

import pytest
from mlflow.tracking import MlflowClient
from notebook_run import assert_logged, execute, mlflow_run

pytestmark = [pytest.mark.notebook, pytest.mark.slow]


@pytest.fixture(scope="module")
def ch1(sandbox):
    return execute("01-dtw-background", sandbox, "synthetic")


def test_ch1_teaches_dtw_on_a_toy_pair(ch1):
    _, r = ch1
    # fastdtw with a radius as wide as the series is exact; a window can only add cost;
    # lock-step matching pays for the shift everywhere
    assert r["toy_fastdtw_full_radius"] == pytest.approx(r["toy_dtw"], rel=1e-12)
    assert r["toy_window_dtw"] > r["toy_dtw"]
    assert r["toy_lockstep"] > 5 * r["toy_dtw"]


def test_ch1_records_the_ordering_it_computed(ch1):
    _, r = ch1
    assert r["data_source"] == "synthetic"
    assert r["raw_ordering_reproduced"] == int(r["dist_1_4"] < r["dist_1_3"] < r["dist_1_2"])
    assert r["mfcc_word_ordering"] == int(
        max(r["mfcc_dist_1_2"], r["mfcc_dist_1_4"]) < r["mfcc_dist_1_3"]
    )
    # fastdtw's default radius=1 can only overestimate the DTW cost
    assert r["radius1_dist_1_4"] >= r["dist_1_4"]


def test_ch1_korean_edition_runs_the_same_code_to_the_same_results(ch1, sandbox):
    # the editions share their code (tests/test_editions.py); this runs one under papermill
    executed, r = execute("01-dtw-background", sandbox, "ko", language="ko")
    assert "동적 시간 왜곡" in executed.read_text("utf-8")
    english = ch1[1]
    for key, value in english.items():
        timing = "second" in key or key.endswith("_ms")
        if isinstance(value, (int, float)) and not timing:
            assert r[key] == pytest.approx(value, rel=1e-9), key
    assert r["mlflow_run_id"] != english["mlflow_run_id"]


def test_ch1_logged_to_mlflow_with_figures(ch1):
    executed, r = ch1
    run = mlflow_run(r)
    assert_logged(r, run)
    assert run.data.params["fastdtw_radius"] == "20" and run.info.status == "FINISHED"
    names = {a.path for a in MlflowClient().list_artifacts(run.info.run_id)}
    assert {
        "waveforms.png",
        "toy_dtw.png",
        "lockstep_vs_dtw.png",
        "mfcc_warping_paths.png",
        "raw_distances.csv",
        "mfcc_distances.csv",
    } <= names
    assert (executed.parent / "waveforms.png").stat().st_size > 10_000


@pytest.mark.realdata
def test_ch1_on_real_recordings(sandbox):
    _, r = execute("01-dtw-background", sandbox, "real", DATA_SOURCE="real")
    assert r["data_source"] == "real" and r["sample_rate"] == 8000
    # FSDD: the same digit by the same speaker is closest; words rank above speakers on MFCCs
    assert r["mfcc_dist_1_4"] < r["mfcc_dist_1_2"] < r["mfcc_dist_1_3"]
    assert r["dist_1_4"] < r["dist_1_3"] < r["dist_1_2"] and r["raw_ordering_reproduced"] == 1
