"""cookbook.spark against a Spark Connect server started from the installed PySpark."""

import pandas as pd  # at module level: pandas_udf resolves the type hints in the module
import pytest

from cookbook import spark as cspark

pytestmark = pytest.mark.unit


@pytest.mark.connect
@pytest.mark.slow
def test_the_same_calls_work_over_spark_connect(tmp_path, monkeypatch):
    """get_spark with spark.remote gives a Spark Connect session; parallelism, progress and a
    pandas UDF work there as in classic mode."""
    import time

    from pyspark.sql import SparkSession
    from pyspark.sql.functions import pandas_udf

    from cookbook import services

    classic = SparkSession.getActiveSession()
    if classic is not None:  # another test's session in this pytest worker; get_spark refuses
        classic.stop()  # to mix the two kinds, as it would in a notebook kernel
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
