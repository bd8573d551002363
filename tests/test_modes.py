"""Every chapter, unchanged, on the other two kinds of Spark: a Spark Connect server and a
standalone cluster, each with an MLflow tracking server, all on 127.0.0.1, started from the
installed packages and stopped by process group whatever happens (``cookbook.services``).

The notebooks run in smoke mode with settings changed only through the environment, as a user
would with a profile; each must meet the same quality bars as in local mode
(``tests/notebook_checks.py``), and its run is read back from the tracking server over HTTP.
The cluster tier also kills a worker in the middle of the Prophet fan-out.

What only a cluster shows: Python UDFs and the helper package run in executor processes that
the workers launch, data paths resolve there, and MLflow logs over HTTP to a server. All of it
is marker ``modes`` and part of ``make test`` (about 20 minutes of one worker on 2 cores);
``make test TEST_MARKERS=modes`` runs it alone.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from notebook_checks import CHECKS
from notebook_run import assert_no_mlflow_deprecation, keep_results

from cookbook import runner, services
from cookbook.chapters import CHAPTERS

KEYS = [ch.key for ch in CHAPTERS]
pytestmark = pytest.mark.modes


def _run(root: Path, key: str, tag: str, **params) -> dict:
    executed, results, _ = runner.execute(key, root / tag, {"SMOKE": True, **params}, timeout=1800)
    assert_no_mlflow_deprecation(executed)
    return results


def _check_against_server(tracking: str, results: dict) -> None:
    """The run, read back over HTTP, holds every recorded number and names its input data."""
    url = f"{tracking}/api/2.0/mlflow/runs/get?run_id={results['mlflow_run_id']}"
    run = services.get_json(url)["run"]
    assert run.get("inputs", {}).get("dataset_inputs"), "no input dataset on the server's run"
    metrics = {m["key"]: m["value"] for m in run["data"]["metrics"]}
    for name, value in results.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            assert metrics[name] == pytest.approx(value), name


def _tracking_env(mp: pytest.MonkeyPatch, server) -> None:
    mp.setenv("COOKBOOK__MLFLOW__TRACKING_URI", server.url)
    mp.setenv("MLFLOW_TRACKING_URI", server.url)
    mp.setenv("COOKBOOK__MLFLOW__ARTIFACT_ROOT", "")  # the server's proxied store


# ----------------------------------------------------------------------- Spark Connect


@pytest.fixture(scope="module")
def connect(tmp_path_factory):
    root = tmp_path_factory.mktemp("connect")
    with (
        services.spark_connect_server(root, master="local[2]") as server,
        services.mlflow_server(root / "mlflow") as tracking,
        pytest.MonkeyPatch.context() as mp,
    ):
        mp.setenv("COOKBOOK__SPARK__REMOTE", server.url)
        mp.delenv("COOKBOOK__SPARK__MASTER", raising=False)
        _tracking_env(mp, tracking)
        yield root, server, tracking
    assert not server.running() and not tracking.running()


@pytest.mark.connect
@pytest.mark.slow
@pytest.mark.parametrize("key", KEYS)
def test_chapter_runs_over_spark_connect(connect, key):
    root, server, tracking = connect
    results = _run(root, key, key)
    keep_results("connect", key, results)  # compared with the local run: tests/test_repeat.py
    CHECKS[key](results)
    _check_against_server(tracking.url, results)
    assert server.running(), f"the Connect server died during {key}:\n{server.log_tail()}"


# ----------------------------------------------------------------------- standalone cluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    root = tmp_path_factory.mktemp("cluster")
    with (
        services.spark_standalone(root, workers=2) as spark_cluster,
        services.mlflow_server(root / "mlflow") as tracking,
        pytest.MonkeyPatch.context() as mp,
    ):
        mp.setenv("COOKBOOK__SPARK__MASTER", spark_cluster.master_url)
        # both fixtures live until the module ends: without this, a cluster test that runs after
        # the Connect tests would still go to the Connect server
        mp.delenv("COOKBOOK__SPARK__REMOTE", raising=False)
        mp.setenv("COOKBOOK__SPARK__DRIVER_MEMORY", "2g")
        _tracking_env(mp, tracking)
        yield root, spark_cluster, tracking
    assert not spark_cluster.master.running()
    assert not any(w.running() for w in spark_cluster.workers)


@pytest.mark.cluster
@pytest.mark.slow
@pytest.mark.parametrize("key", KEYS)
def test_chapter_runs_on_the_standalone_cluster(cluster, key):
    root, spark_cluster, tracking = cluster
    if key == "03-prophet-forecasting":
        pytest.skip("run by the worker-loss test below, twice")
    results = _run(root, key, key)
    keep_results("cluster", key, results)  # compared with the local run: tests/test_repeat.py
    CHECKS[key](results)
    _check_against_server(tracking.url, results)
    if CHAPTERS[KEYS.index(key)].uses_spark:
        apps = [a["name"] for a in spark_cluster.completed_apps()]
        assert key in apps, f"{key} did not run on the master (completed: {apps})"


def _python_task_running_under(pid: int) -> bool:
    """True when a PySpark worker process below ``pid`` has forked a task."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    stack, seen = [pid], []
    while stack:
        current = stack.pop()
        seen.append(current)
        stack.extend(children.get(current, []))
    for current in seen:
        try:
            cmd = Path(f"/proc/{current}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if b"pyspark.daemon" in cmd and children.get(current):
            return True
    return False


@pytest.mark.cluster
@pytest.mark.slow
def test_the_prophet_fan_out_survives_losing_a_worker(cluster):
    """Kill worker 2 while it runs a Python task; Spark reruns the lost tasks on worker 1 and
    the notebook records the same results as an undisturbed run."""
    root, spark_cluster, tracking = cluster
    key = "03-prophet-forecasting"
    reference = _run(root, key, "prophet-reference")
    keep_results("cluster", key, reference)  # compared with the local run: tests/test_repeat.py
    CHECKS[key](reference)
    assert len(spark_cluster.alive_workers()) == 2
    outcome: dict = {}
    thread = threading.Thread(target=lambda: outcome.update(r=_run(root, key, "prophet-fault")))
    started = time.time()
    thread.start()
    killed_at = None
    deadline = time.time() + 900
    worker = spark_cluster.workers[1]
    while thread.is_alive() and time.time() < deadline:
        if _python_task_running_under(worker.pid):
            worker.stop(grace=0.1)
            killed_at = time.time()
            break
        time.sleep(0.2)
    thread.join(timeout=1200)
    assert killed_at is not None, "worker 2 never ran a Python task to interrupt"
    assert len(spark_cluster.alive_workers()) == 1
    r = outcome["r"]
    for name in ("n_series", "holdout_smape_median", "baseline_smape_median", "prophet_win_rate",
                 "interval_coverage_median"):  # fmt: skip
        assert r[name] == pytest.approx(reference[name], rel=1e-9), name
    _check_against_server(tracking.url, r)
    record = {"killed_worker": 2, "seconds_into_run": round(killed_at - started, 1), **r}
    (root / "cluster-fault.json").write_text(json.dumps(record, indent=1))
