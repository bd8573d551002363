"""Benchmarks: each one runs a chapter notebook at benchmark sizes and reads what it recorded.

``make bench`` runs ``python benchmarks/run.py``. Nothing here re-implements a chapter: every
benchmark executes the chapter's own notebook (:func:`cookbook.runner.execute`) with the
parameters of a benchmark size, then reads the ``metrics.json`` and ``timings.csv`` that the
notebook wrote. Every ratio compares two measurements of the chapter's own code: a baseline that
the notebook measures in the same run (plain GeoPandas on one core, a plain loop on the driver,
the model called in process), or the same stage in a run of the same notebook at the first,
smaller size, which shows how the cost grows with the data.

Benchmarks (``--only`` picks some; ``--smoke`` runs each notebook at its smoke size):

- ``pip`` (chapter 8; 1,000,000 and 10,000,000 trips): points per second of the exact GeoPandas
  join in Spark, the H3 cell-centre join at each resolution (with its agreement), H3 with the
  border test (also against the exact GeoPandas join in Spark), and the per-row shapely UDF (on
  a sample), each against plain GeoPandas on one core in the same run.
- ``fraud`` (chapter 5; 500,000 and 6,362,620 rows): input rows per second of each
  cross-validation and of the whole notebook, against the same stage at 500,000 rows.
- ``lstm`` (chapter 4; 3 epochs, one learning rate, no second loss): training and Spark-scoring
  windows per second with the notebook's default windows (every 6th of 864 rows: 144 steps)
  against the full 864-step lookback, and the notebook kernel's peak memory.
- ``pathology`` (chapter 6; smoke settings, then the default settings): patches per second per
  core (OpenSlide in Spark) and CNN feature images per second. The smoke settings also cut
  smaller patches for a smaller CNN input, so the ratio mixes data size and cost per image.
- ``rest`` (chapter 7): one image through the chapter's served model over REST (median and p95
  latency) against the same Keras model called in process (``predict_on_batch``); and the
  requests per second of several clients at once against one client's, same server.
- ``prophet`` (chapter 3; 500 series, one origin): models per minute of the Spark fan-out
  against the chapter's ``fit_series`` in a plain loop on the driver; forecasts likewise.
- ``dtw`` (chapter 2; 811 products, then 1,000,000): products per second of the ``ucrdtw``
  pandas UDF in Spark, and of the same pass with a UDF that does no work (what moving the
  products to Python and back costs), against the same call in a plain loop on the driver.
- ``ceiling`` (a machine probe, no notebook): Prophet fits per minute in one process alone and
  in one process per core at once, without Spark. Each fit slows down when the other cores
  are busy, so the second rate over the first is the most any fan-out on this machine can gain:
  the ceiling for the ``prophet`` and ``dtw`` ratios.
- ``run`` (opt-in: not in the default list, since it takes as long as ``make run``): all eight
  chapters at their default settings, one after another, through the loop ``make run`` executes
  (``cookbook.runner.run_chapters``): each chapter's seconds and share of the run, and the whole
  run against the README's 30-minute goal. ``--only run,ceiling`` also records how fast the
  machine ran that day (the ceiling's one-process Prophet rate), to compare runs across days.

``--reread`` runs nothing: it recomputes the rows of the runs stored in ``results.json`` (their
metrics and timings) with the current readers, for this machine and mode.

Each size runs its notebook once: a notebook run takes minutes, and what is timed are its own
stages, so there is no ``--repeats``. The notebooks run in ``--work`` (default
``<output.dir>/bench``) with a private MLflow store there, so benchmark runs never touch the
chapters' runs or move a registered model's alias.

``benchmarks/results.json`` keeps one entry per machine (CPU model, cores, memory) and mode,
with the library versions; a run replaces only its own entry's benchmarks (``--only`` just the
ones it ran), so earlier machines' results stay apart. ``results.md`` shows each entry in its own
section, and ``throughput.png`` plots throughput against size for the latest run's machine. All
three are written atomically.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
FORMAT = 2  # results.json layout; a file without "format" is the previous benchmark code's
LIBRARIES = {  # name shown -> distributions that provide it
    "pyspark": ("pyspark",),
    "mlflow": ("mlflow", "mlflow-skinny"),
    "tensorflow": ("tensorflow", "tensorflow-cpu"),
    "keras": ("keras",),
    "geopandas": ("geopandas",),
    "h3": ("h3",),
    "h3ronpy": ("h3ronpy",),
    "prophet": ("prophet",),
    "pandas": ("pandas",),
    "numpy": ("numpy",),
}


# ----------------------------------------------------------------------------- what runs


@dataclass(frozen=True)
class Size:
    label: str  # how the results name this size
    params: dict[str, Any]  # the notebook's parameters at this size


@dataclass(frozen=True)
class Recorded:
    """What one notebook run left behind: its metrics, its timing table and its wall time."""

    size: Size
    metrics: dict[str, Any]
    timings: dict[str, dict[str, Any]]  # stage -> {"seconds", "items"}
    seconds: float

    def stage(self, name: str) -> dict[str, Any] | None:
        return self.timings.get(name)

    def stages(self, prefix: str) -> list[tuple[str, dict[str, Any]]]:
        return [(k, v) for k, v in self.timings.items() if k.startswith(prefix)]


def row(
    run: Recorded,
    variant: str,
    size: float,
    unit: str,
    throughput: float | None,
    *,
    seconds: float | None = None,
    items: float | None = None,
    baseline: str | None = None,
    missing: str | None = None,
    notes: tuple[str, ...] = (),
    **extra: Any,
) -> dict[str, Any]:
    """One result row. ``baseline`` names the variant of the same run it is compared with
    (``None``: the same variant at the first size, or itself). A throughput the notebook did not
    record stays ``None``, and ``missing`` says which metric was absent."""
    notes = list(notes)
    if missing is not None:
        throughput = None
        notes.append(f"not recorded by the notebook: {missing}")
    return {
        "variant": variant,
        "size": size,
        "size_label": run.size.label,
        "items": items,
        "seconds": seconds,
        "throughput": throughput,
        "unit": unit,
        "baseline_variant": baseline,
        "notes": notes,
        **extra,
    }


def from_metric(
    run: Recorded, variant: str, key: str, stage: str | None, size: float, unit: str, **kw: Any
) -> dict[str, Any]:
    """A row whose throughput is the notebook's metric ``key``, with the seconds and items of
    its timing-table ``stage`` when there is one."""
    timed = run.stage(stage) if stage else None
    if timed:
        kw.setdefault("seconds", timed["seconds"])
        kw.setdefault("items", timed["items"])
    value = _number(run, key)
    return row(run, variant, size, unit, value, missing=key if value is None else None, **kw)


def from_stage(
    run: Recorded, variant: str, stage: str, size: float, unit: str, items=None, **kw: Any
) -> dict[str, Any]:
    """A row from a timing-table stage: ``items`` (default: the stage's own) per second."""
    timed = run.stage(stage)
    if not timed:
        return row(run, variant, size, unit, None, missing=f"timing stage {stage!r}", **kw)
    items = timed["items"] if items is None else items
    rate = items / timed["seconds"] if items and timed["seconds"] else None
    return row(run, variant, size, unit, rate, seconds=timed["seconds"], items=items, **kw)


def _number(run: Recorded, key: str) -> float | None:
    value = run.metrics.get(key)
    return float(value) if isinstance(value, int | float) else None


def _agreement(r: dict[str, Any], run: Recorded, key: str | None) -> dict[str, Any]:
    agreement = _number(run, key) if key else None
    if agreement is not None:
        r["agreement"] = agreement
        r["notes"].append(f"agreement with the exact join {agreement:.2%}")
    return r


# ----------------------------------------------------------------------------- readers
# One per benchmark: a notebook run's metrics and timings -> rows. Variant names are the
# rows' labels; a row's baseline is the named variant of the same run, or (None) the same
# variant at the first size.


def read_pip(run: Recorded) -> list[dict[str, Any]]:
    """Chapter 8: every join against plain GeoPandas on one core, measured in the same run."""
    n = _number(run, "n_trips") or run.size.params.get("N_TRIPS")
    base = "plain GeoPandas sjoin, 1 core"
    resolutions = sorted(
        int(k.removeprefix("h3_points_per_second_r"))
        for k in run.metrics
        if k.startswith("h3_points_per_second_r")
    )
    refined = next((s for s, _ in run.stages("H3 r") if s.endswith("+ border test")), None)
    udf = run.stage("per-row shapely UDF (Spark)") or {}
    sample = f" (sample of {udf['items']:,.0f})" if udf.get("items") else ""
    spec = [  # variant, metric, timing stage, agreement metric
        (base, "points_per_second_geopandas", "plain GeoPandas (1 core)", None),
        ("GeoPandas sjoin in Spark (exact)", "points_per_second_exact_spark",
         "GeoPandas sjoin in Spark", None),
        *[(f"H3 r{res} cell-centre join in Spark", f"h3_points_per_second_r{res}",
           f"H3 r{res} join", f"h3_agreement_r{res}") for res in resolutions],
        ("H3 + exact test in border cells, in Spark", "points_per_second_h3_refined", refined,
         "h3_refined_agreement"),
        (f"per-row shapely UDF in Spark{sample}", "points_per_second_udf",
         "per-row shapely UDF (Spark)", None),
    ]  # fmt: skip
    rows = [
        _agreement(from_metric(run, v, key, stage, n, "points/s", baseline=base), run, agree)
        for v, key, stage, agree in spec
    ]
    mismatches = run.metrics.get("spark_vs_geopandas_mismatches")
    if mismatches is not None:
        rows[1]["notes"].append(f"zones differing from plain GeoPandas: {mismatches}")
    exact, h3_exact = rows[1], rows[-2]  # the two exact joins in Spark, side by side
    if exact["throughput"] and h3_exact["throughput"]:
        vs = h3_exact["throughput"] / exact["throughput"]
        h3_exact["notes"].append(f"{vs:.2f}x the exact GeoPandas join in Spark")
    share = _number(run, "h3_border_point_share")
    if share is not None:
        h3_exact["notes"].append(f"{share:.1%} of the points tested")
    return rows


def read_fraud(run: Recorded) -> list[dict[str, Any]]:
    """Chapter 5: input rows per second of each timed stage and of the whole notebook."""
    n = _number(run, "n_rows") or run.size.params.get("N_ROWS")
    rows = []
    for name, stage in run.stages(""):
        fits = (f"{stage['items']:,.0f} model fits (settings x folds)",) if stage["items"] else ()
        rows.append(from_stage(run, name, name, n, "input rows/s", items=n, notes=fits))
    wall = _number(run, "wall_seconds")
    if wall is None:
        rows.append(row(run, "whole notebook", n, "input rows/s", None, missing="wall_seconds"))
    else:
        rows.append(row(run, "whole notebook", n, "input rows/s", n / wall, seconds=wall, items=n))
    return rows


def read_lstm(run: Recorded) -> list[dict[str, Any]]:
    """Chapter 4: training and Spark-scoring windows per second; the kernel's peak memory."""
    steps = run.size.params["LOOKBACK"] // run.size.params["SAMPLING_RATE"]
    variant = "LSTM training (windows seen, validation included)"
    training = run.stages("training, ")
    if training:
        seconds = sum(s["seconds"] for _, s in training)
        windows = sum(s["items"] or 0 for _, s in training)
        runs = " / ".join(name.removeprefix("training, ") for name, _ in training)
        train = row(run, variant, steps, "windows/s", windows / seconds, seconds=seconds,
                    items=windows, notes=(f"runs: {runs}",))  # fmt: skip
    else:
        train = row(run, variant, steps, "windows/s", None, missing="stages 'training, ...'")
    peak, trained = _number(run, "peak_rss_mb"), _number(run, "training_peak_rss_mb")
    if peak is not None:
        train.update(peak_rss_mb=peak, training_peak_rss_mb=trained)
        after = f"{trained:,.0f} MB after training, " if trained is not None else ""
        train["notes"].append(f"peak memory of the notebook kernel: {after}{peak:,.0f} MB in all")
    scoring = "scoring the registered model in Spark (spark_udf)"
    return [train, from_stage(run, scoring, "Spark scoring", steps, "windows/s")]


def read_pathology(run: Recorded) -> list[dict[str, Any]]:
    """Chapter 6: patch extraction in Spark, per core, against the same ``cut_patches`` in a
    plain loop on the driver (one core), same run; CNN features."""
    n = _number(run, "n_patches")
    loop = "patch extraction, plain loop on the driver"
    cut = from_metric(run, "patch extraction, OpenSlide in Spark", "patches_per_second_per_core",
                      "patch extraction", n, "patches/s per core", baseline=loop)  # fmt: skip
    differing = _number(run, "patches_differing")
    if differing is not None:
        cut["notes"].append(f"patches differing from the loop's: {differing:.0f}")
    return [
        from_metric(run, loop, "loop_patches_per_second", loop, n, "patches/s per core",
                    baseline=loop),
        cut,
        from_metric(run, "CNN features", "feature_images_per_second", "features", n, "images/s"),
    ]  # fmt: skip


def read_rest(run: Recorded) -> list[dict[str, Any]]:
    """Chapter 7: one image in process and over REST, as requests per second (1 / latency).
    Metrics the notebook does not record are skipped; the two compared are always shown."""
    n = run.size.params.get("REST_REQUESTS")
    base = "in process: Keras predict_on_batch, 1 image"
    rest = "REST /invocations, 1 client, 1 image"
    rows = []
    for variant, key, p95_key in (
        (base, "predict_on_batch_ms", None),
        ("in process: Keras model(x), 1 image", "direct_call_ms", None),
        ("in process: Keras predict(), 1 image", "keras_predict_ms", None),
        (rest, "rest_latency_ms_median", "rest_latency_ms_p95"),
    ):
        ms = _number(run, key)
        if not ms:
            if variant in (base, rest):
                rows.append(row(run, variant, n, "requests/s", None, missing=key, baseline=base))
            continue
        p95 = _number(run, p95_key) if p95_key else None
        notes = (f"median {ms:.1f} ms", *([f"p95 {p95:.1f} ms"] if p95 is not None else []))
        rows.append(row(run, variant, n, "requests/s", 1000 / ms, seconds=ms / 1000, items=1,
                        baseline=base, notes=notes, median_ms=ms, p95_ms=p95))  # fmt: skip
    # throughput under load: the clients' requests per second against one client's, same server
    one = "REST /invocations, 1 client, sequential requests"
    clients, workers = _number(run, "rest_clients"), _number(run, "rest_workers")
    at_once = f"REST /invocations, {clients or 0:.0f} clients at once, {workers or 0:.0f} workers"
    rows.append(from_metric(run, one, "rest_requests_per_second_1_client", None, n,
                            "requests/s", baseline=one))  # fmt: skip
    rows.append(from_metric(run, at_once, "rest_requests_per_second_concurrent", None, n,
                            "requests/s", baseline=one))  # fmt: skip
    return rows


def read_prophet(run: Recorded) -> list[dict[str, Any]]:
    """Chapter 3: the Spark fan-out against fit_series / forecast_series in a plain loop."""
    n = _number(run, "n_series")
    cores = _number(run, "spark_cores")
    sample = _number(run, "loop_series")
    on = f", {cores:.0f} cores" if cores else ""
    fit, fc = "fit_series, plain loop on the driver", "forecast_series, plain loop on the driver"
    spec = [  # variant, metric, timing stage, unit, baseline
        (fit, "loop_models_per_minute", "fit, plain loop on the driver", "models/min", fit),
        (f"fit_series in Spark applyInPandas{on}", "models_per_minute", "fit", "models/min", fit),
        (fc, "loop_forecasts_per_minute", "forecast, plain loop on the driver", "forecasts/min",
         fc),
        (f"forecast_series in Spark applyInPandas{on}", "spark_forecasts_per_minute", "forecast",
         "forecasts/min", fc),
    ]  # fmt: skip
    rows = [from_metric(run, v, k, s, n, u, baseline=b, cores=cores) for v, k, s, u, b in spec]
    if sample:
        for r in rows[0], rows[2]:
            r["notes"].append(f"sample of {sample:.0f} series at origin 0")
    busy, slowdown = _number(run, "fit_busy_share"), _number(run, "fit_slowdown_in_parallel")
    if busy is not None and slowdown is not None:  # where the fan-out's time goes
        rows[1]["notes"].append(
            f"cores busy fitting {busy:.0%} of the time; each fit {slowdown:.2f}x as long as "
            f"in the loop"
        )
    transfer = _number(run, "fit_transfer_seconds")
    expected, bound = _number(run, "fit_expected_vs_loop"), _number(run, "fit_bound_vs_loop")
    if None not in (transfer, expected, bound):  # the same fan-out without the fits
        rows[1]["notes"].append(
            f"without the fits the fan-out takes {transfer:.1f} s: at most {expected:.2f}x "
            f"the loop with this slowdown, {bound:.2f}x if no fit slowed down"
        )
    return rows


def read_dtw(run: Recorded) -> list[dict[str, Any]]:
    """Chapter 2: the ucrdtw pandas UDF in Spark against the same call in a plain loop, on the
    products section 7 timed (``TIMING_PRODUCTS``: the catalogue repeated)."""
    n = _number(run, "timing_products") or _number(run, "n_products")
    cores = _number(run, "spark_cores")
    loop = "ucrdtw, plain loop on the driver"
    on = f", {cores:.0f} cores" if cores else ""
    expected = _number(run, "spark_expected_vs_loop")
    udf = from_metric(run, f"ucrdtw pandas UDF in Spark{on}", "products_per_second_spark",
                      "ucrdtw, Spark pandas UDF", n, "products/s", baseline=loop)  # fmt: skip
    if expected is not None:
        udf["notes"].append(f"the transfer alone allows at most about {expected:.2f}x the loop")
    return [
        from_metric(run, loop, "products_per_second_loop", loop, n, "products/s", baseline=loop),
        udf,
        from_metric(run, f"pandas UDF in Spark, transfer only (no DTW){on}",
                    "products_per_second_transfer", "Spark pandas UDF, transfer only", n,
                    "products/s", baseline=loop),
    ]  # fmt: skip


@dataclass(frozen=True)
class Benchmark:
    chapter: str
    size_unit: str  # the x axis of the plot
    sizes: dict[str, tuple[Size, ...]]  # mode ("full", "smoke") -> sizes, smallest first
    read: Callable[[Recorded], list[dict[str, Any]]]


_LSTM = {"EPOCHS": 3, "PATIENCE": 2, "LEARNING_RATES": [0.00144], "COMPARE_LOSS": ""}
_LSTM_SMOKE = {"SMOKE": True, "LOOKBACK": 144, "COMPARE_LOSS": ""}

BENCHMARKS: dict[str, Benchmark] = {
    "pip": Benchmark("08-geospatial", "trips", {
        "full": (Size("1,000,000 trips", {"N_TRIPS": 1_000_000}),
                 Size("10,000,000 trips", {"N_TRIPS": 10_000_000})),
        "smoke": (Size("smoke settings", {"SMOKE": True}),),
    }, read_pip),
    "fraud": Benchmark("05-fraud-detection", "rows", {
        "full": (Size("500,000 rows", {"N_ROWS": 500_000}),
                 Size("6,362,620 rows", {"N_ROWS": 6_362_620})),
        "smoke": (Size("20,000 rows", {"SMOKE": True, "N_ROWS": 20_000}),
                  Size("40,000 rows", {"SMOKE": True, "N_ROWS": 40_000})),
    }, read_fraud),
    "lstm": Benchmark("04-lstm-forecasting", "steps per window", {
        "full": (Size("every 6th of 864 rows", {**_LSTM, "LOOKBACK": 864, "SAMPLING_RATE": 6}),
                 Size("all 864 rows", {**_LSTM, "LOOKBACK": 864, "SAMPLING_RATE": 1})),
        "smoke": (Size("every 6th of 144 rows", {**_LSTM_SMOKE, "SAMPLING_RATE": 6}),
                  Size("all 144 rows", {**_LSTM_SMOKE, "SAMPLING_RATE": 1})),
    }, read_lstm),
    "pathology": Benchmark("06-digital-pathology", "patches", {
        "full": (Size("default settings", {}),
                 Size("500 patches per slide and class, features at 128 px",
                      {"PATCHES_PER_CLASS": 500, "FEATURE_SIZE": 128})),
        "smoke": (Size("smoke settings", {"SMOKE": True}),),
    }, read_pathology),
    "rest": Benchmark("07-car-classification", "requests", {
        "full": (Size("default settings, 200 requests", {"REST_REQUESTS": 200}),),
        "smoke": (Size("smoke settings, 10 requests", {"SMOKE": True, "REST_REQUESTS": 10}),),
    }, read_rest),
    "prophet": Benchmark("03-prophet-forecasting", "series", {
        "full": (Size("500 series, 1 origin", {"ORIGINS": 1}),),
        "smoke": (Size("smoke settings, 1 origin", {"SMOKE": True, "ORIGINS": 1}),),
    }, read_prophet),
    "dtw": Benchmark("02-dtw-sales-trends", "products", {
        "full": (Size("811 products", {}),
                 Size("TIMING_PRODUCTS = 1,000,000", {"TIMING_PRODUCTS": 1_000_000})),
        "smoke": (Size("smoke settings", {"SMOKE": True}),),
    }, read_dtw),
}  # fmt: skip


# ----------------------------------------------------------------------------- machine probes
# Not a chapter: how far this machine lets any fan-out go, the ceiling the chapters' ratios are
# read against.


def _prophet_fits(n: int) -> list[float]:
    """Seconds of each of ``n`` Prophet fits in this process (after one warm-up fit), with
    chapter 3's model settings on daily series shaped like its store-item sales."""
    import logging

    import numpy as np
    import pandas as pd

    logging.disable(logging.CRITICAL)  # Prophet and cmdstanpy log every fit
    from prophet import Prophet

    def series(k: int) -> pd.DataFrame:
        ds = pd.date_range("2013-01-01", "2017-09-30", freq="D")
        t = np.arange(len(ds))
        level = (20 + 0.005 * t) * (1 + 0.2 * np.sin(2 * np.pi * t / 365.25))
        weekly = 1 + 0.1 * np.sin(2 * np.pi * t / 7)
        return pd.DataFrame({"ds": ds, "y": np.random.default_rng(k).poisson(level * weekly)})

    settings = dict(seasonality_mode="multiplicative", daily_seasonality=False)
    Prophet(**settings).fit(series(n))  # the first fit in a process loads the optimiser
    seconds = []
    for k in range(n):
        data = series(k)
        t0 = time.perf_counter()
        Prophet(**settings).fit(data)
        seconds.append(time.perf_counter() - t0)
    return seconds


def _ucrdtw_calls(n: int) -> list[float]:
    """Seconds of chapter 2's ucrdtw call (5% window) over ``n`` products, its embedded
    catalogue repeated, timed in chunks of 1,000 products, in this process."""
    import _ucrdtw
    import numpy as np

    from cookbook.datasets import weekly_sales

    pattern = [float(v) for v in weekly_sales.CAPACITY_PATTERN]
    catalogue = weekly_sales.load(weekly_sales.prepare("synthetic").csv)
    weeks = catalogue[list(weekly_sales.WEEK_COLUMNS)].to_numpy(dtype=float)
    rows = np.resize(weeks, (n, weeks.shape[1]))  # repeated, row by row
    # ucrdtw mallocs and frees an 800 KB buffer per call. Until a process has freed a larger
    # block, glibc serves it with mmap and munmap, page faults included, about 5x slower; a
    # notebook kernel or a Spark worker has long freed one. Free one here, as they have.
    np.ones(2**20).sum()
    seconds = []
    for start in range(0, n, 1_000):
        t0 = time.perf_counter()
        for r in rows[start : start + 1_000]:
            _ucrdtw.ucrdtw(r.tolist(), pattern, 0.05, False)
        seconds.append(time.perf_counter() - t0)
    return seconds


# kernel, what it does, its items per process at scale 1, the unit of its rate, items per unit
_CEILING = (
    (_prophet_fits, "Prophet fit", 1, "models/min", 60),
    (_ucrdtw_calls, "ucrdtw", 5_000, "products/s", 1),
)


def probe_ceiling(scale: int) -> list[dict[str, Any]]:
    """Each kernel in one process alone, then in one process per core at once (no Spark): the
    second rate over the first is the most any fan-out over these cores can gain. ``scale``:
    Prophet fits per process (ucrdtw: 5,000 products per fit)."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    cores = os.cpu_count() or 1
    rows = []
    for kernel, what, per, unit, per_unit in _CEILING:
        n = scale * per
        alone = kernel(n)
        with ProcessPoolExecutor(cores, mp_context=get_context("spawn")) as pool:
            t0 = time.perf_counter()
            together = list(pool.map(kernel, [n] * cores))
            wall = time.perf_counter() - t0
        # per process: its n items over its own busy seconds; the slowdown is per item
        busy = sum(sum(t) for t in together) / cores
        slowdown = busy / sum(alone)
        run = Recorded(Size(f"{n:,} per process", {}), {}, {}, wall)
        base = f"{what}, 1 process alone"
        rows += [
            row(run, base, n, unit, per_unit * n / sum(alone), seconds=sum(alone), items=n,
                baseline=base),
            row(run, f"{what}, {cores} processes at once (no Spark)", n, unit,
                per_unit * cores * n / busy, seconds=busy, items=cores * n, baseline=base,
                notes=(f"each item {slowdown:.2f}x as long as alone: {cores} cores give at "
                       f"most {cores / slowdown:.2f}x one process",)),
        ]  # fmt: skip
    return add_ratios(rows)


PROBES: dict[str, Callable[[int], list[dict[str, Any]]]] = {"ceiling": probe_ceiling}


# ----------------------------------------------------------------------------- make run
# Not one chapter at benchmark sizes: all eight at their default settings, one after another,
# through the runner's own loop, which is what `make run` executes. Opt-in (``--only run``): it
# takes as long as `make run`.

MAKE_RUN_GOAL_MINUTES = 30  # the README's goal for `make run` on a 2-core machine


def bench_make_run(work: Path, smoke: bool) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Every chapter as ``make run`` runs it (``cookbook.runner.run_chapters``): one row per
    chapter with its seconds and share of the run, and a row for the whole run against the
    goal. Returns the rows and the stored run (each chapter's status, seconds, metrics)."""
    from cookbook.runner import CHAPTERS, run_chapters

    params = {"DATA_SOURCE": "synthetic", "SMOKE": smoke}
    size = Size("smoke settings" if smoke else "default settings", params)
    done = run_chapters(list(CHAPTERS), work, params)
    total = sum(seconds for _, _, _, seconds, _ in done)
    run = Recorded(size, {}, {}, total)
    rows = []
    for ch, status, _, seconds, _ in done:
        notes = [f"{seconds / total:.0%} of the run"] + ([] if status == "ok" else [status])
        variant = f"chapter {int(ch.key[:2])}: {ch.title}"
        rows.append(row(run, variant, len(done), "", None, seconds=seconds, notes=tuple(notes)))
    verdict = "within" if total <= 60 * MAKE_RUN_GOAL_MINUTES else "over"
    notes = [f"{total / 60:.1f} min: {verdict} the goal of {MAKE_RUN_GOAL_MINUTES} min"]
    notes += [f"FAILED: {ch.key}" for ch, status, *_ in done if status != "ok"]
    variant = f"all {len(done)} chapters, one after another (make run)"
    rows.append(row(run, variant, len(done), "", None, seconds=total, notes=tuple(notes)))
    stored = {
        "size": size.label,
        "parameters": params,
        "seconds": total,
        "chapters": {
            ch.key: {"status": status, "seconds": seconds, "metrics": metrics}
            for ch, status, metrics, seconds, _ in done
        },
    }
    return add_ratios(rows), stored


def read_timings(path: Path) -> dict[str, dict[str, Any]]:
    """A notebook's ``timings.csv`` (stage, seconds, items): stage -> seconds and items."""
    if not path.is_file():
        return {}
    with path.open(encoding="utf-8", newline="") as fh:
        return {
            r["stage"]: {
                "seconds": float(r["seconds"]),
                "items": float(r["items"]) if r.get("items") else None,
            }
            for r in csv.DictReader(fh)
        }


def run_notebook(name: str, bench: Benchmark, size: Size, work: Path) -> Recorded:
    from cookbook.runner import execute

    slug = "".join(c if c.isalnum() else "-" for c in size.label.lower()).strip("-")
    shown = ", ".join(f"{k}={v!r}" for k, v in size.params.items()) or "defaults"
    print(f"==> {name}: {bench.chapter} at {size.label} ({shown})", flush=True)
    executed, metrics, seconds = execute(bench.chapter, work / name / slug, size.params)
    print(f"    {seconds:.0f} s; notebook: {executed}", flush=True)
    return Recorded(size, metrics, read_timings(executed.parent / "timings.csv"), seconds)


def add_ratios(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Set each row's ``baseline`` and ``ratio`` (its throughput over the baseline's): the
    named variant of the same run, or else the same variant at the first size."""
    first = rows[0]["size_label"] if rows else None
    sizes = list(dict.fromkeys(r["size_label"] for r in rows))
    for r in rows:
        wanted = r.pop("baseline_variant")
        if wanted is not None:
            base = _find(rows, wanted, r["size_label"])
        else:
            base = _find(rows, r["variant"], first)
        r["baseline"] = f"{base['variant']} ({base['size_label']})" if base else None
        r["ratio"] = _ratio(r, base)
        if wanted is not None and len(sizes) > 1 and r["size_label"] != first:
            growth = _ratio(r, _find(rows, r["variant"], first))
            if growth is not None:  # in-run baseline: how the same variant grew with size
                r["notes"].append(f"{growth:.2f}x its own rate at {first}")
    return rows


def _find(rows, variant, size_label):
    return next(
        (b for b in rows if b["variant"] == variant and b["size_label"] == size_label), None
    )


def _ratio(r, base) -> float | None:
    if base is None or not r["throughput"] or not base["throughput"]:
        return None
    return r["throughput"] / base["throughput"]


# ----------------------------------------------------------------------------- the machine


def machine() -> dict[str, Any]:
    """CPU model, cores and memory of this machine (Linux /proc; portable fallbacks)."""
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.split(":")[0].strip() in ("model name", "Model", "Hardware"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = int(line.split()[1]) * 1024
    except OSError:
        if hasattr(os, "sysconf"):
            memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {
        "cpu": cpu or platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "memory_gib": round(memory / 2**30, 1) if memory else None,
        "arch": platform.machine(),
        "os": f"{platform.system()} {platform.release()}",
    }


def fingerprint(m: dict[str, Any]) -> str:
    memory = f"{m['memory_gib']:.0f} GiB" if m.get("memory_gib") else "memory unknown"
    return f"{m['cpu']}, {m['cores']} cores, {memory}"


def environment() -> dict[str, Any]:
    """Python and library versions, and the Spark settings the notebooks ran with."""
    from cookbook.config import load_config

    versions = {"python": platform.python_version()}
    for name, dists in LIBRARIES.items():
        for dist in dists:
            try:
                versions[name] = metadata.version(dist)
                break
            except metadata.PackageNotFoundError:
                continue
        else:
            versions[name] = "not installed"
    spark = load_config()["spark"]
    where = f"remote {spark['remote']}" if spark.get("remote") else spark.get("master")
    return {"versions": versions, "spark": f"{where}, driver memory {spark.get('driver_memory')}"}


# ----------------------------------------------------------------------------- results


def load_entries(path: Path) -> list[dict[str, Any]]:
    """The entries of ``results.json``; a file written by the previous benchmark code (rows of
    copied chapter kernels, no ``format``) becomes one entry of its own, kept apart."""
    if not path.is_file():
        return []
    data = json.loads(path.read_text(encoding="utf-8"))
    if data.get("format") == FORMAT:
        return data["entries"]
    if "rows" in data:
        return [_legacy_entry(data)]
    raise ValueError(f"{path}: not a results file this benchmark code knows (format 1 or 2)")


def _legacy_entry(data: dict[str, Any]) -> dict[str, Any]:
    known = {"benchmark", "variant", "size", "seconds", "seconds_all", "throughput", "unit"}
    benchmarks: dict[str, Any] = {}
    for r in data["rows"]:
        extras = {k: v for k, v in r.items() if k not in known | {"baseline", "ratio_vs_baseline"}}
        block = benchmarks.setdefault(
            r["benchmark"], {"finished": data.get("finished"), "rows": []}
        )
        block["rows"].append(
            {
                "variant": r["variant"],
                "size": r["size"],
                "size_label": f"{r['size']:,}",
                "items": None,
                "seconds": r.get("seconds"),
                "throughput": r.get("throughput"),
                "unit": r.get("unit"),
                "baseline": r.get("baseline"),
                "ratio": r.get("ratio_vs_baseline"),
                "notes": [f"{k} {v}" for k, v in sorted(extras.items())],
            }
        )
    return {
        "fingerprint": f"previous benchmark code: {data.get('machine')}",
        "legacy": True,
        "mode": data.get("mode", "full"),
        "machine": {"description": data.get("machine")},
        "updated": data.get("finished"),
        "benchmarks": benchmarks,
        "failed": {},
    }


def find_entry(
    entries: list[dict[str, Any]], host: dict[str, Any], mode: str
) -> dict[str, Any] | None:
    """The entry of this machine and mode (never the previous benchmark code's), or None."""
    key = fingerprint(host)
    return next(
        (
            e
            for e in entries
            if e["fingerprint"] == key and e["mode"] == mode and not e.get("legacy")
        ),
        None,
    )


def merge(
    entries: list[dict[str, Any]],
    host: dict[str, Any],
    mode: str,
    blocks: dict[str, dict[str, Any]],
    failed: dict[str, dict[str, Any]],
    now: str,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Put this run's benchmark ``blocks`` into the entry of this machine and mode, replacing
    only the benchmarks that ran; other machines', modes' and benchmarks' results stay. A failed
    benchmark keeps its earlier rows and is listed as failed. Returns (entries, that entry)."""
    entry = find_entry(entries, host, mode)
    if entry is None:
        entry = {"fingerprint": fingerprint(host), "mode": mode, "benchmarks": {}, "failed": {}}
    entry["machine"] = host
    entry["updated"] = now
    for name, block in blocks.items():
        entry["benchmarks"][name] = block
        entry["failed"].pop(name, None)
    entry["failed"].update(failed)
    order = list(BENCHMARKS)
    entry["benchmarks"] = dict(
        sorted(entry["benchmarks"].items(), key=lambda kv: _position(order, kv[0]))
    )
    rest = [e for e in entries if e is not entry]
    return [entry, *rest], entry  # the latest run's machine first


def _position(order: list[str], name: str) -> int:
    return order.index(name) if name in order else len(order)


def _fmt_rate(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.0f} {unit}" if value >= 100 else f"{value:,.3g} {unit}"


def markdown(entries: list[dict[str, Any]], plot: str | None) -> str:
    """``results.md``: each machine and mode in its own section, the latest run's first."""
    lines = [
        "# Benchmark results",
        "",
        "Written by `benchmarks/run.py` (`make bench`), which runs the chapter notebooks at "
        "benchmark sizes and reads what they recorded. Each section is one machine and mode; a "
        "run replaces only its own section (`--only`: only the benchmarks it ran). A ratio "
        "compares a row with its baseline: a measurement of the same notebook run, or the same "
        "stage at the first size.",
    ]
    for i, entry in enumerate(entries):
        lines += ["", *_section(entry, plot if i == 0 else None)]
    return "\n".join(lines) + "\n"


def _section(entry: dict[str, Any], plot: str | None) -> list[str]:
    if entry.get("legacy"):
        lines = [
            f"## Previous benchmark code: {entry['machine']['description']} ({entry['mode']} run)",
            "",
            "Measured by the previous benchmark code, which copied chapter kernels (Prophet fit, "
            "DTW UDFs, point-in-zone join, polyfill, patch cutting, model server, LSTM) instead "
            "of running the notebooks; not comparable with the sections above. "
            f"Written {entry.get('updated')}.",
        ]
    else:
        m = entry["machine"]
        lines = [
            f"## {entry['fingerprint']} ({entry['mode']} run)",
            "",
            f"- machine: {m['cpu']}; {m['cores']} cores; {m['memory_gib']} GiB memory; "
            f"{m['arch']}, {m['os']}",
            f"- last updated {entry['updated']}",
        ]
        groups: dict[str, list[str]] = {}
        for name, block in entry["benchmarks"].items():
            env = block.get("environment", {})
            shown = ", ".join(f"{k} {v}" for k, v in env.get("versions", {}).items())
            shown += f"; Spark {env['spark']}" if env.get("spark") else ""
            groups.setdefault(shown, []).append(f"{name} ({block.get('finished')})")
        for shown, names in groups.items():
            lines.append(f"- {shown}: {', '.join(names)}")
        for name, failure in entry.get("failed", {}).items():
            lines.append(
                f"- **{name} failed** at {failure.get('size', '?')} in the run of "
                f"{failure['finished']} (its rows below: the sizes that ran before, or its "
                f"last good run): {failure['error']}"
            )
        if plot:
            lines += ["", f"![Throughput against size, per benchmark]({plot})"]
    lines += [
        "",
        "| benchmark | variant | size | seconds | throughput | vs baseline | notes |",
        "|---|---|---|---:|---:|---:|---|",
    ]
    for name, block in entry["benchmarks"].items():
        for r in block["rows"]:
            seconds = f"{r['seconds']:.3g}" if r.get("seconds") is not None else ""
            ratio = f"{r['ratio']:.2f}x" if r.get("ratio") is not None else "n/a"
            notes = "; ".join(r.get("notes", []))
            lines.append(
                f"| {name} | {r['variant']} | {r['size_label']} | {seconds} | "
                f"{_fmt_rate(r.get('throughput'), r.get('unit', ''))} | {ratio} | {notes} |"
            )
    return lines


def plot_throughput(entry: dict[str, Any], target: Path) -> Path:
    """One panel per chapter benchmark: throughput against size, one line per variant (log
    scales)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cookbook.io import atomic_path

    # probes measure one size each, in units of their own: nothing to plot against size
    names = [n for n, b in entry["benchmarks"].items() if b["rows"] and n in BENCHMARKS]
    cols = min(4, max(1, len(names)))
    rows_n = max(1, -(-len(names) // cols))
    fig, axes = plt.subplots(rows_n, cols, figsize=(4.2 * cols, 3.4 * rows_n), squeeze=False)
    for ax, name in zip(axes.ravel(), names, strict=False):
        rows = entry["benchmarks"][name]["rows"]
        for variant in dict.fromkeys(r["variant"] for r in rows):
            points = sorted(
                (r["size"], r["throughput"])
                for r in rows
                if r["variant"] == variant and r["throughput"] and r["size"]
            )
            if points:
                xs, ys = zip(*points, strict=True)
                ax.plot(xs, ys, "o-", label=variant[:40])
        ax.set_xscale("log")
        ax.set_yscale("log")
        unit = rows[0].get("unit", "")
        spec = BENCHMARKS.get(name)
        ax.set(title=name, xlabel=spec.size_unit if spec else "size", ylabel=unit)
        ax.legend(fontsize=6)
    for ax in axes.ravel()[len(names) :]:
        ax.set_axis_off()
    fig.suptitle(f"{entry['fingerprint']} ({entry['mode']} run)", fontsize=9)
    fig.tight_layout()
    with atomic_path(target) as tmp:
        fig.savefig(tmp, dpi=80, format="png")
    plt.close(fig)
    return target


def write_results(out: Path, entries: list[dict[str, Any]], entry: dict[str, Any]) -> None:
    from cookbook.io import atomic_open, write_json

    plot = plot_throughput(entry, out / "throughput.png")
    write_json(out / "results.json", {"format": FORMAT, "entries": entries})
    with atomic_open(out / "results.md", "w", encoding="utf-8") as fh:
        fh.write(markdown(entries, plot.name))


# ----------------------------------------------------------------------------- main


def reread(
    entries: list[dict[str, Any]], host: dict[str, Any], mode: str, names: list[str]
) -> dict[str, dict[str, Any]]:
    """Blocks whose rows the current readers recompute from the runs stored for this machine
    and mode (``--reread``): a changed reader needs no new notebook runs."""
    entry = find_entry(entries, host, mode) or {}
    blocks = {}
    for name in names:
        block = entry.get("benchmarks", {}).get(name)
        if not block or not block.get("runs"):
            raise ValueError(f"--reread: no stored runs of {name!r} for this machine, {mode} mode")
        bench = BENCHMARKS[name]
        sizes = {s.label: s for s in bench.sizes[mode]}
        runs = [
            Recorded(
                sizes.get(r["size"], Size(r["size"], r["parameters"])),
                r["metrics"],
                r["timings"],
                r["seconds"],
            )
            for r in block["runs"]
        ]
        blocks[name] = {**block, "rows": add_ratios([x for run in runs for x in bench.read(run)])}
    return blocks


def isolate_mlflow(work: Path) -> None:
    """Track the benchmark's notebook runs in a store of their own (the kernels inherit it)."""
    store = f"sqlite:///{(work / 'mlruns' / 'mlflow.db').resolve()}"
    (work / "mlruns").mkdir(parents=True, exist_ok=True)
    os.environ["COOKBOOK__MLFLOW__TRACKING_URI"] = store
    os.environ["MLFLOW_TRACKING_URI"] = store
    os.environ["COOKBOOK__MLFLOW__ARTIFACT_ROOT"] = str((work / "mlruns" / "artifacts").resolve())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="each notebook at its smoke size")
    parser.add_argument(
        "--only", default=",".join([*BENCHMARKS, *PROBES]), help="comma-separated benchmarks"
    )
    parser.add_argument("--out", default=str(HERE), help="folder for results.json, .md and .png")
    parser.add_argument("--work", default=None, help="notebook runs (default <output.dir>/bench)")
    parser.add_argument(
        "--configured-mlflow",
        action="store_true",
        help="track the notebook runs in the configured MLflow store, not a private one",
    )
    parser.add_argument(
        "--reread",
        action="store_true",
        help="run nothing: recompute the rows of the stored runs with the current readers",
    )
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    known = [*BENCHMARKS, *PROBES, "run"]
    unknown = [n for n in names if n not in known]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(known)}")
    mode = "smoke" if args.smoke else "full"

    from cookbook.config import load_config

    work = Path(args.work or Path(load_config()["output"]["dir"]) / "bench").resolve()
    if not args.configured_mlflow:
        isolate_mlflow(work)
    out = Path(args.out)
    entries = load_entries(out / "results.json")  # before the runs: a bad file stops us now
    env = environment()
    blocks, failed = {}, {}
    if args.reread:
        blocks, names = reread(entries, machine(), mode, [n for n in names if n in BENCHMARKS]), []
    for name in [n for n in names if n in PROBES]:
        print(f"==> {name}: a machine probe", flush=True)
        rows = PROBES[name](4 if args.smoke else 40)
        blocks[name] = {"chapter": None, "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
                        "environment": env, "runs": [], "rows": rows}  # fmt: skip
    if "run" in names:
        print("==> run: every chapter at its default settings, as make run", flush=True)
        rows, stored = bench_make_run(work / "run", args.smoke)
        blocks["run"] = {"chapter": None, "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
                         "environment": env, "runs": [stored], "rows": rows}  # fmt: skip
        broken = [k for k, c in stored["chapters"].items() if c["status"] != "ok"]
        if broken:
            failed["run"] = {"finished": blocks["run"]["finished"], "size": stored["size"],
                             "error": f"chapter(s) failed: {', '.join(broken)}"}  # fmt: skip
    for name in [n for n in names if n in BENCHMARKS]:
        bench = BENCHMARKS[name]
        t0 = time.perf_counter()
        runs = []
        for size in bench.sizes[mode]:
            try:
                runs.append(run_notebook(name, bench, size, work))
            except Exception as exc:  # keep going: report every benchmark
                error = f"{type(exc).__name__}: {str(exc)[-1500:]}"
                print(f"    {name} failed at {size.label}: {error}", flush=True)
                failed[name] = {"finished": time.strftime("%Y-%m-%d %H:%M:%S"),
                                "size": size.label, "error": error[-300:]}  # fmt: skip
                break
        if not runs:
            continue
        rows = add_ratios([r for run in runs for r in bench.read(run)])
        blocks[name] = {
            "chapter": bench.chapter,
            "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
            "environment": env,
            "runs": [
                {
                    "size": run.size.label,
                    "parameters": run.size.params,
                    "seconds": run.seconds,
                    "metrics": run.metrics,
                    "timings": run.timings,
                }
                for run in runs
            ],
            "rows": rows,
        }
        print(f"{name}: {time.perf_counter() - t0:.0f} s", flush=True)
    entries, entry = merge(
        entries, machine(), mode, blocks, failed, time.strftime("%Y-%m-%d %H:%M:%S")
    )
    write_results(out, entries, entry)
    print("\n".join(_section(entry, None)))
    print(f"\n{out / 'results.md'}, {out / 'results.json'}, {out / 'throughput.png'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
