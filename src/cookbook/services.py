"""Local services started from the installed packages, each in its own process group.

One lifecycle for everything the cookbook starts beside a notebook or a test: start a command
on 127.0.0.1 with its output in a log file, wait until it answers, and stop it (and every process
it started) whatever happens, with the end of its log in the error when it never came up.

- :func:`serve_model`: ``mlflow models serve`` for a logged model (chapter 7, the benchmarks);
- :func:`mlflow_server`: an MLflow tracking server (sqlite + an artifact folder);
- :func:`spark_standalone`: a Spark standalone master and workers (``spark-class``);
- :func:`spark_connect_server`: a Spark Connect server (``spark-submit`` of the server class).

Each is a context manager yielding a :class:`Service` (or :class:`ModelServer`,
:class:`SparkCluster`) and stops it on exit.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LOOPBACK = "127.0.0.1"
BIN = Path(sys.executable).parent


class ServiceError(RuntimeError):
    """A service did not start, or stopped answering. The message ends with its log."""


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port that is free on ``host`` right now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def http_ok(url: str, timeout: float = 2.0) -> bool:
    """True when ``GET url`` answers 200 (no exception for a refused connection)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as reply:
            return reply.status == 200
    except (OSError, urllib.error.URLError):
        return False


def get_json(url: str, timeout: float = 5.0) -> Any:
    """``GET url`` and parse the JSON answer."""
    with urllib.request.urlopen(url, timeout=timeout) as reply:
        return json.loads(reply.read())


def as_user(name: str | None) -> dict[str, Any]:
    """``subprocess`` arguments that drop to user ``name`` completely (its uid, its group, no
    supplementary groups of the caller); nothing when ``name`` is None."""
    if name is None:
        return {}
    import pwd

    info = pwd.getpwnam(name)
    return {"user": info.pw_uid, "group": info.pw_gid, "extra_groups": []}


def minimal_env() -> dict[str, str]:
    """An environment with nothing of the caller's but PATH and the locale."""
    return {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TZ")}


def _env(extra: dict[str, str] | None) -> dict[str, str]:
    # the venv's bin/ first: `mlflow models serve` starts `uvicorn` by name, Spark's scripts
    # start `python3`
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    env.update(extra or {})
    return env


@dataclass
class Service:
    """One started command: its process (leader of its own process group) and its log."""

    name: str
    args: list[str]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict, repr=False)
    url: str = ""  # where it answers, when it is a server
    process: subprocess.Popen | None = field(default=None, repr=False)
    stop_signal: int = signal.SIGTERM  # the polite signal (PostgreSQL: SIGINT, a fast shutdown)
    user: str | None = None  # run as this user (root only: PostgreSQL refuses to run as root)
    clean_env: bool = False  # True: only ``env``, nothing inherited (no secrets passed on)

    def start(self) -> Service:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.args,
                env=dict(self.env) if self.clean_env else _env(self.env),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group: stopped with all it starts
                **as_user(self.user),
            )
        return self

    @property
    def pid(self) -> int:
        return self.process.pid if self.process else -1

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    def wait_until(self, check: Callable[[], bool], what: str, timeout: float) -> None:
        """Poll ``check`` until it is true; raise :class:`ServiceError` with the log if the
        process exits first or ``timeout`` seconds pass."""
        deadline = time.monotonic() + timeout
        while True:
            if not self.running():
                code = self.process.returncode if self.process else None
                raise ServiceError(
                    f"{self.name} exited with code {code} before {what}; "
                    f"log {self.log_path}:\n{self.log_tail()}"
                )
            with contextlib.suppress(OSError):
                if check():
                    return
            if time.monotonic() > deadline:
                raise ServiceError(
                    f"{self.name}: {what} not seen after {timeout:.0f} s; "
                    f"log {self.log_path}:\n{self.log_tail()}"
                )
            time.sleep(0.3)

    def stop(self, grace: float = 15.0) -> None:
        """``stop_signal`` (SIGTERM) to the process group, then SIGKILL what is left after
        ``grace`` seconds. Returns once no process of the group runs: a server's workers can
        outlive its main process and still write to the log, which must be complete before it
        is read or uploaded (a file that grows during an upload breaks the HTTP request)."""
        if self.process is None:
            return
        for sig, wait in ((self.stop_signal, grace), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                self.process.poll()
                return
            deadline = time.monotonic() + wait
            try:  # the main process first: a JVM shows as a zombie while its threads exit
                self.process.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                continue
            while time.monotonic() < deadline:
                if not group_running(self.process.pid):
                    return
                time.sleep(0.05)


def group_running(pgid: int) -> bool:
    """Whether a process of group ``pgid`` still runs. On Linux an exited process that its
    parent has not reaped yet (a zombie) does not count: it runs nothing and holds no file."""
    proc = Path("/proc")
    if not (proc / "self" / "stat").exists():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        return True
    for stat in proc.glob("[0-9]*/stat"):
        try:
            state, _ppid, group = stat.read_text().rsplit(")", 1)[1].split()[:3]
        except (OSError, ValueError):
            continue  # gone meanwhile
        if int(group) == pgid and state != "Z":
            return True
    return False


@contextlib.contextmanager
def running(services: Sequence[Service] | Service) -> Iterator[None]:
    """Stop ``services`` (last started first) when the block ends, however it ends. A list
    may grow inside the block (a cluster's workers, started one by one): whatever it holds at
    the end is stopped."""
    try:
        yield
    finally:
        for service in reversed([services] if isinstance(services, Service) else list(services)):
            service.stop()


# ----------------------------------------------------------------------- MLflow model server


@dataclass(frozen=True)
class Reply:
    """A model server's answer: the status and the body, whatever the status."""

    status_code: int
    content: bytes

    @property
    def ok(self) -> bool:
        return self.status_code < 400

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)

    def raise_for_status(self) -> None:
        """Raise :class:`ServiceError` with the status and the start of the body unless ok."""
        if not self.ok:
            raise ServiceError(f"model server answered {self.status_code}: {self.text[:500]}")


