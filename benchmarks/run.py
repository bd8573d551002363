"""Benchmarks: how each chapter's cost grows with its data, as ratios to a baseline of the same run.

``make bench`` runs ``python benchmarks/run.py``; ``--smoke`` shrinks every size (the tests run
that). Each measurement is repeated (``--repeats``, median reported, all times kept) because
the machine is noisy; every variant is compared with a baseline measured in the same run, and
the absolute numbers and data sizes are kept next to the ratio. Results go to
``benchmarks/results.json`` and ``benchmarks/results.md`` (written atomically).

Benchmarks (``--only`` picks some):

- ``dtw``: products per second for ucrdtw and fastdtw, Spark (all local cores) against a
  single-process loop; baseline: the ucrdtw loop at the same size.
- ``prophet``: 500 store-item models through Spark ``applyInPandas`` against a sequential loop
  in one process; speed-up, parallel efficiency, models per minute.
- ``pip``: point in polygon against 263 zones: plain GeoPandas on one core (baseline),
  GeoPandas ``sjoin`` per partition in Spark, the H3 cell-centre join (with its agreement), and
  the per-row shapely UDF (on a sample).
- ``pathology``: patch extraction with OpenSlide, patches per second per core, Spark against a
  single-process loop (baseline); InceptionV3 features, images per second at 128 and 299 px.
- ``fraud``: chapter 5's stages (rules, split, one tree fit, the 3x3 cross-validation grid) at
  the notebook's 500,000 rows (baseline) and the original's 6,362,620; peak memory of the Spark
  JVM (in local mode the driver and the executors share it) and of the Python driver.
- ``rest``: a base64-image pyfunc model (chapter 7's interface) served by ``mlflow models
  serve``: single-image latency (median, p95) against calling the model in-process (baseline),
  and requests per second from 8 concurrent clients (bounded in count and time).
- ``lstm``: the chapter-4 LSTM's training windows per second at the full 864-step lookback
  against the notebook's default (every 6th step, baseline), and the process's peak memory.

``--only`` merges its rows into an existing ``results.json``, replacing only the benchmarks it
ran, so one benchmark can be re-measured without the others.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
SIZES = {
    "dtw": {"full": [811, 100_000, 1_000_000], "smoke": [811, 3_000]},
    "prophet": {"full": [500], "smoke": [6]},
    "pip": {"full": [1_000_000, 10_000_000], "smoke": [20_000]},
    "pathology": {"full": [400], "smoke": [40]},
    "lstm": {"full": [5_000], "smoke": [1_000]},
    "fraud": {"full": [500_000, 6_362_620], "smoke": [20_000, 40_000]},
    "rest": {"full": [400], "smoke": [30]},
}


def measure(action: Callable[[], object], repeats: int) -> tuple[float, list[float]]:
    """Median wall seconds of ``repeats`` runs of ``action`` (and all of them)."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        action()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


def row(bench, variant, size, unit, seconds, times, items, baseline=None, **extra):
    out = {
        "benchmark": bench,
        "variant": variant,
        "size": size,
        "seconds": round(seconds, 4),
        "seconds_all": [round(t, 4) for t in times],
        "throughput": items / seconds,
        "unit": unit,
        **extra,
    }
    if baseline is not None:
        out["baseline"] = baseline["variant"]
        out["ratio_vs_baseline"] = out["throughput"] / baseline["throughput"]
    return out


# ----------------------------------------------------------------------------- DTW


