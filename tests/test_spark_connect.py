"""cookbook.spark against a Spark Connect server started from the installed PySpark."""

import pandas as pd  # at module level: pandas_udf resolves the type hints in the module
import pytest

from cookbook import spark as cspark

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def no_classic_session():
    """Stop another test's classic session in this pytest worker: get_spark refuses to mix the
    two kinds, as it would in a notebook kernel."""
    from pyspark.sql import SparkSession

    classic = SparkSession.getActiveSession()
    if classic is not None:
        classic.stop()


@pytest.mark.connect
@pytest.mark.slow
def test_the_same_calls_work_over_spark_connect(tmp_path, monkeypatch):
    """get_spark with spark.remote gives a Spark Connect session; parallelism, progress and a
    pandas UDF work there as in classic mode."""
    import time

    from pyspark.sql.functions import pandas_udf

    from cookbook import services

    with services.spark_connect_server(tmp_path, master="local[2]") as server:
        monkeypatch.setenv("COOKBOOK__SPARK__REMOTE", server.url)
        spark = cspark.get_spark("connect-test", config=None)
        try:
            assert cspark.is_connect(spark)
            assert cspark.parallelism(spark) == 2
            assert "over Spark Connect" in cspark.describe(spark)

            @pandas_udf("long")
            def slow(x: pd.Series) -> pd.Series:
                time.sleep(0.3)
                return x * 2

            lines = []
            with cspark.progress(spark, "connect demo", every=0.1, echo=lines.append):
                total = (
                    spark.range(0, 8, numPartitions=4)
                    .select(slow("id").alias("x"))
                    .agg({"x": "sum"})
                    .first()[0]
                )
            assert total == 56
            assert lines[-1].startswith("connect demo: finished in")
            assert any("tasks done" in line for line in lines[:-1])
        finally:
            spark.stop()


@pytest.mark.connect
@pytest.mark.slow
def test_the_spark_flavour_logs_and_loads_over_spark_connect(tmp_path, monkeypatch):
    """MLflow's Spark flavour copies models through the JVM gateway a Connect client lacks;
    inside tracking.spark_flavour a pipeline logs to an MLflow server (mlflow-artifacts: store)
    and loads back over Connect with the same predictions."""
    import mlflow
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.feature import VectorAssembler

    from cookbook import services
    from cookbook.tracking import pinned, spark_flavour

    with (
        services.spark_connect_server(tmp_path / "connect", master="local[2]") as server,
        services.mlflow_server(tmp_path / "mlflow") as tracking,
    ):
        monkeypatch.setenv("COOKBOOK__SPARK__REMOTE", server.url)
        monkeypatch.setenv("MLFLOW_DFS_TMP", str(tmp_path / "dfs"))  # where the server writes
        previous = mlflow.get_tracking_uri()
        mlflow.set_tracking_uri(tracking.url)
        spark = cspark.get_spark("connect-flavour", config=None)
        try:
            rows = [(float(i), float(i % 3), float(i > 9)) for i in range(20)]
            frame = spark.createDataFrame(rows, ["x", "y", "label"])
            model = Pipeline(
                stages=[VectorAssembler(inputCols=["x", "y"], outputCol="features"),
                        LogisticRegression(maxIter=20)]
            ).fit(frame)  # fmt: skip
            mlflow.set_experiment("connect-flavour")
            with mlflow.start_run(), spark_flavour(spark):
                info = mlflow.spark.log_model(
                    model, artifact_path="pipeline", pip_requirements=pinned("pyspark")
                )
                assert info.model_uri
            with spark_flavour(spark):
                loaded = mlflow.spark.load_model(info.model_uri)
            expected = [r.prediction for r in model.transform(frame).collect()]
            assert [r.prediction for r in loaded.transform(frame).collect()] == expected
            files = {a.path for a in mlflow.MlflowClient().list_artifacts(info.run_id)}
            assert files  # the run's artifacts are on the server's store
        finally:
            spark.stop()
            mlflow.set_tracking_uri(previous)