@dataclass
class ModelServer(Service):
    """``mlflow models serve`` on loopback; :meth:`invoke` posts to ``/invocations``.

    The client is the standard library's ``http.client``, one connection per request. Clients
    and server share the machine's cores in a load test, and ``requests`` costs more CPU per
    request: on two cores, eight threads of it left the server less (265 against 347 requests
    per second in one measurement, same server and payloads). Keep-alive connections were
    slower still, about 40 ms per request on loopback: the signature of Nagle's algorithm
    meeting delayed ACKs."""

    def invoke(
        self, payload: Any = None, raw: str | bytes | None = None, timeout: float = 60
    ) -> Reply:
        """POST a JSON payload (or ``raw`` bytes) to ``/invocations``; return the :class:`Reply`
        (any status: the caller checks it)."""
        body = raw if raw is not None else json.dumps(payload)
        body = body.encode("utf-8") if isinstance(body, str) else body
        host, port = self.url.removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
        try:  # headers and body go out in one write (bytes body): no Nagle delay
            connection.request(
                "POST", "/invocations", body=body, headers={"Content-Type": "application/json"}
            )
            answer = connection.getresponse()
            return Reply(answer.status, answer.read())
        finally:
            connection.close()


@contextlib.contextmanager
def serve_model(
    model_uri: str,
    log_path: str | os.PathLike,
    *,
    port: int | None = None,
    workers: int = 1,
    timeout: float = 180,
    tracking_uri: str | None = None,
    env: dict[str, str] | None = None,
) -> Iterator[ModelServer]:
    """Serve ``model_uri`` with ``mlflow models serve`` in this Python environment on a free
    loopback port; yield the :class:`ModelServer` once ``/ping`` answers; stop it on exit.

    ``tracking_uri`` defaults to MLflow's current one (so ``runs:/`` and ``models:/`` URIs
    resolve). A server that exits or stays silent raises :class:`ServiceError` with its log.
    """
    import mlflow

    port = port or free_port()
    server = ModelServer(
        name=f"model server for {model_uri}",
        args=[
            str(BIN / "mlflow"),
            "models",
            "serve",
            "-m",
            model_uri,
            "--env-manager",
            "local",
            "-h",
            LOOPBACK,
            "-p",
            str(port),
            "-w",
            str(workers),
        ],
        log_path=Path(log_path),
        env={"MLFLOW_TRACKING_URI": tracking_uri or mlflow.get_tracking_uri(), **(env or {})},
        url=f"http://{LOOPBACK}:{port}",
    )
    server.start()
    with running(server):
        server.wait_until(lambda: http_ok(f"{server.url}/ping"), "an answer on /ping", timeout)
        yield server


# ----------------------------------------------------------------------- MLflow tracking server


@contextlib.contextmanager
def mlflow_server(root: str | os.PathLike, *, timeout: float = 120) -> Iterator[Service]:
    """An MLflow tracking server on loopback: sqlite store and proxied artifacts under ``root``.
    The yielded service's ``url`` is the tracking URI."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    server = Service(
        name="mlflow server",
        args=[
            str(BIN / "mlflow"),
            "server",
            "--host",
            LOOPBACK,
            "--port",
            str(port),
            "--workers",
            "1",
            "--backend-store-uri",
            f"sqlite:///{root / 'mlflow.db'}",
            "--artifacts-destination",
            str(root / "artifacts"),
        ],
        log_path=root / "mlflow-server.log",
        url=f"http://{LOOPBACK}:{port}",
    )
    server.start()
    with running(server):
        server.wait_until(lambda: http_ok(f"{server.url}/health"), "an answer on /health", timeout)
        yield server


# ----------------------------------------------------------------------- Spark


def spark_home() -> Path:
    """The pip-installed PySpark's folder (it holds ``bin/`` and ``jars/``)."""
    import pyspark

    return Path(pyspark.__file__).parent