def bench_dtw(spark, sizes, repeats, cores, smoke=False):
    import _ucrdtw
    from fastdtw import fastdtw
    from pyspark.sql import functions as F

    from cookbook.datasets import weekly_sales

    base = weekly_sales.load(weekly_sales.prepare("synthetic"))[weekly_sales.WEEK_COLUMNS]
    base = base.to_numpy(dtype=float)
    query = np.asarray(weekly_sales.CAPACITY_PATTERN, dtype=float)
    rows = []
    for n in sizes:
        rng = np.random.default_rng(n)
        series = base[rng.integers(0, len(base), n)] * rng.normal(1, 0.05, (n, base.shape[1]))
        series[:, 0] += 1e-3 * np.arange(n) % 1  # no two identical (and none constant)

        def loop_ucrdtw(series=series):
            return [_ucrdtw.ucrdtw(s, query, 0.05, False)[1] for s in series]

        def loop_fastdtw(series=series):
            return [fastdtw(s, query, radius=1)[0] for s in series]

        sdf = (
            spark.createDataFrame(pd.DataFrame({"id": np.arange(n), "w": list(series)}))
            .repartition(2 * cores)
            .cache()
        )
        sdf.count()

        @F.pandas_udf("double")
        def ucr(w: pd.Series) -> pd.Series:
            import _ucrdtw

            dist = [_ucrdtw.ucrdtw(np.array(s, dtype=float), query, 0.05, False)[1] for s in w]
            return pd.Series(dist)

        @F.pandas_udf("double")
        def fast(w: pd.Series) -> pd.Series:
            from fastdtw import fastdtw

            return pd.Series([fastdtw(np.array(s, dtype=float), query, radius=1)[0] for s in w])

        def spark_run(udf, sdf=sdf):
            sdf.select(udf("w")).write.format("noop").mode("overwrite").save()

        base_s, base_t = measure(loop_ucrdtw, repeats)
        baseline = row("dtw", "ucrdtw, 1-process loop", n, "products/s", base_s, base_t, n)
        rows.append({**baseline, "ratio_vs_baseline": 1.0, "baseline": baseline["variant"]})
        for variant, action in (
            (f"ucrdtw, Spark {cores} cores", lambda: spark_run(ucr)),
            ("fastdtw, 1-process loop", loop_fastdtw),
            (f"fastdtw, Spark {cores} cores", lambda: spark_run(fast)),
        ):
            s, t = measure(action, repeats)
            rows.append(row("dtw", variant, n, "products/s", s, t, n, baseline))
        sdf.unpersist()
    return rows


# ----------------------------------------------------------------------------- Prophet


def bench_prophet(spark, sizes, repeats, cores, smoke=False):
    import logging

    from cookbook.datasets import store_item_demand

    logging.getLogger("cmdstanpy").setLevel(logging.WARNING)
    sales = store_item_demand.load(store_item_demand.prepare("synthetic"))
    sales = sales.rename(columns={"date": "ds", "sales": "y"})[["ds", "store", "item", "y"]]
    sales["ds"] = pd.to_datetime(sales["ds"])
    sales = sales[sales["ds"] >= "2015-01-01"]  # two years of history per series
    rows = []
    for n in sizes:
        keys = sales[["store", "item"]].drop_duplicates().head(n)
        data = sales.merge(keys, on=["store", "item"])

        def fit_one(history: pd.DataFrame) -> pd.DataFrame:
            import logging

            from cmdstanpy.utils import get_logger
            from prophet import Prophet

            get_logger().setLevel(logging.WARNING)
            model = Prophet(weekly_seasonality=True, yearly_seasonality=True,
                            daily_seasonality=False, seasonality_mode="multiplicative")  # fmt: skip
            model.fit(history[["ds", "y"]])
            fc = model.predict(model.make_future_dataframe(periods=90, include_history=False))
            first = history.iloc[:1]
            return first[["store", "item"]].assign(yhat_sum=float(fc["yhat"].sum()))

        def loop(data=data):
            return pd.concat([fit_one(g) for _, g in data.groupby(["store", "item"])])

        sdf = spark.createDataFrame(data).cache()
        sdf.count()

        def fan_out(sdf=sdf):
            result = (
                sdf.repartition(4 * cores, "store", "item")
                .groupBy("store", "item")
                .applyInPandas(fit_one, "store long, item long, yhat_sum double")
            )
            result.write.format("noop").mode("overwrite").save()

        base_s, base_t = measure(loop, repeats)
        baseline = row(
            "prophet", "sequential loop, 1 process", n, "models/min", base_s, base_t, 60 * n
        )
        rows.append({**baseline, "ratio_vs_baseline": 1.0, "baseline": baseline["variant"]})
        s, t = measure(fan_out, repeats)
        r = row(
            "prophet",
            f"Spark applyInPandas, {cores} cores",
            n,
            "models/min",
            s,
            t,
            60 * n,
            baseline,
        )
        r["parallel_efficiency"] = r["ratio_vs_baseline"] / cores
        rows.append(r)
        sdf.unpersist()
    return rows


# ----------------------------------------------------------------------------- point in polygon


