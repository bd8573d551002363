"""The chapter helper: parameters checked before anything changes, smoke reductions, the run's
files and MLflow run, timing, and the chapter registry against the notebooks."""

from __future__ import annotations

import json
import sys

import mlflow
import nbformat
import pytest
from mlflow.tracking import MlflowClient

from cookbook import chapter as chapter_mod
from cookbook.chapter import ParameterError, check_parameters, output_dir, start
from cookbook.chapters import CHAPTERS, chapter
from cookbook.runner import notebooks_dir

pytestmark = pytest.mark.unit


def _ch1_params(tmp_path, **changes):
    values = {
        "DATA_SOURCE": "synthetic",
        "SMOKE": False,
        "OUTPUT_DIR": str(tmp_path / "out"),
        "SEED": 7,
        "AUDIO_DIR": "",
        "FASTDTW_RADIUS": 20,
        "RADII": [1, 5, 20],
        "WINDOW": 0.1,
    }
    values.update(changes)
    return values


def test_a_bad_parameter_leaves_the_previous_results_intact(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "metrics.json").write_text('{"dist_1_2": 1.0}\n')
    (out / "waveforms.png").write_bytes(b"png")
    ns = _ch1_params(tmp_path, FASTDTW_RADIUS=0, DATA_SOURCE="csv")
    with pytest.raises(ParameterError) as err:
        start("01-dtw-background", ns)
    text = str(err.value)
    assert "FASTDTW_RADIUS = 0" in text and "greater than 0" in text
    assert "DATA_SOURCE = 'csv'" in text and "'synthetic' or 'real'" in text
    assert "nothing was changed" in text
    assert json.loads((out / "metrics.json").read_text()) == {"dist_1_2": 1.0}
    assert (out / "waveforms.png").read_bytes() == b"png"
    assert mlflow.active_run() is None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"AUDIO_DIR": "/no/such/folder"}, "AUDIO_DIR = '/no/such/folder': '/no/such/folder' does"),
        ({"RADII": [1, 5]}, "FASTDTW_RADIUS=20 must be one of RADII"),
        ({"SMOKE": "yes"}, "SMOKE = 'yes': Input should be a valid boolean"),
        ({"SEED": 7.5}, "SEED = 7.5: Input should be a valid integer"),
    ],
)
def test_parameter_errors_name_the_parameter_and_the_rule(tmp_path, changes, message):
    with pytest.raises(ParameterError, match="invalid parameter") as err:
        check_parameters(chapter("1"), _ch1_params(tmp_path, **changes))
    assert message in str(err.value)


def test_a_missing_parameter_is_named(tmp_path):
    ns = _ch1_params(tmp_path)
    del ns["WINDOW"]
    with pytest.raises(ParameterError, match="does not define WINDOW"):
        check_parameters(chapter("1"), ns)


def test_smoke_reductions_are_applied_to_the_notebook_and_printed(tmp_path, capsys):
    ns = _ch1_params(tmp_path, SMOKE=True)
    ch = start("01-dtw-background", ns)
    try:
        assert ns["RADII"] == [1, 20] and ch.params.RADII == [1, 20]
        assert "SMOKE: RADII=[1, 20]" in capsys.readouterr().out
    finally:
        ch.finish()


