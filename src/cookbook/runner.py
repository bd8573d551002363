"""Execute the chapter notebooks with papermill and summarise what they recorded.

``make run`` calls ``python -m cookbook.runner``; the notebook tests call :func:`execute`.
Each notebook runs with its working directory in ``notebooks/``, writes its executed copy and
its files to ``<output>/<chapter>/``, and records ``metrics.json`` there.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cookbook.config import load_config
from cookbook.tracking import read_results

KERNEL_NAME = "cookbook"


@dataclass(frozen=True)
class Chapter:
    key: str  # also the MLflow experiment suffix and the output sub-folder
    notebook: str
    title: str
    headline: tuple[str, ...]  # metrics shown in the summary


CHAPTERS: tuple[Chapter, ...] = (
    Chapter(
        "01-dtw-background",
        "01_dtw_background.ipynb",
        "DTW background: audio clips",
        ("dist_1_2", "dist_1_3", "dist_1_4", "mfcc_dist_1_4"),
    ),
    Chapter(
        "02-dtw-sales-trends",
        "02_dtw_sales_trends.ipynb",
        "DTW sales trends with Spark and MLflow",
        ("n_products", "median_distance", "closest_product", "farthest_product"),
    ),
    Chapter(
        "03-prophet-forecasting",
        "03_prophet_forecasting.ipynb",
        "Prophet fine-grained forecasting on Spark",
        (
            "n_series",
            "holdout_smape_median",
            "baseline_smape_median",
            "prophet_win_rate",
            "models_per_minute",
        ),
    ),
    Chapter(
        "04-lstm-forecasting",
        "04_lstm_forecasting.ipynb",
        "LSTM multivariate forecasting",
        ("test_mae", "persistence_mae", "seasonal_naive_mae", "train_median_mae", "epochs_run"),
    ),
    Chapter(
        "05-fraud-detection",
        "05_fraud_detection.ipynb",
        "Fraud detection: rules to a decision tree",
        (
            "n_rows",
            "rule_flag_rate",
            "test_pr_auc",
            "balanced_test_pr_auc",
            "rule_recall_on_isfraud",
            "model_recall_on_isfraud",
        ),
    ),
    Chapter(
        "06-digital-pathology",
        "06_digital_pathology.ipynb",
        "Digital pathology: OpenSlide patches, CNN features, heat map",
        (
            "weights",
            "heldout_roc_auc",
            "control_auc",
            "heatmap_mean_inside",
            "heatmap_mean_outside",
            "patches_per_second_per_core",
        ),
    ),
    Chapter(
        "07-car-classification",
        "07_car_classification.ipynb",
        "Car classification: Keras ResNet served over REST",
        (
            "n_classes",
            "test_accuracy",
            "train_images_per_second",
            "rest_latency_ms_median",
        ),
    ),
    Chapter(
        "08-geospatial",
        "08_geospatial.ipynb",
        "Geospatial: GeoPandas in Spark, H3 joins, formats",
        (
            "valid_points",
            "exact_true_zone_share",
            "h3_agreement_r7",
            "h3_agreement_r9",
            "h3_refined_agreement",
            "points_per_second_exact_spark",
        ),
    ),
)


def chapter(key_or_notebook: str) -> Chapter:
    """Find a chapter by key (``02-dtw-sales-trends``), number (``2``) or notebook name."""
    for ch in CHAPTERS:
        if key_or_notebook in (ch.key, ch.notebook, ch.notebook.removesuffix(".ipynb")):
            return ch
        if key_or_notebook.isdigit() and ch.key.startswith(f"{int(key_or_notebook):02d}-"):
            return ch
    known = ", ".join(ch.key for ch in CHAPTERS)
    raise KeyError(f"unknown chapter {key_or_notebook!r}; known: {known}")


def notebooks_dir(config: dict | None = None) -> Path:
    return Path((config or load_config())["root"]) / "notebooks"


def _kernel_name() -> str:
    from jupyter_client.kernelspec import KernelSpecManager

    specs = KernelSpecManager().find_kernel_specs()
    if KERNEL_NAME not in specs:
        raise RuntimeError(
            f"Jupyter kernel {KERNEL_NAME!r} is not installed for this environment; run "
            f"`make setup` (it runs `python -m ipykernel install --sys-prefix --name "
            f"{KERNEL_NAME}`)."
        )
    return KERNEL_NAME


def execute(
    ch: Chapter | str,
    output_root: str | Path,
    parameters: dict[str, Any] | None = None,
    log_output: bool = False,
    timeout: int | None = None,
) -> tuple[Path, dict[str, Any], float]:
    """Run one chapter notebook; return (executed notebook, recorded results, seconds).

    ``parameters`` go to the notebook's ``parameters`` cell; ``OUTPUT_DIR`` is set to
    ``<output_root>/<chapter>`` unless given.
    """
    import papermill as pm

    ch = chapter(ch) if isinstance(ch, str) else ch
    out_dir = Path(output_root).resolve() / ch.key
    out_dir.mkdir(parents=True, exist_ok=True)
    params = {"OUTPUT_DIR": str(out_dir), **(parameters or {})}
    src = notebooks_dir() / ch.notebook
    executed = out_dir / ch.notebook
    start = time.perf_counter()
    pm.execute_notebook(
        str(src),
        str(executed),
        parameters=params,
        kernel_name=_kernel_name(),
        cwd=str(src.parent),
        log_output=log_output,
        progress_bar=False,
        execution_timeout=timeout,
    )
    seconds = time.perf_counter() - start
    return executed, read_results(params["OUTPUT_DIR"]), seconds


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def summary(rows: list[tuple[Chapter, str, dict[str, Any], float, str]], output: Path) -> str:
    """Render the run summary printed by ``make run``."""
    config = load_config()
    lines = ["", "ML Use-Case Cookbook: run summary", "=" * 34]
    for ch, status, results, seconds, where in rows:
        lines.append(f"{ch.key}  {ch.title}  [{status}, {seconds:.0f} s]")
        for key in ch.headline:
            if key in results:
                lines.append(f"    {key:<22} {_fmt(results[key])}")
        lines.append(f"    notebook: {where}")
    lines += [
        "",
        f"Executed notebooks and files: {output}",
        f"MLflow tracking store:        {config['mlflow']['tracking_uri']}",
        f"MLflow artifacts:             {config['mlflow'].get('artifact_root')}",
        "Browse the runs with `make ui` (http://127.0.0.1:5000).",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("chapters", nargs="*", help="chapter keys or numbers (default: all)")
    parser.add_argument("--output", default=None, help="output folder (default: output.dir)")
    parser.add_argument("--smoke", action="store_true", help="run with SMOKE=True (fast)")
    parser.add_argument("--data-source", default="synthetic", choices=["synthetic", "real"])
    parser.add_argument("--log-output", action="store_true", help="stream cell output")
    args = parser.parse_args(argv)

    output = Path(args.output or load_config()["output"]["dir"]).resolve()
    selected = [chapter(c) for c in args.chapters] if args.chapters else list(CHAPTERS)
    rows = []
    failed = 0
    for ch in selected:
        print(f"==> {ch.key}: executing {ch.notebook}", flush=True)
        params = {"DATA_SOURCE": args.data_source, "SMOKE": args.smoke}
        start = time.perf_counter()
        try:
            executed, results, seconds = execute(ch, output, params, log_output=args.log_output)
            rows.append((ch, "ok", results, seconds, str(executed)))
        except Exception as exc:  # keep going: report every chapter
            failed += 1
            where = output / ch.key / ch.notebook
            rows.append((ch, "FAILED", {}, time.perf_counter() - start, str(where)))
            print(f"    {ch.key} failed: {type(exc).__name__}: {str(exc)[:2000]}", flush=True)
    print(summary(rows, output))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
