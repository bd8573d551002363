"""The one call at the top of every notebook, and the chores every chapter shares.

.. code-block:: python

    from cookbook import chapter

    ch = chapter.start("02-dtw-sales-trends", globals())

:func:`start` checks every value of the notebook's ``parameters`` cell against the chapter's
schema (:mod:`cookbook.params`) *before* anything is deleted or written, applies the ``SMOKE``
reductions (and prints them), quiets the known warnings and the JVM/TensorFlow start-up logs,
makes the output folder, starts Spark when the chapter uses it (``ch.spark``) and opens the
chapter's MLflow run, which stays open until :meth:`ChapterRun.finish`.

Then one line for each chore: :meth:`~ChapterRun.savefig` (save a figure and log it),
:meth:`~ChapterRun.save_table`, :meth:`~ChapterRun.save` (any writer, atomically),
:meth:`~ChapterRun.timed` (a stage into the timing table), :meth:`~ChapterRun.record` (results
into ``metrics.json`` and the run, with the data source, run id and wall time) and
:meth:`~ChapterRun.finish`.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from cookbook.chapters import Chapter, chapter
from cookbook.config import load_config
from cookbook.io import atomic_path
from cookbook.tracking import METRICS_FILE, get_experiment_id, record_results, setup_mlflow

# Warnings a reader cannot act on, and start-up chatter: silenced for every chapter.
_QUIET_WARNINGS = (
    "IProgress not found",  # tqdm without widgets
    "Skipping variable loading for optimizer",  # Keras: optimizer state not needed to predict
    "Add type hints to the `predict` method",  # MLflow: the signature is given explicitly
    "The `keras.utils.PyDataset`",  # nothing to act on either
)
_QUIET_LOGGERS = {
    "prophet.plot": logging.CRITICAL,  # "Importing plotly failed": interactive plots not used
    "cmdstanpy": logging.WARNING,  # two INFO lines per Stan fit
    "mlflow.spark": logging.WARNING,  # DFS copy notices when loading Spark models
    "mlflow.store.db.utils": logging.WARNING,  # "Creating initial MLflow database tables"
    "py4j": logging.ERROR,
}


class ParameterError(ValueError):
    """A value in a notebook's ``parameters`` cell breaks the chapter's rules."""


def quiet() -> None:
    """Silence the warnings and loggers a reader cannot act on. :func:`start` calls it; call it
    yourself at the top of a function that runs in Spark's Python workers."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up lines
    for message in _QUIET_WARNINGS:
        warnings.filterwarnings("ignore", message=message)
    for name, level in _QUIET_LOGGERS.items():
        logger = logging.getLogger(name)
        logger.setLevel(level)
        if not logger.handlers:
            # a handler of our own: libraries that configure their logger on import only when
            # it has none (cmdstanpy) then keep this level; warnings still reach the root
            logger.addHandler(logging.NullHandler())


def check_parameters(spec: Chapter, namespace: MutableMapping[str, Any]):
    """Validate the notebook's parameters (read from ``namespace``) against ``spec.params``.

    Raises :class:`ParameterError` listing every problem: the parameter, the value given and
    what was expected. Returns the validated model.
    """
    fields = list(spec.params.model_fields)
    missing = [name for name in fields if name not in namespace]
    if missing:
        raise ParameterError(
            f"{spec.notebook}: the parameters cell does not define {', '.join(missing)}"
        )
    values = {name: namespace[name] for name in fields}
    try:
        return spec.params.model_validate(values)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            name = ".".join(str(part) for part in err["loc"]) or "parameters"
            message = err["msg"].removeprefix("Value error, ")
            shown = f" = {values[name]!r}" if name in values else ""
            lines.append(f"  {name}{shown}: {message}")
        raise ParameterError(
            f"{spec.notebook}: {len(lines)} invalid parameter value(s); nothing was changed:\n"
            + "\n".join(lines)
        ) from None


def output_dir(value: str | os.PathLike | None, key: str, config: dict | None = None) -> Path:
    """Resolve an ``OUTPUT_DIR`` parameter: ``""`` means ``<output.dir>/<chapter>``; a relative
    path is taken from the project root, not from the notebook's working directory."""
    config = config or load_config()
    if not value:
        return Path(config["output"]["dir"]) / key
    path = Path(value).expanduser()
    return path if path.is_absolute() else Path(config["root"]) / path


@dataclass
class _Stage:
    name: str
    items: int | None = None
    seconds: float = 0.0


