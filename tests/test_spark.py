import os
import sys

import pytest

from cookbook import spark as cspark

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def session():
    s = cspark.get_spark("unit-test", **{"spark.sql.shuffle.partitions": "1"})
    yield s
    s.stop()


@pytest.mark.spark
@pytest.mark.slow
def test_session_follows_the_config_and_runs_python_workers(session):
    import pandas as pd
    from pyspark.sql.functions import pandas_udf

    conf = session.sparkContext.getConf()
    assert session.sparkContext.master == "local[*]"
    assert conf.get("spark.ui.enabled") == "false"
    assert conf.get("spark.driver.host") == "127.0.0.1"
    assert session.conf.get("spark.sql.shuffle.partitions") == "1"  # even if it was running
    assert os.environ["PYSPARK_PYTHON"] == sys.executable

    @pandas_udf("string")
    def worker_python(x: pd.Series) -> pd.Series:
        import sys as worker_sys

        return pd.Series([worker_sys.executable] * len(x))

    rows = session.range(4).select(worker_python("id").alias("py")).distinct().collect()
    assert [r.py for r in rows] == [sys.executable]  # workers run this venv's interpreter
    assert cspark.get_spark() is session  # one session per process
    cspark.get_spark(**{"spark.sql.shuffle.partitions": "3"})  # SQL settings still apply
    assert session.conf.get("spark.sql.shuffle.partitions") == "3"
    session.conf.set("spark.sql.shuffle.partitions", "1")


def test_missing_java_gives_install_instructions(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no java on PATH
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(cspark.JavaNotFoundError) as info:
        cspark.ensure_java()
    text = str(info.value)
    assert "Java 17" in text and "openjdk-17" in text and "JAVA_HOME" in text


def test_java_home_wins_over_path(monkeypatch, tmp_path):
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-such-jdk"))
    with pytest.raises(cspark.JavaNotFoundError, match="no-such-jdk/bin/java"):
        cspark.ensure_java()


def test_too_old_java_is_reported(monkeypatch, tmp_path):
    fake = tmp_path / "java"
    fake.write_text("#!/bin/sh\necho 'openjdk version \"11.0.2\" 2019-01-15' >&2\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(cspark.JavaNotFoundError, match=r"major version 11"):
        cspark.ensure_java()


@pytest.mark.spark
@pytest.mark.slow
def test_run_with_progress_reports_and_propagates(session):
    import time

    lines = []

    def slow_sum():
        import pandas as pd
        from pyspark.sql.functions import pandas_udf

        @pandas_udf("long")
        def slow(x: pd.Series) -> pd.Series:
            time.sleep(0.5)
            return x

        return (
            session.range(0, 8, numPartitions=4)
            .select(slow("id").alias("x"))
            .groupBy()
            .sum("x")
            .first()[0]
        )

    assert cspark.run_with_progress(session, slow_sum, "demo", every=0.2, echo=lines.append) == 28
    assert lines[-1].startswith("demo: finished in")
    assert any("/4 tasks done" in line for line in lines[:-1])

    def broken():
        raise ValueError("no such table")

    with pytest.raises(ValueError, match="no such table"):
        cspark.run_with_progress(session, broken, "broken", echo=lines.append)


def test_parallelism_and_description_without_a_spark_context(session):
    assert cspark.parallelism(session) == os.cpu_count()  # local[*]
    assert cspark.describe(session).startswith(f"Spark {session.version}, master local[*]")
    assert not cspark.is_connect(session)