def bench_pip(spark, sizes, repeats, cores, smoke=False):
    import geopandas as gpd
    import h3
    import shapely
    from h3.api import basic_int
    from pyspark.sql import functions as F

    from cookbook.datasets import nyc_taxi

    boroughs = nyc_taxi.build_city(8)
    zones = nyc_taxi.build_zones(boroughs, 263, 8)
    zone_table = pd.DataFrame(zones.drop(columns="geometry")).assign(
        wkb=shapely.to_wkb(zones.geometry.to_numpy())
    )
    zones_bc = spark.sparkContext.broadcast(zone_table)

    def point_in_zone(lon, lat, polygons):
        pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")
        joined = gpd.sjoin(
            pts, polygons[["LocationID", "geometry"]], how="left", predicate="within"
        )
        joined = joined[~joined.index.duplicated()]
        return joined["LocationID"].to_numpy()

    def sjoin_partition(batches):
        table = zones_bc.value
        geoms = shapely.from_wkb(table["wkb"])
        polygons = gpd.GeoDataFrame(table.drop(columns="wkb"), geometry=geoms, crs="EPSG:4326")
        for pdf in batches:
            ids = point_in_zone(pdf["lon"], pdf["lat"], polygons)
            yield pd.DataFrame({"id": pdf["id"], "zone": pd.array(ids, dtype="Int64")})

    res = 8
    fill = []
    for lid, geom in zip(zones["LocationID"], zones.geometry, strict=True):
        fill += [
            (h3.str_to_int(c), int(lid)) for c in h3.h3shape_to_cells(h3.geo_to_h3shape(geom), res)
        ]
    cells = pd.DataFrame(fill, columns=["cell", "zone_h3"]).drop_duplicates("cell")

    @F.pandas_udf("long")
    def to_cell(lat: pd.Series, lon: pd.Series) -> pd.Series:
        return pd.Series(
            [basic_int.latlng_to_cell(a, b, res) for a, b in zip(lat, lon, strict=True)]
        )

    shapes = list(zip(zones["LocationID"].astype(int), zones.geometry, strict=True))

    @F.udf("long")
    def zone_of(lon, lat):
        p = shapely.Point(lon, lat)
        for lid, shape in shapes:
            if shape.contains(p):
                return lid
        return None

    rows = []
    for n in sizes:
        trips = nyc_taxi.simulate_trips(zones, boroughs, n, seed=n % 1000, zero_share=0,
                                        outside_share=0.01, far_share=0)  # fmt: skip
        pdf = pd.DataFrame(
            {"id": np.arange(n), "lon": trips["pickup_longitude"], "lat": trips["pickup_latitude"]}
        )
        del trips
        sdf = spark.createDataFrame(pdf).repartition(2 * cores).cache()
        sdf.count()
        exact = point_in_zone(pdf["lon"], pdf["lat"], zones)

        base_s, base_t = measure(
            lambda pdf=pdf: point_in_zone(pdf["lon"], pdf["lat"], zones), repeats
        )
        baseline = row("pip", "plain GeoPandas sjoin, 1 core", n, "points/s", base_s, base_t, n)
        rows.append(
            {
                **baseline,
                "ratio_vs_baseline": 1.0,
                "baseline": baseline["variant"],
                "agreement": 1.0,
            }
        )

        spark_join = sdf.mapInPandas(sjoin_partition, "id long, zone long")
        s, t = measure(
            lambda j=spark_join: j.write.format("noop").mode("overwrite").save(), repeats
        )
        rows.append(
            row("pip", f"GeoPandas sjoin in Spark, {cores} cores", n, "points/s", s, t, n, baseline)
        )

        h3_join = sdf.select("id", to_cell("lat", "lon").alias("cell")).join(
            F.broadcast(spark.createDataFrame(cells)), "cell", "left"
        )
        s, t = measure(lambda j=h3_join: j.write.format("noop").mode("overwrite").save(), repeats)
        got = h3_join.select("id", "zone_h3").toPandas().sort_values("id")["zone_h3"].to_numpy()
        agree = float(
            np.mean(
                pd.array(got, dtype="Int64").fillna(-1) == pd.array(exact, dtype="Int64").fillna(-1)
            )
        )
        variant = f"H3 r{res} cell join in Spark, {cores} cores"
        rows.append(row("pip", variant, n, "points/s", s, t, n, baseline, agreement=agree))

        sample = min(n, 20_000 if n >= 1_000_000 else 2_000)
        udf_join = sdf.limit(sample).select(zone_of("lon", "lat"))
        s, t = measure(lambda j=udf_join: j.write.format("noop").mode("overwrite").save(), 1)
        variant = f"per-row shapely UDF in Spark (sample of {sample:,})"
        rows.append(row("pip", variant, n, "points/s", s, t, sample, baseline))
        sdf.unpersist()
    return rows