@dataclass
class ChapterRun:
    """What :func:`start` returns: the chapter's settings, folder, Spark session and run."""

    spec: Chapter
    params: Any
    out: Path
    run_id: str
    experiment_id: str
    spark: Any = None
    results: dict[str, Any] = field(default_factory=dict)
    stages: list[_Stage] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)
    finished: bool = False
    failed: bool = False

    # ------------------------------------------------------------------ files and artifacts

    def path(self, name: str) -> Path:
        """``OUTPUT_DIR/name``."""
        return self.out / name

    def log_file(self, path: str | os.PathLike, artifact_path: str | None = None) -> Path:
        """Log an existing file as an artifact of the chapter's run."""
        import mlflow

        self._ensure_run()
        mlflow.log_artifact(str(path), artifact_path=artifact_path)
        return Path(path)

    def save(self, name: str, write: Callable[[Path], Any], log: bool = True) -> Path:
        """Call ``write(tmp_path)``, rename the file to ``OUTPUT_DIR/name`` when it succeeded
        (a crash never leaves half a file), and log it to the run unless ``log=False``."""
        target = self.path(name)
        with atomic_path(target) as tmp:
            write(tmp)
        return self.log_file(target) if log else target

    def savefig(self, fig, name: str, dpi: int = 90, **kwargs) -> Path:
        """Save a matplotlib figure as ``OUTPUT_DIR/name`` and log it. The figure stays open,
        so the notebook still shows it."""
        fmt = Path(name).suffix.lstrip(".") or "png"
        kwargs.setdefault("bbox_inches", "tight")
        return self.save(name, lambda tmp: fig.savefig(tmp, dpi=dpi, format=fmt, **kwargs))

    def save_table(self, frame, name: str, **kwargs) -> Path:
        """Write a pandas DataFrame as CSV (``index=False`` unless given) and log it."""
        kwargs.setdefault("index", False)
        return self.save(name, lambda tmp: frame.to_csv(tmp, **kwargs))

    def save_text(self, text: str, name: str) -> Path:
        return self.save(name, lambda tmp: tmp.write_text(text, encoding="utf-8"))

    def log_input(
        self,
        path: str | os.PathLike,
        name: str,
        sample: Any = None,
        context: str = "training",
    ) -> None:
        """Record a data file or folder as an input of the chapter's run (``mlflow.log_input``):
        its path, a fingerprint of its content and, from ``sample`` (a pandas or Spark
        DataFrame of it), its columns. The data itself is not copied
        (:func:`cookbook.tracking.file_dataset`)."""
        import mlflow

        from cookbook.tracking import file_dataset

        self._ensure_run()
        mlflow.log_input(file_dataset(path, name, sample), context=context)

    # ------------------------------------------------------------------ timing

    @contextlib.contextmanager
    def timed(self, stage: str, items: int | None = None) -> Iterator[_Stage]:
        """Time the block as a row of the timing table; set ``.items`` inside the block when
        the count is known only then. The row's ``seconds`` is set when the block ends."""
        row = _Stage(stage, items)
        t0 = time.perf_counter()
        try:
            yield row
        finally:
            row.seconds = time.perf_counter() - t0
            self.stages.append(row)

    @staticmethod
    def peak_memory_mb() -> float:
        """The most memory (resident set) this process has held so far, in MiB: the notebook's
        kernel, not Spark's JVM or its Python workers. On Linux it is ``VmHWM`` from
        /proc/self/status: ``ru_maxrss`` would also carry the high-water mark of the process
        that started this one (exec keeps it), so a kernel started by a large process would
        report that process's size. Elsewhere ``ru_maxrss`` (macOS counts it in bytes)."""
        try:
            with open("/proc/self/status", encoding="ascii") as fh:
                for line in fh:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) / 1024  # kB
        except OSError:
            pass
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 2**20 if sys.platform == "darwin" else peak / 1024

    def timing_table(self):
        """The timed stages so far: stage, seconds, items, items per second."""
        import pandas as pd

        table = pd.DataFrame(
            [{"stage": s.name, "seconds": s.seconds, "items": s.items} for s in self.stages],
            columns=["stage", "seconds", "items"],
        )
        table["per_second"] = table["items"].astype(float) / table["seconds"]
        return table

    # ------------------------------------------------------------------ Spark

    @cached_property
    def cores(self) -> int:
        """Tasks Spark runs at once by default (see :func:`cookbook.spark.parallelism`)."""
        from cookbook.spark import parallelism

        return parallelism(self._need_spark())

    def progress(self, label: str, every: float = 10.0):
        """Report the progress of the Spark jobs in the block (:func:`cookbook.spark.progress`)."""
        from cookbook.spark import progress

        return progress(self._need_spark(), label, every)

    def _need_spark(self):
        if self.spark is None:
            raise RuntimeError(f"{self.spec.key} does not start Spark (uses_spark=False)")
        return self.spark

    # ------------------------------------------------------------------ results and the run

    def _ensure_run(self) -> None:
        """Make the chapter's run the active one again (after a failed cell ended it, say)."""
        import mlflow

        active = mlflow.active_run()
        if active is not None and active.info.run_id == self.run_id:
            return
        if active is not None:
            mlflow.end_run()
        mlflow.start_run(run_id=self.run_id)

    @property
    def data_source(self) -> str:
        return self.params.data_label()

    def record(self, results: dict[str, Any] | None = None, **more: Any) -> dict[str, Any]:
        """Add results: write them to ``OUTPUT_DIR/metrics.json`` (with everything recorded so
        far in this run, atomically) and log them to the run (numbers as metrics, strings as
        ``result.*`` tags). The data source, run id and wall time are added. Returns all."""
        self._ensure_run()
        new = {**(results or {}), **more}
        new.update(
            data_source=self.data_source,
            mlflow_run_id=self.run_id,
            wall_seconds=time.perf_counter() - self.started,
        )
        self.results = record_results(self.out, new)
        return self.results

    def finish(self) -> dict[str, Any]:
        """Log the timing table, record the wall time, close the MLflow run. Returns the
        results, so that a notebook's last cell shows them."""
        import mlflow

        self._ensure_run()
        if self.stages:
            table = self.timing_table()
            self.save_table(table, "timings.csv")
            mlflow.log_metrics(
                {f"time_{_slug(r.stage)}_s": float(r.seconds) for r in table.itertuples()}
            )
        results = self.record()
        mlflow.end_run()
        self.finished = True
        print(
            f"{self.spec.key}: {len(results)} results in {self.path(METRICS_FILE)} and MLflow "
            f"run {self.run_id}; {results['wall_seconds']:.0f} s in all"
        )
        return results

    def _at_exit(self) -> None:
        # the kernel stops before finish(): the run did not complete
        if self.finished:
            return
        with contextlib.suppress(Exception):
            import mlflow

            mlflow.MlflowClient().set_terminated(
                self.run_id, status="FAILED" if self.failed else "KILLED"
            )


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text.lower()).strip("_")


