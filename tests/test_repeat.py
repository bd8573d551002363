"""Same seeds, same numbers: every chapter's smoke run gives the same results a second time, and
a third time on a cluster.

Under ``make test`` each chapter runs three times with the same parameters and seeds: in local
mode (tests/test_notebook_ch*.py), over Spark Connect and on the standalone cluster
(tests/test_modes.py; chapter 3's cluster run is the worker-loss test's reference run). All
leave their results in ``$COOKBOOK_TEST_EXECUTED/results/``; this file runs after them (make
test's second pytest run) and compares them. Only what a rerun may change is left out: timings,
speeds, memory and the identifiers MLflow hands out (``notebook_checks.VOLATILE``). Every model,
metric, count and choice must repeat, so a random generator without a seed (Prophet's interval
sampling, Keras' initial weights or augmentation, a Spark sample) fails here.

Spark Connect has ``local[2]`` behind it, the same partitioning as local mode: its results must
be identical (floats to 1e-9). The cluster's two workers have one core each, and TensorFlow
there adds up in another order, so its floats may differ in the fifth digit (chapter 6's heat
map did, by 1e-5): they must agree to 1e-3, and integers and text exactly.

Run on its own (without ``$COOKBOOK_TEST_EXECUTED``) there is nothing to compare, and it skips.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from notebook_checks import VOLATILE, repeatable
from notebook_run import EXECUTED_ENV

from cookbook.chapters import CHAPTERS

pytestmark = [pytest.mark.notebook, pytest.mark.connect]

KEYS = [ch.key for ch in CHAPTERS]


def _results(mode: str, key: str) -> dict:
    folder = os.environ.get(EXECUTED_ENV)
    if not folder:
        pytest.skip(f"needs {EXECUTED_ENV} from make test's first pytest run (see Makefile)")
    path = Path(folder) / "results" / mode / f"{key}.json"
    if not path.is_file():
        pytest.fail(
            f"{path} is missing: {key}'s {mode} run did not finish in make test's first pytest "
            "run (or was not run)"
        )
    return json.loads(path.read_text())


def _differences(first: dict, second: dict, rel: float = 1e-9) -> list[str]:
    a, b = repeatable(first), repeatable(second)
    lines = [f"{k}: only in the first run" for k in sorted(a.keys() - b.keys())]
    lines += [f"{k}: only in the second run" for k in sorted(b.keys() - a.keys())]
    for k in sorted(a.keys() & b.keys()):
        x, y = a[k], b[k]
        same = x == pytest.approx(y, rel=rel, abs=1e-12) if isinstance(x, float) else x == y
        if not same:
            lines.append(f"{k}: {x!r} then {y!r}")
    return lines


TOLERANCE = {"connect": 1e-9, "cluster": 1e-3}  # relative, for floats; see above


@pytest.mark.parametrize("mode", list(TOLERANCE))
@pytest.mark.parametrize("key", KEYS)
def test_a_second_run_with_the_same_seeds_gives_the_same_results(key, mode):
    local, again = _results("local", key), _results(mode, key)
    assert len(repeatable(local)) >= 5, "too little to compare"
    diff = _differences(local, again, rel=TOLERANCE[mode])
    assert not diff, f"{key}, local then {mode}:\n" + "\n".join(diff)


def test_the_comparison_sees_a_changed_number_and_ignores_timings():
    first = {"auc": 0.91, "n_rows": 10, "model": "tree", "wall_seconds": 3.0, "mlflow_run_id": "a"}
    assert not _differences(first, first | {"wall_seconds": 9.0, "mlflow_run_id": "b"})
    assert _differences(first, first | {"auc": 0.9100001}) == ["auc: 0.91 then 0.9100001"]
    assert not _differences(first, first | {"auc": 0.9100001}, rel=1e-3)
    assert _differences(first, first | {"n_rows": 11}, rel=1e-3) == ["n_rows: 10 then 11"]
    assert _differences(first, {k: v for k, v in first.items() if k != "n_rows"}) == [
        "n_rows: only in the first run"
    ]
    assert VOLATILE.search("rest_latency_ms_p95") and not VOLATILE.search("test_mae")
    assert VOLATILE.search("fit_busy_share") and VOLATILE.search("fit_slowdown_in_parallel")
    assert VOLATILE.search("spark_vs_loop_per_core")  # chapter 6: a ratio of two timings
    assert not VOLATILE.search("fit_slowdown_series")  # a count of series: it must repeat