# ----------------------------------------------------------------------------- pathology


def bench_pathology(spark, sizes, repeats, cores, smoke=False):
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    from cookbook.datasets import wsi

    paths = wsi.prepare("synthetic", n_tumour=2, n_normal=1, size=2048, patches_per_class=60,
                        margin=150, seed=16)  # fmt: skip
    slides = {p.stem: str(p) for p in paths["slides_dir"].glob("*.tif")}
    coords = pd.concat([wsi.read_coords(paths["coords"]["tumor"], 1),
                        wsi.read_coords(paths["coords"]["normal"], 0)])  # fmt: skip
    rows = []
    for n in sizes:
        pts = coords.sample(n, replace=n > len(coords), random_state=0)[["slide", "x", "y"]]

        def read_all(pdf):
            opened, means = {}, []
            for r in pdf.itertuples(index=False):
                slide = opened.get(r.slide) or opened.setdefault(
                    r.slide, wsi.open_slide(slides[r.slide])
                )
                patch = slide.read_region((int(r.x) - 149, int(r.y) - 149), 0, (299, 299))
                means.append(float(np.asarray(patch.convert("RGB")).mean()))
            return pd.DataFrame({"mean": means})

        def cut(batches):
            for pdf in batches:
                yield read_all(pdf)

        sdf = spark.createDataFrame(pts).repartition(2 * cores).cache()
        sdf.count()
        s, t = measure(lambda pts=pts: read_all(pts), repeats)
        base = row(
            "pathology", "patch extraction, 1-process loop", n, "patches/s per core", s, t, n
        )
        rows.append({**base, "ratio_vs_baseline": 1.0, "baseline": base["variant"]})
        s, t = measure(lambda sdf=sdf: sdf.mapInPandas(cut, "mean double").write.format("noop")
                       .mode("overwrite").save(), repeats)  # fmt: skip
        rows.append(row("pathology", f"patch extraction, Spark {cores} cores", n,
                        "patches/s per core", s, t, n / cores, base))  # fmt: skip
        sdf.unpersist()
        feats = []
        for size in (128, 299):
            net = keras.applications.InceptionV3(include_top=False, weights=None, pooling="avg",
                                                 input_shape=(size, size, 3))  # fmt: skip
            images = (
                np.random.default_rng(0)
                .uniform(-1, 1, (min(n, 64), size, size, 3))
                .astype("float32")
            )
            net.predict_on_batch(images[:8])  # warm-up

            def features(net=net, images=images):
                return [net.predict_on_batch(images[i : i + 32]) for i in range(0, len(images), 32)]

            s, t = measure(features, repeats)
            variant = f"InceptionV3 features at {size} px, 1 process"
            feats.append(row("pathology", variant, len(images), "images/s", s, t, len(images)))
        feats[0].update(ratio_vs_baseline=1.0, baseline=feats[0]["variant"])
        feats[1].update(ratio_vs_baseline=feats[1]["throughput"] / feats[0]["throughput"],
                        baseline=feats[0]["variant"])  # fmt: skip
        rows += feats
    return rows


