"""Execute the chapter notebooks with papermill and summarise what they recorded.

``make run`` calls ``python -m cookbook.runner``; the notebook tests call :func:`execute`.
Each notebook runs with its working directory in ``notebooks/``, writes its executed copy and
its files to ``<output>/<chapter>/``, and records ``metrics.json`` there.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from cookbook.chapters import CHAPTERS, Chapter, chapter
from cookbook.config import load_config
from cookbook.tracking import read_results

__all__ = ["CHAPTERS", "Chapter", "chapter", "execute", "main", "run_chapters", "summary"]

KERNEL_NAME = "cookbook"


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


@contextlib.contextmanager
def _kernel_sockets():
    """Kernel configuration whose sockets cannot collide with another process's ports.

    By default Jupyter picks five free TCP ports, releases them and lets the kernel bind them;
    with several kernels, Spark, MLflow and PostgreSQL starting at once another process can take
    one in between ("Address already in use", "Kernel died before replying to kernel_info"). On
    POSIX the kernel talks over Unix sockets in a private temporary folder instead.
    """
    from traitlets.config import Config

    if os.name != "posix":
        yield Config()
        return
    folder = tempfile.mkdtemp(prefix="cookbook-kernel-")
    try:
        yield Config({"KernelManager": {"transport": "ipc", "ip": os.path.join(folder, "k")}})
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def execute(
    ch: Chapter | str,
    output_root: str | Path,
    parameters: dict[str, Any] | None = None,
    log_output: bool = False,
    timeout: int | None = None,
    progress: bool = False,
    language: str = "en",
) -> tuple[Path, dict[str, Any], float]:
    """Run one chapter notebook; return (executed notebook, recorded results, seconds).

    ``parameters`` go to the notebook's ``parameters`` cell; ``OUTPUT_DIR`` is set to
    ``<output_root>/<chapter>`` unless given. ``progress`` shows papermill's bar (cells done,
    elapsed and remaining). ``language="ko"`` runs the Korean edition
    (``notebooks/ko/``; same code, so the same results), from the same working directory.
    """
    import papermill as pm

    ch = chapter(ch) if isinstance(ch, str) else ch
    out_dir = Path(output_root).resolve() / ch.key
    out_dir.mkdir(parents=True, exist_ok=True)
    params = {"OUTPUT_DIR": str(out_dir), **(parameters or {})}
    src = notebooks_dir() / ch.notebook
    if language != "en":
        from cookbook.editions import edition_path

        src = edition_path(src, language)
    executed = out_dir / ch.notebook
    start = time.perf_counter()
    with _kernel_sockets() as kernel_config:
        pm.execute_notebook(
            str(src),
            str(executed),
            parameters=params,
            kernel_name=_kernel_name(),
            cwd=str(notebooks_dir()),
            log_output=log_output,
            progress_bar=progress and {"desc": ch.key, "unit": "cell"},
            execution_timeout=timeout,
            config=kernel_config,
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
    total = sum(r[3] for r in rows)
    ok = sum(r[1] == "ok" for r in rows)
    lines += [
        "",
        f"{len(rows)} chapter(s) in {total / 60:.1f} min ({total:.0f} s), {ok} ok",
        f"Executed notebooks and files: {output}",
        f"MLflow tracking store:        {config['mlflow']['tracking_uri']}",
        f"MLflow artifacts:             {config['mlflow'].get('artifact_root')}",
        "Browse the runs with `make ui` (http://127.0.0.1:5000).",
    ]
    return "\n".join(lines)


def run_chapters(
    selected: list[Chapter],
    output: str | Path,
    parameters: dict[str, Any] | None = None,
    **options: Any,
) -> list[tuple[Chapter, str, dict[str, Any], float, str]]:
    """Execute ``selected`` one after another, as ``make run`` does, going on after a failure.

    Returns one row per chapter for :func:`summary`: (chapter, "ok" or "FAILED", recorded
    results, seconds, executed notebook). ``options`` go to :func:`execute`. The benchmarks
    time ``make run`` through this function (``benchmarks/run.py --only run``).
    """
    output = Path(output).resolve()
    rows = []
    for ch in selected:
        print(f"==> {ch.key}: executing {ch.notebook}", flush=True)
        start = time.perf_counter()
        try:
            executed, results, seconds = execute(ch, output, parameters, **options)
            rows.append((ch, "ok", results, seconds, str(executed)))
        except Exception as exc:  # keep going: report every chapter
            where = output / ch.key / ch.notebook
            rows.append((ch, "FAILED", {}, time.perf_counter() - start, str(where)))
            print(f"    {ch.key} failed: {type(exc).__name__}: {str(exc)[:2000]}", flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("chapters", nargs="*", help="chapter keys or numbers (default: all)")
    parser.add_argument("--output", default=None, help="output folder (default: output.dir)")
    parser.add_argument("--smoke", action="store_true", help="run with SMOKE=True (fast)")
    parser.add_argument("--data-source", default="synthetic", choices=["synthetic", "real"])
    parser.add_argument("--log-output", action="store_true", help="stream cell output")
    parser.add_argument(
        "--language", default="en", choices=["en", "ko"], help="edition (ko: notebooks/ko/)"
    )
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=sys.stderr.isatty() and not os.environ.get("CI"),
        help="a progress bar per notebook (default: on a terminal, off in CI)",
    )
    args = parser.parse_args(argv)

    output = Path(args.output or load_config()["output"]["dir"]).resolve()
    selected = [chapter(c) for c in args.chapters] if args.chapters else list(CHAPTERS)
    rows = run_chapters(
        selected,
        output,
        {"DATA_SOURCE": args.data_source, "SMOKE": args.smoke},
        log_output=args.log_output,
        progress=args.progress,
        language=args.language,
    )
    failed = sum(r[1] != "ok" for r in rows)
    print(summary(rows, output))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