def _spark_env() -> dict[str, str]:
    return {
        "SPARK_HOME": str(spark_home()),
        "SPARK_LOCAL_IP": LOOPBACK,
        "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable,
    }


@dataclass
class SparkCluster:
    """A standalone master and its workers; ``master_url`` is what a session connects to."""

    master: Service
    workers: list[Service]
    master_url: str
    ui_url: str

    def alive_workers(self) -> list[dict]:
        return [w for w in get_json(f"{self.ui_url}/json/")["workers"] if w["state"] == "ALIVE"]

    def completed_apps(self) -> list[dict]:
        return get_json(f"{self.ui_url}/json/")["completedapps"]


@contextlib.contextmanager
def spark_standalone(
    root: str | os.PathLike,
    *,
    workers: int = 2,
    cores_per_worker: int = 1,
    memory_per_worker: str = "3g",
    timeout: float = 90,
) -> Iterator[SparkCluster]:
    """A Spark standalone cluster on loopback, from the installed PySpark's ``spark-class``
    (the pip package ships no ``sbin/start-*.sh``)."""
    root = Path(root)
    spark_class = str(spark_home() / "bin" / "spark-class")
    port, ui = free_port(), free_port()
    master = Service(
        name="spark master",
        args=[
            spark_class,
            "org.apache.spark.deploy.master.Master",
            "--host",
            LOOPBACK,
            "--port",
            str(port),
            "--webui-port",
            str(ui),
        ],
        log_path=root / "master.log",
        env=_spark_env(),
    )
    cluster = SparkCluster(master, [], f"spark://{LOOPBACK}:{port}", f"http://{LOOPBACK}:{ui}")
    services = [master]
    with running(services):
        master.start()
        master.wait_until(
            lambda: get_json(f"{cluster.ui_url}/json/")["status"] == "ALIVE", "ALIVE", timeout
        )
        for i in range(1, workers + 1):
            work = root / f"worker{i}"
            work.mkdir(parents=True, exist_ok=True)
            worker = Service(
                name=f"spark worker {i}",
                args=[
                    spark_class,
                    "org.apache.spark.deploy.worker.Worker",
                    "--host",
                    LOOPBACK,
                    "--cores",
                    str(cores_per_worker),
                    "--memory",
                    memory_per_worker,
                    "--work-dir",
                    str(work),
                    "--webui-port",
                    str(free_port()),
                    cluster.master_url,
                ],
                log_path=root / f"worker{i}.log",
                env=_spark_env(),
            )
            services.append(worker.start())
            cluster.workers.append(worker)
        master.wait_until(
            lambda: len(cluster.alive_workers()) == workers, f"{workers} workers", timeout
        )
        yield cluster


@contextlib.contextmanager
def spark_connect_server(
    root: str | os.PathLike,
    *,
    master: str = "local[2]",
    conf: dict[str, str] | None = None,
    timeout: float = 180,
) -> Iterator[Service]:
    """A Spark Connect server on a free loopback port, started with ``spark-submit --class
    org.apache.spark.sql.connect.service.SparkConnectServer`` from the installed PySpark (its
    jar ships in ``pyspark/jars/``). The yielded service's ``url`` is ``sc://127.0.0.1:PORT``."""
    root = Path(root)
    port = free_port()
    settings = {
        "spark.connect.grpc.binding.address": LOOPBACK,
        "spark.connect.grpc.binding.port": str(port),
        "spark.driver.bindAddress": LOOPBACK,
        "spark.driver.host": LOOPBACK,
        "spark.ui.enabled": "false",
        **(conf or {}),
    }
    args = [
        str(spark_home() / "bin" / "spark-submit"),
        "--master",
        master,
        "--class",
        "org.apache.spark.sql.connect.service.SparkConnectServer",
    ]
    for key, value in settings.items():
        args += ["--conf", f"{key}={value}"]
    from cookbook.postgis import jdbc_driver_jar

    jar = jdbc_driver_jar()
    if jar:  # JDBC reads run in the server: it needs the driver (chapter 8)
        args += ["--jars", str(jar)]
    args.append("spark-internal")
    server = Service(
        name="spark connect server",
        args=args,
        log_path=root / "connect.log",
        env=_spark_env(),
        url=f"sc://{LOOPBACK}:{port}",
    )
    server.start()

    def listening() -> bool:
        with socket.create_connection((LOOPBACK, port), timeout=2):
            return True

    with running(server):
        server.wait_until(listening, f"a listener on port {port}", timeout)
        yield server