# ----------------------------------------------------------------------------- fraud


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def bench_fraud(spark, sizes, repeats, cores, smoke=False):
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import DecisionTreeClassifier
    from pyspark.ml.evaluation import BinaryClassificationEvaluator
    from pyspark.ml.feature import SQLTransformer, StringIndexer, VectorAssembler
    from pyspark.ml.tuning import CrossValidator, ParamGridBuilder
    from pyspark.sql import functions as F

    from cookbook.datasets import paysim

    jvm_pid = spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid()
    rule = F.expr("""CASE
        WHEN (oldbalanceOrg <= 56900 AND type = 'TRANSFER' AND newbalanceDest <= 105)
          OR (oldbalanceOrg > 56900 AND newbalanceOrig <= 12)
          OR (oldbalanceOrg > 56900 AND newbalanceOrig > 12 AND amount > 1160000)
        THEN 1 ELSE 0 END""")
    balance = SQLTransformer(
        statement="""SELECT *, newbalanceOrig + amount - oldbalanceOrg AS orgDiff,
        oldbalanceDest + amount - newbalanceDest AS destDiff FROM __THIS__"""
    )
    features = ["typeIndexed", "amount", "oldbalanceOrg", "newbalanceOrig", "oldbalanceDest",
                "newbalanceDest", "orgDiff", "destDiff"]  # fmt: skip
    tree = DecisionTreeClassifier(labelCol="label", featuresCol="features", seed=54321, maxDepth=5)
    pipeline = Pipeline(stages=[
        balance, StringIndexer(inputCol="type", outputCol="typeIndexed", handleInvalid="keep"),
        VectorAssembler(inputCols=features, outputCol="features"), tree,
    ])  # fmt: skip
    depths, bins, folds = ([5], [20], 2) if smoke else ([5, 10, 15], [10, 20, 30], 3)
    grid = ParamGridBuilder().addGrid(tree.maxDepth, depths).addGrid(tree.maxBins, bins)
    evaluator = BinaryClassificationEvaluator(labelCol="label", metricName="areaUnderPR")
    rows, first = [], {}
    for n in sizes:
        df, _ = paysim.read_spark(spark, paysim.prepare("synthetic", n_rows=n))
        df = df.cache()
        df.count()
        state = {}

        def rules(df=df, state=state):
            if "labelled" in state:  # else a repeat finds the same plan already cached
                state["labelled"].unpersist(blocking=True)
            state["labelled"] = df.withColumn("label", rule).cache()
            state["labelled"].count()

        def split(state=state):
            if "train" in state:
                state["train"].unpersist(blocking=True)
            train, test = state["labelled"].randomSplit([0.8, 0.2], seed=12345)
            state["train"] = train.cache()
            state["train"].count()
            test.count()

        def fit_tree(state=state):
            pipeline.fit(state["train"])

        def cv_grid(state=state):
            cv = CrossValidator(
                estimator=pipeline, estimatorParamMaps=grid.build(), evaluator=evaluator,
                numFolds=folds, parallelism=2, seed=4242,
            )  # fmt: skip
            cv.fit(state["train"])

        stages = [
            ("rules (SQL CASE)", rules, repeats),
            ("train/test split", split, repeats),
            ("one tree fit (depth 5)", fit_tree, repeats),
            (f"CV grid: {len(depths) * len(bins)} settings x {folds} folds", cv_grid, 1),
        ]
        for stage, action, reps in stages:
            s, t = measure(action, reps)
            memory = {"jvm_peak_mb": round(_peak_rss_mb(jvm_pid)),
                      "driver_peak_mb": round(_peak_rss_mb(os.getpid()))}  # fmt: skip
            r = row("fraud", stage, n, "rows/s", s, t, n, first.get(stage), **memory)
            if stage not in first:
                first[stage] = r
                r.update(ratio_vs_baseline=1.0, baseline=f"{stage} at {n:,} rows")
            rows.append(r)
        for key in ("labelled", "train"):
            state[key].unpersist()
        df.unpersist()
    return rows


# ----------------------------------------------------------------------------- REST serving