def test_a_chapter_run_saves_logs_times_and_records(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    ns = _ch1_params(tmp_path)
    ch = start("01-dtw-background", ns)
    assert ch.out == tmp_path / "out" and ch.spark is None
    fig, ax = plt.subplots()
    ax.plot([1, 2, 3])
    ch.savefig(fig, "line.png")
    ch.save_table(pd.DataFrame({"a": [1, 2]}), "table.csv")
    with ch.timed("counting", items=10):
        sum(range(1000))
    with ch.timed("later") as stage:
        stage.items = 5
    ch.record({"dist_1_2": 3.5}, best="clip 4")
    results = ch.finish()

    assert results["dist_1_2"] == 3.5 and results["best"] == "clip 4"
    assert results["data_source"] == "synthetic" and results["mlflow_run_id"] == ch.run_id
    assert results["wall_seconds"] >= 0
    assert json.loads((ch.out / "metrics.json").read_text()) == results
    assert (ch.out / "line.png").stat().st_size > 1000
    assert pd.read_csv(ch.out / "timings.csv")["stage"].tolist() == ["counting", "later"]
    assert not list(ch.out.glob(".*part"))  # nothing half-written

    run = MlflowClient().get_run(ch.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["fastdtw_radius"] == "20" and run.data.params["radii"] == "[1, 5, 20]"
    assert run.data.metrics["dist_1_2"] == 3.5 and run.data.tags["result.best"] == "clip 4"
    assert "time_counting_s" in run.data.metrics
    assert run.data.tags["cookbook.chapter"] == "01-dtw-background"
    names = {a.path for a in MlflowClient().list_artifacts(ch.run_id)}
    assert {"line.png", "table.csv", "timings.csv"} <= names
    assert mlflow.active_run() is None


def test_an_unfinished_run_is_marked_failed_or_killed(tmp_path):
    ch = start("01-dtw-background", _ch1_params(tmp_path))
    ch.failed = True
    mlflow.end_run()  # as if the kernel went away; the atexit hook then runs
    ch._at_exit()
    assert MlflowClient().get_run(ch.run_id).info.status == "FAILED"


def test_record_reopens_the_run_after_it_was_ended(tmp_path):
    ch = start("01-dtw-background", _ch1_params(tmp_path))
    mlflow.end_run()
    ch.record({"x": 1.0})
    assert mlflow.active_run().info.run_id == ch.run_id
    ch.finish()


def test_output_dir_rules(sandbox, tmp_path):
    assert output_dir("", "99-x") == sandbox / "output" / "99-x"
    config = {"root": str(tmp_path), "output": {"dir": str(tmp_path / "o")}}
    assert output_dir("rel/dir", "99-x", config) == tmp_path / "rel" / "dir"
    assert output_dir(str(tmp_path / "abs"), "99-x", config) == tmp_path / "abs"
    assert not (tmp_path / "rel").exists()  # resolving creates nothing


def _parameters_cell(ch):
    nb = nbformat.read(notebooks_dir() / ch.notebook, as_version=4)
    (cell,) = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    namespace: dict = {}
    exec(cell.source, namespace)  # plain assignments, as papermill requires
    return {k: v for k, v in namespace.items() if not k.startswith("__")}


@pytest.mark.parametrize("ch", CHAPTERS, ids=lambda c: c.key)
def test_every_parameter_has_a_rule_and_the_defaults_pass(ch):
    params = _parameters_cell(ch)
    assert set(params) == set(ch.params.model_fields), ch.notebook
    check_parameters(ch, params)  # the notebook's own defaults are valid
    smoke = {**params, "SMOKE": True}
    model = check_parameters(ch, smoke)
    check_parameters(ch, {**smoke, **model.smoke()})  # and so are the smoke reductions


def test_quiet_sets_tensorflow_log_level(monkeypatch):
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    chapter_mod.quiet()
    import os

    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "2"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm")
def test_peak_memory_is_this_process_high_water_mark_in_mib():
    import subprocess

    code = (
        "import os, numpy as np; from cookbook.chapter import ChapterRun as C\n"
        "page = os.sysconf('SC_PAGE_SIZE')\n"
        "rss = lambda: int(open('/proc/self/statm').read().split()[1]) * page / 2**20\n"
        "now = rss(); block = np.ones(320 * 2**20 // 8); block[:] = 2\n"
        "del block; print(now, C.peak_memory_mb())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    resident, peak = map(float, out.stdout.split())
    # the 320 MiB block on top of what was resident, in MiB (not KiB or bytes); imports may
    # have peaked a little higher than the block
    assert resident + 300 <= peak < resident + 1500
