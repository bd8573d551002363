"""`make bench` works: its smoke mode runs every benchmark on tiny sizes and writes both files.
(Benchmarks measure speed; tests never assert on timings.)"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.spark]
ROOT = Path(__file__).resolve().parents[1]


def test_bench_smoke_writes_results_with_baselines(tmp_path):
    subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--smoke", "--out", str(tmp_path)],
        check=True,
        cwd=ROOT,
        timeout=900,
    )
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["mode"] == "smoke"
    rows = results["rows"]
    names = ("dtw", "prophet", "pip", "fraud", "pathology", "rest", "lstm")
    assert {r["benchmark"] for r in rows} == set(names)
    for bench in names:
        baselines = [r for r in rows if r["benchmark"] == bench and r["ratio_vs_baseline"] == 1.0]
        assert baselines, f"{bench} has no baseline row"
    for r in rows:
        assert r["seconds"] > 0 and r["throughput"] > 0 and r["size"] > 0
        assert r["baseline"] and r["unit"]
    h3 = next(r for r in rows if r["variant"].startswith("H3"))
    assert 0.3 < h3["agreement"] < 1.0  # approximate, and measured against the exact join
    prophet = next(r for r in rows if "applyInPandas" in r["variant"])
    assert prophet["parallel_efficiency"] > 0
    rest = [r for r in rows if r["benchmark"] == "rest"]
    assert [r.get("errors", 0) for r in rest] == [0, 0, 0] and rest[1]["p95_ms"] > 0
    fraud = [r for r in rows if r["benchmark"] == "fraud"]
    assert len(fraud) == 8 and all(r["jvm_peak_mb"] > 0 for r in fraud)
    lstm = [r for r in rows if r["benchmark"] == "lstm"]
    assert lstm[1]["peak_rss_mb"] > 0 and "864 steps" in lstm[1]["variant"]
    table = (tmp_path / "results.md").read_text()
    assert table.count("\n| ") == len(rows) + 1  # header + one line per row