def bench_rest(spark, sizes, repeats, cores, smoke=False):
    import base64
    import concurrent.futures
    import io
    import signal
    import socket
    import subprocess
    import tempfile

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import mlflow
    import requests
    from PIL import Image

    tmp = Path(tempfile.mkdtemp(prefix="cookbook-bench-rest-"))
    keras.utils.set_random_seed(0)
    net = keras.Sequential([
        keras.Input((64, 64, 3), dtype="uint8"), keras.layers.Rescaling(1 / 255),
        keras.layers.Conv2D(32, 3, strides=2, activation="relu"),
        keras.layers.Conv2D(64, 3, strides=2, activation="relu"),
        keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(8, activation="softmax"),
    ])  # fmt: skip
    net.save(tmp / "net.keras")

    class Base64Images(mlflow.pyfunc.PythonModel):
        def load_context(self, context):
            import keras

            self.net = keras.models.load_model(context.artifacts["net"])

        def predict(self, context, model_input, params=None):
            from PIL import Image

            images = [Image.open(io.BytesIO(base64.b64decode(t))) for t in model_input["image"]]
            batch = np.stack([np.asarray(i.convert("RGB").resize((64, 64))) for i in images])
            p = np.asarray(self.net.predict_on_batch(batch))
            return pd.DataFrame({"class": p.argmax(1), "probability": p.max(1).astype(float)})

    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)).save(
        buffer, "JPEG"
    )
    image = pd.DataFrame({"image": [base64.b64encode(buffer.getvalue()).decode()]})
    mlflow.set_tracking_uri(f"sqlite:///{tmp}/mlflow.db")
    mlflow.set_experiment("bench-rest")
    with mlflow.start_run():
        info = mlflow.pyfunc.log_model(name="model", python_model=Base64Images(),
                                       artifacts={"net": str(tmp / "net.keras")})  # fmt: skip
    local = mlflow.pyfunc.load_model(info.model_uri)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"  # uvicorn
    env = {**os.environ, "MLFLOW_TRACKING_URI": mlflow.get_tracking_uri(), "PATH": path}
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "mlflow"), "models", "serve", "-m", info.model_uri,
         "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port)],
        env=env, stdout=open(tmp / "server.log", "w"), stderr=subprocess.STDOUT,  # noqa: SIM115
        start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    body = json.dumps({"dataframe_split": {"columns": ["image"], "data": [[image["image"][0]]]}})
    headers = {"Content-Type": "application/json"}
    rows = []
    try:
        deadline = time.time() + 180
        while True:
            try:
                if requests.get(f"{url}/ping", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if server.poll() is not None or time.time() > deadline:
                raise RuntimeError(
                    f"model server did not start: {(tmp / 'server.log').read_text()[-2000:]}"
                )
            time.sleep(0.5)
        for n in sizes:
            local.predict(image)  # warm-up
            times = []
            for _ in range(n):
                t0 = time.perf_counter()
                local.predict(image)
                times.append(time.perf_counter() - t0)
            base = row("rest", "in-process pyfunc predict, 1 image", n, "requests/s",
                       statistics.median(times), times[:20], 1)  # fmt: skip
            base.update(ratio_vs_baseline=1.0, baseline=base["variant"],
                        p95_ms=round(1000 * float(np.percentile(times, 95)), 2))  # fmt: skip
            rows.append(base)
            session = requests.Session()
            session.post(f"{url}/invocations", data=body, headers=headers, timeout=30)  # warm-up
            times = []
            for _ in range(n):
                t0 = time.perf_counter()
                reply = session.post(f"{url}/invocations", data=body, headers=headers, timeout=30)
                times.append(time.perf_counter() - t0)
                reply.raise_for_status()
            r = row("rest", "REST, 1 client, 1 image per request", n, "requests/s",
                    statistics.median(times), times[:20], 1, base)  # fmt: skip
            r["p95_ms"] = round(1000 * float(np.percentile(times, 95)), 2)
            rows.append(r)

            def one(_):
                with requests.post(
                    f"{url}/invocations", data=body, headers=headers, timeout=30
                ) as reply:
                    return reply.status_code

            t0 = time.perf_counter()
            with concurrent.futures.ThreadPoolExecutor(8) as pool:
                codes = list(pool.map(one, range(n), timeout=120))
            seconds = time.perf_counter() - t0
            r = row(
                "rest", "REST, 8 concurrent clients", n, "requests/s", seconds, [seconds], n, base
            )
            r["errors"] = sum(c != 200 for c in codes)
            rows.append(r)
    finally:
        try:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(server.pid, signal.SIGKILL)
    return rows


# ----------------------------------------------------------------------------- LSTM


def bench_lstm(spark, sizes, repeats, cores, smoke=False):
    import os
    import resource

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    from cookbook.datasets import appliances_energy

    df = appliances_energy.load(appliances_energy.prepare("synthetic"))
    values = df[list(appliances_energy.FEATURES)].to_numpy(dtype="float32")
    values = (values - values.min(axis=0)) / np.maximum(np.ptp(values, axis=0), 1e-6)
    rows = []
    for n in sizes:
        baseline = None
        for rate in (6, 1):
            steps = 864 // rate
            data = keras.utils.timeseries_dataset_from_array(
                values, values[:, 0], sequence_length=steps, sampling_rate=rate, batch_size=64,
                end_index=n + (steps - 1) * rate,
            )  # fmt: skip
            keras.utils.set_random_seed(0)
            model = keras.Sequential([
                keras.Input((steps, values.shape[1])), keras.layers.LSTM(128),
                keras.layers.LeakyReLU(0.5), keras.layers.Dropout(0.1), keras.layers.Dense(1),
            ])  # fmt: skip
            model.compile(optimizer="adam", loss="mse")
            model.fit(data.take(2), epochs=1, verbose=0)  # warm-up: build and trace
            windows = sum(len(b[0]) for b in data)
            s, t = measure(
                lambda model=model, data=data: model.fit(data, epochs=1, verbose=0), repeats
            )
            peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            every = "every row" if rate == 1 else f"every {rate}th row"
            variant = f"LSTM(128) training, {steps} steps per window ({every})"
            r = row("lstm", variant, windows, "windows/s", s, t, windows, baseline,
                    peak_rss_mb=round(peak_mb))  # fmt: skip
            if baseline is None:
                baseline = r
                r.update(ratio_vs_baseline=1.0, baseline=variant)
            rows.append(r)
    return rows


# ----------------------------------------------------------------------------- output


def markdown(results: dict) -> str:
    lines = [
        "# Benchmark results",
        "",
        f"{results['machine']}; {results['mode']} run, median of {results['repeats']} repeat(s); "
        f"written {results['finished']}.",
        "",
        "| benchmark | variant | size | median s | throughput | vs baseline | notes |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for r in results["rows"]:
        notes = []
        if "parallel_efficiency" in r:
            notes.append(f"parallel efficiency {r['parallel_efficiency']:.0%}")
        if "agreement" in r and r["agreement"] < 1:
            notes.append(f"agreement with exact {r['agreement']:.1%}")
        if "p95_ms" in r:
            notes.append(f"median {1000 * r['seconds']:.1f} ms, p95 {r['p95_ms']:.1f} ms")
        if "jvm_peak_mb" in r:
            notes.append(
                f"peak memory so far: JVM {r['jvm_peak_mb']:,} MB, "
                f"Python {r['driver_peak_mb']:,} MB"
            )
        if "peak_rss_mb" in r:
            notes.append(f"peak memory so far {r['peak_rss_mb']:,} MB")
        lines.append(
            f"| {r['benchmark']} | {r['variant']} | {r['size']:,} | {r['seconds']:.2f} | "
            f"{r['throughput']:,.0f} {r['unit']} | {r.get('ratio_vs_baseline', 1):.2f}x | "
            f"{'; '.join(notes)} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, to check that it works")
    parser.add_argument(
        "--only",
        default="dtw,prophet,pip,fraud,pathology,rest,lstm",
        help="comma-separated benchmarks",
    )
    parser.add_argument("--repeats", type=int, default=None, help="runs per measurement (median)")
    parser.add_argument("--out", default=str(HERE), help="folder for results.json and results.md")
    args = parser.parse_args(argv)
    mode = "smoke" if args.smoke else "full"
    repeats = args.repeats or (1 if args.smoke else 3)

    from cookbook.io import atomic_open, write_json
    from cookbook.spark import get_spark

    spark = get_spark("cookbook-bench", **{"spark.sql.shuffle.partitions": "8"})
    cores = spark.sparkContext.defaultParallelism
    benches = {
        "dtw": bench_dtw,
        "prophet": bench_prophet,
        "pip": bench_pip,
        "fraud": bench_fraud,
        "pathology": bench_pathology,
        "rest": bench_rest,
        "lstm": bench_lstm,
    }
    rows = []
    for name in args.only.split(","):
        if name not in benches:
            parser.error(f"unknown benchmark {name!r}; known: {', '.join(benches)}")
        t0 = time.perf_counter()
        rows += benches[name](spark, SIZES[name][mode], repeats, cores, smoke=args.smoke)
        print(f"{name}: {time.perf_counter() - t0:.0f} s", flush=True)
    out = Path(args.out)
    ran = {r["benchmark"] for r in rows}
    previous = out / "results.json"
    if previous.is_file():  # keep the other benchmarks' rows from the last run of this mode
        old = json.loads(previous.read_text())
        if old.get("mode") == mode:
            rows = [r for r in old["rows"] if r["benchmark"] not in ran] + rows
    order = list(benches)
    rows.sort(key=lambda r: order.index(r["benchmark"]))  # stable: sizes keep their order
    results = {
        "mode": mode,
        "repeats": repeats,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, Spark {spark.version} local[{cores}]",
        "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
        "rows": rows,
    }
    write_json(out / "results.json", results)
    with atomic_open(out / "results.md", "w", encoding="utf-8") as fh:
        fh.write(markdown(results))
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