def _watch_cells(run: ChapterRun) -> None:
    """In IPython, note a cell that failed, so an unfinished run ends as FAILED, not KILLED."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return

    def after_cell(result):
        if not result.success:
            run.failed = True

    shell.events.register("post_run_cell", after_cell)


def start(key: str, namespace: MutableMapping[str, Any], config: dict | None = None) -> ChapterRun:
    """Start a chapter: validate its parameters from ``namespace`` (the notebook's
    ``globals()``), apply ``SMOKE``'s reductions there, quiet the logs, make the output folder,
    start Spark if the chapter uses it, and open the chapter's MLflow run."""
    import mlflow

    spec = chapter(key)
    params = check_parameters(spec, namespace)  # before anything is deleted or written
    if params.SMOKE:
        changes = {k: v for k, v in params.smoke().items() if getattr(params, k) != v}
        if changes:
            params = check_parameters(spec, {**params.model_dump(), **changes})
            namespace.update(changes)
            shown = ", ".join(f"{k}={v!r}" for k, v in changes.items())
            print(f"SMOKE: {shown}")
    quiet()
    config = config or load_config()
    out = output_dir(params.OUTPUT_DIR, spec.key, config)
    out.mkdir(parents=True, exist_ok=True)
    (out / METRICS_FILE).unlink(missing_ok=True)  # no stale value survives into this run

    spark = None
    if spec.uses_spark:
        from cookbook.spark import describe, get_spark

        spark = get_spark(spec.key, config)
    setup_mlflow(config)
    experiment_id = get_experiment_id(spec.key, config)
    mlflow.set_experiment(experiment_id=experiment_id)  # nested runs follow the parent
    if mlflow.active_run() is not None:  # a previous run of this notebook in the same kernel
        mlflow.end_run()
    tags = {
        "cookbook.chapter": spec.key,
        "cookbook.book_chapter": spec.book.number,
        "cookbook.data_source": params.data_label(),
        "cookbook.smoke": str(params.SMOKE),
    }
    run = mlflow.start_run(
        experiment_id=experiment_id, run_name=f"{spec.key}-{params.DATA_SOURCE}", tags=tags
    )
    mlflow.log_params({k.lower(): _param_text(v) for k, v in params.model_dump().items()})
    if spark is not None:
        mlflow.log_param("spark", describe(spark))
    ch = ChapterRun(spec, params, out, run.info.run_id, experiment_id, spark)
    atexit.register(ch._at_exit)
    _watch_cells(ch)
    print(f"{spec.key} · {spec.title}")
    print(f"  {spec.book.citation()}")
    print(f"  data: {params.data_label()} · smoke: {params.SMOKE} · files: {out}")
    print(f"  MLflow run {run.info.run_id} at {mlflow.get_tracking_uri()}")
    if spark is not None:
        print(f"  {describe(spark)}")
    return ch


def _param_text(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 6000 else text[:5997] + "..."
