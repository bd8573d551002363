"""The one lifecycle for local services: start in a process group, wait, stop everything."""

from __future__ import annotations

import os
import sys
import time

import pandas as pd
import pytest

from cookbook import services
from cookbook.services import Service, ServiceError, free_port, http_ok, running

pytestmark = pytest.mark.unit

# a parent that starts a child in its own session's process group, then serves HTTP
SERVER = """
import http.server, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
print("child", child.pid, flush=True)
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), http.server.SimpleHTTPRequestHandler
                       ).serve_forever()
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not reaped) counts as gone
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().rsplit(")", 1)[1].split()[0] != "Z"


def test_a_service_starts_answers_and_stops_with_its_children(tmp_path):
    port = free_port()
    svc = Service("toy", [sys.executable, "-c", SERVER, str(port)], tmp_path / "toy.log")
    with running(svc):
        svc.start()
        svc.wait_until(lambda: http_ok(f"http://127.0.0.1:{port}/"), "HTTP", timeout=30)
        child = int(svc.log_path.read_text().split()[1])
        assert _alive(child)
    assert not svc.running()
    deadline = time.time() + 10
    while _alive(child) and time.time() < deadline:
        time.sleep(0.1)
    assert not _alive(child), "the child in the process group was stopped too"


# a parent that exits at once on SIGTERM, and a child that takes a second to finish its log
LINGERING = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", (
    "import signal, sys, time\\n"
    "def last_words(*_):\\n"
    "    time.sleep(1); print('child finished', flush=True); sys.exit(0)\\n"
    "signal.signal(signal.SIGTERM, last_words)\\n"
    "print('child ready', flush=True); time.sleep(600)\\n")])
time.sleep(600)
"""


def test_stop_returns_once_every_process_of_the_group_is_gone(tmp_path):
    svc = Service("lingering", [sys.executable, "-c", LINGERING], tmp_path / "l.log")
    with running(svc):
        svc.start()
        svc.wait_until(lambda: "child ready" in svc.log_path.read_text(), "the child", 30)
    # the parent died at once; stop waited for the child's last line, so the log is complete
    assert svc.log_path.read_text().splitlines()[-1] == "child finished"
    assert not services.group_running(svc.pid)


def test_a_service_that_exits_raises_with_its_log(tmp_path):
    svc = Service(
        "broken",
        [sys.executable, "-c", "import sys; print('bad flag --nope'); sys.exit(3)"],
        tmp_path / "broken.log",
    )
    with running(svc), pytest.raises(ServiceError, match="exited with code 3") as err:
        svc.start()
        svc.wait_until(lambda: False, "an answer", timeout=30)
    assert "bad flag --nope" in str(err.value) and str(svc.log_path) in str(err.value)


def test_a_silent_service_times_out_and_is_stopped(tmp_path):
    svc = Service("silent", [sys.executable, "-c", "import time; time.sleep(60)"], tmp_path / "s")
    with pytest.raises(ServiceError, match="not seen after 1 s"):
        with running(svc):
            svc.start()
            svc.wait_until(lambda: False, "a miracle", timeout=1)
    assert not svc.running()


def test_services_added_inside_the_block_are_stopped_too(tmp_path):
    """A cluster starts its master, then appends each worker to the list it is running."""
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    started: list[Service] = []
    with running(started):
        for name in ("master", "worker 1", "worker 2"):
            started.append(Service(name, sleeper, tmp_path / f"{name}.log").start())
        assert all(s.running() for s in started)
    assert not any(s.running() for s in started)


@pytest.mark.slow
def test_serve_model_answers_and_reports_bad_input(tmp_path):
    import mlflow

    from cookbook.tracking import get_experiment_id

    class Double(mlflow.pyfunc.PythonModel):
        # a module-level pandas: MLflow reads this hint (a string here) in the module's names
        def predict(self, context, model_input: pd.DataFrame, params=None):
            return model_input[["x"]] * 2

    with mlflow.start_run(experiment_id=get_experiment_id("99-services")):
        info = mlflow.pyfunc.log_model(
            name="double",
            python_model=Double(),
            input_example=pd.DataFrame({"x": [1.0]}),
        )
    with services.serve_model(info.model_uri, tmp_path / "serve.log") as server:
        ok = server.invoke({"dataframe_split": {"columns": ["x"], "data": [[2.0]]}})
        assert ok.status_code == 200 and ok.json()["predictions"][0]["x"] == 4.0
        bad = server.invoke(raw="{not json")
        assert 400 <= bad.status_code < 500 and not bad.ok
        with pytest.raises(ServiceError, match=f"model server answered {bad.status_code}: "):
            bad.raise_for_status()
        assert server.invoke({"dataframe_split": {"columns": ["x"], "data": [[1]]}}).ok
    assert not server.running()


def test_a_reply_reads_its_body_and_raises_with_the_status_and_body():
    good = services.Reply(200, b'{"predictions": [1]}')
    assert good.ok and good.json() == {"predictions": [1]} and good.raise_for_status() is None
    bad = services.Reply(400, b'{"error_code": "BAD_REQUEST", "message": "no image column"}')
    assert not bad.ok and bad.json()["error_code"] == "BAD_REQUEST"
    with pytest.raises(ServiceError, match='answered 400: {"error_code": "BAD_REQUEST"'):
        bad.raise_for_status()
    assert services.Reply(500, b"\xff not utf-8").text.endswith("not utf-8")


def test_serve_model_with_a_wrong_uri_fails_with_the_log(tmp_path):
    with pytest.raises(ServiceError, match="exited with code") as err:
        with services.serve_model("runs:/0123456789abcdef/none", tmp_path / "x.log", timeout=90):
            pass
    assert "x.log" in str(err.value)
