"""`make bench`: the benchmarks run the chapter notebooks and read what they recorded.

The slow test runs one benchmark, ``pip`` (chapter 8's notebook at its smoke size), end to end,
to keep CI lean: the other benchmarks run other notebooks through the same code, and the
notebook tests (tests/test_notebook_ch*.py) cover those notebooks and the metrics they record.
The unit tests check how results are merged: machines and modes kept apart, ``--only``
replacing just its benchmarks. (Benchmarks measure speed; tests never assert on timings.)
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _bench():
    """benchmarks/run.py as a module (benchmarks/ is not a package)."""
    if "bench_run" not in sys.modules:
        spec = importlib.util.spec_from_file_location("bench_run", ROOT / "benchmarks" / "run.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules["bench_run"] = module  # dataclasses look their module up while defined
        spec.loader.exec_module(module)
    return sys.modules["bench_run"]


@pytest.mark.slow
@pytest.mark.spark
def test_bench_smoke_runs_the_chapter_8_notebook_and_reads_its_metrics(tmp_path):
    out = tmp_path / "results"
    subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--smoke", "--only", "pip",
         "--out", str(out), "--work", str(tmp_path / "work")],
        check=True,
        cwd=ROOT,
        timeout=900,
    )  # fmt: skip
    results = json.loads((out / "results.json").read_text())
    assert results["format"] == 2 and len(results["entries"]) == 1
    entry = results["entries"][0]
    assert entry["mode"] == "smoke" and list(entry["benchmarks"]) == ["pip"]
    machine = entry["machine"]
    assert machine["cpu"] and machine["cores"] > 0 and machine["memory_gib"] > 0
    assert entry["fingerprint"] == f"{machine['cpu']}, {machine['cores']} cores, " + (
        f"{machine['memory_gib']:.0f} GiB"
    )
    block = entry["benchmarks"]["pip"]
    assert block["chapter"] == "08-geospatial"
    versions = block["environment"]["versions"]
    assert {"python", "pyspark", "mlflow", "tensorflow", "keras", "geopandas", "h3"} <= set(
        versions
    )
    assert block["runs"][0]["parameters"] == {"SMOKE": True}
    assert block["runs"][0]["metrics"]["n_trips"] == 30_000  # what the notebook recorded

    rows = block["rows"]
    baseline = rows[0]
    assert baseline["variant"] == "plain GeoPandas sjoin, 1 core" and baseline["ratio"] == 1.0
    variants = [r["variant"] for r in rows]
    assert "GeoPandas sjoin in Spark (exact)" in variants
    assert {f"H3 r{res} cell-centre join in Spark" for res in (7, 8, 9)} <= set(variants)
    assert any(v.startswith("per-row shapely UDF in Spark (sample of") for v in variants)
    for r in rows:
        assert r["throughput"] > 0 and r["ratio"] > 0 and r["size"] == 30_000, r
        assert r["baseline"] == "plain GeoPandas sjoin, 1 core (smoke settings)"
        assert r["unit"] == "points/s" and r["seconds"] > 0
    h3 = {r["variant"]: r["agreement"] for r in rows if "agreement" in r}
    cell_centre = [h3[f"H3 r{res} cell-centre join in Spark"] for res in (7, 8, 9)]
    assert 0 < cell_centre[0] < cell_centre[1] < cell_centre[2] < 1  # approximate, finer: better
    assert h3["H3 + exact test in border cells, in Spark"] == 1.0  # exact

    png = (out / "throughput.png").read_bytes()
    assert png.startswith(b"\x89PNG")
    table = (out / "results.md").read_text()
    assert table.count("\n| ") == len(rows) + 1  # header + one line per row
    assert "(throughput.png)" in table and entry["fingerprint"] in table


def _block(variant, throughput, finished="2026-01-01 00:00:00"):
    return {
        "chapter": "test",
        "finished": finished,
        "environment": {"versions": {"python": "3.11"}, "spark": "local[*]"},
        "runs": [],
        "rows": [
            {"variant": variant, "size": 10, "size_label": "10 things", "items": 10,
             "seconds": 10 / throughput, "throughput": throughput, "unit": "things/s",
             "baseline": None, "ratio": 1.0, "notes": []},
        ],
    }  # fmt: skip


HOST_A = {"cpu": "CPU A", "cores": 2, "memory_gib": 23.5, "arch": "x86_64", "os": "Linux"}
HOST_B = {"cpu": "CPU B", "cores": 16, "memory_gib": 125.7, "arch": "x86_64", "os": "Linux"}


@pytest.mark.unit
def test_results_keep_machines_and_modes_apart_and_only_replaces_its_benchmarks():
    bench = _bench()
    entries, _ = bench.merge(
        [], HOST_A, "full", {"pip": _block("a", 1.0), "dtw": _block("d", 2.0)}, {}, "t1"
    )
    entries, _ = bench.merge(entries, HOST_B, "full", {"pip": _block("b", 3.0)}, {}, "t2")
    entries, _ = bench.merge(entries, HOST_A, "smoke", {"pip": _block("s", 4.0)}, {}, "t3")
    assert len(entries) == 3  # two machines, and machine A in two modes
    # `--only pip` on machine A, full mode: only A's full pip rows change
    entries, entry = bench.merge(entries, HOST_A, "full", {"pip": _block("a2", 5.0)}, {}, "t4")
    assert len(entries) == 3 and entries[0] is entry  # the latest run's machine first
    assert entry["fingerprint"] == "CPU A, 2 cores, 24 GiB" and entry["updated"] == "t4"
    assert entry["benchmarks"]["pip"]["rows"][0]["variant"] == "a2"
    assert entry["benchmarks"]["dtw"]["rows"][0]["variant"] == "d"  # kept
    assert list(entry["benchmarks"]) == ["pip", "dtw"]  # the benchmarks' order
    other = {(e["fingerprint"], e["mode"]): e for e in entries}
    assert (
        other[("CPU B, 16 cores, 126 GiB", "full")]["benchmarks"]["pip"]["rows"][0]["variant"]
        == "b"
    )
    assert other[("CPU A, 2 cores, 24 GiB", "smoke")]["updated"] == "t3"

    # a failed benchmark keeps its last good rows and says it failed
    failure = {"dtw": {"finished": "t5", "error": "RuntimeError: boom"}}
    entries, entry = bench.merge(entries, HOST_A, "full", {}, failure, "t5")
    assert entry["benchmarks"]["dtw"]["rows"][0]["variant"] == "d"
    assert entry["failed"] == failure
    text = bench.markdown(entries, "throughput.png")
    assert text.count("\n## ") == 3 and "**dtw failed**" in text
    assert text.count("\n| ") == 3 + 4  # a header per section + one line per row
    assert text.count("throughput.png") == 1  # the plot belongs to the latest run's machine
    # ... and a later good run clears the failure
    entries, entry = bench.merge(entries, HOST_A, "full", {"dtw": _block("d2", 6.0)}, {}, "t6")
    assert entry["failed"] == {} and entry["benchmarks"]["dtw"]["rows"][0]["variant"] == "d2"


@pytest.mark.unit
def test_results_of_the_previous_benchmark_code_stay_in_a_section_of_their_own(tmp_path):
    bench = _bench()
    old = {
        "finished": "2026-11-27 10:03:16",
        "machine": "x86_64, 2 CPUs, Python 3.11.7, Spark 4.3.0 local[2]",
        "mode": "full",
        "repeats": 3,
        "rows": [
            {"benchmark": "pip", "variant": "plain GeoPandas sjoin, 1 core", "size": 1000,
             "seconds": 0.5, "seconds_all": [0.5], "throughput": 2000.0, "unit": "points/s",
             "baseline": "plain GeoPandas sjoin, 1 core", "ratio_vs_baseline": 1.0},
            {"benchmark": "pip", "variant": "H3 r8 cell join", "size": 1000, "seconds": 0.25,
             "seconds_all": [0.25], "throughput": 4000.0, "unit": "points/s",
             "baseline": "plain GeoPandas sjoin, 1 core", "ratio_vs_baseline": 2.0,
             "agreement": 0.62},
        ],
    }  # fmt: skip
    (tmp_path / "results.json").write_text(json.dumps(old))
    entries = bench.load_entries(tmp_path / "results.json")
    assert len(entries) == 1 and entries[0]["legacy"]
    entries, entry = bench.merge(entries, HOST_A, "full", {"pip": _block("new", 1.0)}, {}, "t")
    assert len(entries) == 2 and entries[1]["legacy"] and entries[0] is entry
    bench.write_results(tmp_path, entries, entry)
    again = bench.load_entries(tmp_path / "results.json")
    assert again == json.loads(json.dumps(entries))
    text = (tmp_path / "results.md").read_text()
    assert "## Previous benchmark code: x86_64, 2 CPUs" in text and "agreement 0.62" in text
    assert text.count("\n| ") == 2 + 1 + 2
    assert (tmp_path / "throughput.png").read_bytes().startswith(b"\x89PNG")


@pytest.mark.unit
def test_ratios_against_the_same_run_or_the_first_size():
    bench = _bench()
    small = bench.Recorded(bench.Size("small", {}), {}, {}, 1.0)
    large = bench.Recorded(bench.Size("large", {}), {}, {}, 1.0)
    rows = bench.add_ratios(
        [
            bench.row(small, "base", 1, "x/s", 10.0, baseline="base"),
            bench.row(small, "fast", 1, "x/s", 30.0, baseline="base"),
            bench.row(large, "base", 10, "x/s", 20.0, baseline="base"),
            bench.row(large, "fast", 10, "x/s", 90.0, baseline="base"),
            bench.row(small, "stage", 1, "x/s", 5.0),
            bench.row(large, "stage", 10, "x/s", 15.0),
            bench.row(large, "gone", 10, "x/s", None, missing="gone_metric", baseline="base"),
        ]
    )
    ratios = [r["ratio"] for r in rows]
    assert ratios == [1.0, 3.0, 1.0, 4.5, 1.0, 3.0, None]
    assert rows[3]["baseline"] == "base (large)" and rows[5]["baseline"] == "stage (small)"
    assert "3.00x its own rate at small" in rows[3]["notes"]  # how the variant grew with size
    assert rows[6]["notes"] == ["not recorded by the notebook: gone_metric"]


@pytest.mark.unit
def test_patches_and_distances_are_read_against_the_chapter_s_own_plain_loop():
    bench = _bench()
    size = bench.Size("11,000 patches", {})
    metrics = {"n_patches": 11_000, "loop_patches_per_second": 46.0,
               "patches_per_second_per_core": 41.4, "patches_differing": 0,
               "feature_images_per_second": 80.0}  # fmt: skip
    timings = {"patch extraction": {"seconds": 133.0, "items": 11_000}}
    rows = bench.add_ratios(bench.read_pathology(bench.Recorded(size, metrics, timings, 1.0)))
    loop, cut, features = rows
    assert loop["variant"] == "patch extraction, plain loop on the driver" and loop["ratio"] == 1
    assert cut["baseline"] == "patch extraction, plain loop on the driver (11,000 patches)"
    assert cut["ratio"] == pytest.approx(0.9) and cut["seconds"] == 133.0
    assert cut["notes"] == ["patches differing from the loop's: 0"]
    assert features["throughput"] == 80.0
    # chapter 2 at scale: the rows count the products section 7 timed, not the catalogue
    dtw = {"n_products": 811, "timing_products": 1_000_774, "spark_cores": 2,
           "products_per_second_loop": 30_000.0, "products_per_second_spark": 54_000.0,
           "products_per_second_transfer": 600_000.0, "spark_expected_vs_loop": 1.82}  # fmt: skip
    loop, udf, transfer = bench.add_ratios(bench.read_dtw(bench.Recorded(size, dtw, {}, 1.0)))
    assert loop["size"] == udf["size"] == 1_000_774 and udf["ratio"] == pytest.approx(1.8)
    assert udf["variant"] == "ucrdtw pandas UDF in Spark, 2 cores"
    assert udf["notes"] == ["the transfer alone allows at most about 1.82x the loop"]
    assert transfer["ratio"] == pytest.approx(20.0) and transfer["size"] == 1_000_774
    # chapter 3: where the fan-out's time goes, and what the same fan-out costs without fits
    prophet = {
        "n_series": 500, "spark_cores": 2, "loop_series": 20, "loop_models_per_minute": 353.0,
        "models_per_minute": 528.0, "fit_busy_share": 0.82, "fit_slowdown_in_parallel": 1.14,
        "fit_transfer_seconds": 4.0, "fit_expected_vs_loop": 1.61, "fit_bound_vs_loop": 1.83,
    }  # fmt: skip
    fit = bench.add_ratios(bench.read_prophet(bench.Recorded(size, prophet, {}, 1.0)))[1]
    assert fit["ratio"] == pytest.approx(528 / 353)
    assert fit["notes"] == [
        "cores busy fitting 82% of the time; each fit 1.14x as long as in the loop",
        "without the fits the fan-out takes 4.0 s: at most 1.61x the loop with this slowdown, "
        "1.83x if no fit slowed down",
    ]


@pytest.mark.unit
def test_reread_recomputes_rows_from_the_stored_runs_and_needs_them(tmp_path):
    bench = _bench()
    run = {
        "size": "811 products",
        "parameters": {},
        "seconds": 30.0,
        "metrics": {"n_products": 811, "products_per_second_loop": 1000.0,
                    "products_per_second_spark": 1500.0},
        "timings": {},
    }  # fmt: skip
    block = {**_block("stale row", 1.0), "chapter": "02-dtw-sales-trends", "runs": [run]}
    entries, _ = bench.merge([], HOST_A, "full", {"dtw": block}, {}, "t1")
    blocks = bench.reread(entries, HOST_A, "full", ["dtw"])
    rows = blocks["dtw"]["rows"]
    assert [(r["variant"], r["throughput"], r["ratio"]) for r in rows] == [
        ("ucrdtw, plain loop on the driver", 1000.0, 1.0),
        ("ucrdtw pandas UDF in Spark", 1500.0, 1.5),
        ("pandas UDF in Spark, transfer only (no DTW)", None, None),  # not recorded then
    ]  # the current reader's rows, not the stored "stale row"
    assert blocks["dtw"]["runs"] == [run] and blocks["dtw"]["finished"] == block["finished"]
    with pytest.raises(ValueError, match="no stored runs of 'pip' for this machine, full mode"):
        bench.reread(entries, HOST_A, "full", ["pip"])
    with pytest.raises(ValueError, match="'dtw' for this machine, full mode"):
        bench.reread(entries, HOST_B, "full", ["dtw"])


@pytest.mark.slow
def test_the_ceiling_probe_compares_one_process_with_one_per_core(monkeypatch):
    # the probe's processes are spawned: they import benchmarks/run.py by its name
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    rows = importlib.import_module("run").probe_ceiling(2)
    cores = os.cpu_count()
    assert [r["variant"] for r in rows] == [
        "Prophet fit, 1 process alone",
        f"Prophet fit, {cores} processes at once (no Spark)",
        "ucrdtw, 1 process alone",
        f"ucrdtw, {cores} processes at once (no Spark)",
    ]
    for alone, together, n in (rows[:2] + [2], rows[2:] + [10_000]):
        assert alone["ratio"] == 1.0 and together["baseline"].startswith(alone["variant"])
        assert alone["items"] == n and together["items"] == cores * n
        # the ratio is the cores over the per-item slowdown the note reports
        slowdown = float(together["notes"][0].split("each item ")[1].split("x")[0])
        assert together["ratio"] == pytest.approx(cores / slowdown, rel=0.01)


@pytest.mark.unit
def test_the_run_benchmark_times_every_chapter_through_make_run_s_loop(monkeypatch, tmp_path):
    from cookbook import runner

    calls = []

    def fake_run_chapters(selected, output, parameters=None, **options):
        calls.append((selected, output, parameters))
        seconds = [60.0 * (k + 1) for k in range(len(selected))]  # 1 + 2 + ... + 8 minutes
        return [
            (ch, "FAILED" if k == 2 else "ok", {"x": k}, s, f"{ch.key}.ipynb")
            for k, (ch, s) in enumerate(zip(selected, seconds, strict=True))
        ]

    monkeypatch.setattr(runner, "run_chapters", fake_run_chapters)
    bench = _bench()
    rows, stored = bench.bench_make_run(tmp_path, smoke=False)
    ((selected, output, params),) = calls
    assert list(selected) == list(runner.CHAPTERS) and output == tmp_path
    assert params == {"DATA_SOURCE": "synthetic", "SMOKE": False}  # what make run passes
    total = 60.0 * sum(range(1, 9))  # 36 minutes
    assert [r["seconds"] for r in rows] == [60.0 * k for k in range(1, 9)] + [total]
    assert rows[0]["variant"] == f"chapter 1: {runner.CHAPTERS[0].title}"
    assert rows[0]["notes"] == [f"{60 / total:.0%} of the run"]
    assert rows[2]["notes"][-1] == "FAILED"
    assert rows[-1]["variant"] == "all 8 chapters, one after another (make run)"
    assert rows[-1]["notes"] == [
        "36.0 min: over the goal of 30 min",
        f"FAILED: {runner.CHAPTERS[2].key}",
    ]
    assert all(r["throughput"] is None and r["ratio"] is None for r in rows)
    assert stored["seconds"] == total and stored["size"] == "default settings"
    assert stored["chapters"][runner.CHAPTERS[2].key]["status"] == "FAILED"
    assert stored["chapters"][runner.CHAPTERS[1].key]["metrics"] == {"x": 1}
    # opt-in: a default `make bench` runs BENCHMARKS and PROBES only
    assert "run" not in bench.BENCHMARKS and "run" not in bench.PROBES
