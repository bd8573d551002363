"""MLflow tracking for the chapters, and the results file every notebook writes.

- :func:`setup_mlflow` points MLflow at the configured tracking server or sqlite store;
- :func:`chapter_run` opens a run in the chapter's own experiment (created with an explicit
  artifact root, so artifacts never land in the current directory);
- :func:`record_results` writes ``OUTPUT_DIR/metrics.json`` (a flat JSON object of numbers and
  strings) atomically and logs the same values to the active run: numbers as metrics, strings
  as tags prefixed ``result.``;
- :func:`read_results` reads them back (tests, ``make run``'s summary);
- :func:`pinned` gives a logged model's pip requirements, pinned to what this environment has;
- :func:`file_dataset` describes a data file or folder as an MLflow dataset (path, fingerprint,
  columns) for ``mlflow.log_input``, without copying it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import numbers
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from cookbook.config import load_config
from cookbook.io import write_json

METRICS_FILE = "metrics.json"
RESULT_TAG_PREFIX = "result."


def setup_mlflow(config: dict | None = None) -> str:
    """Set MLflow's tracking URI from configuration; return it. Creates a local sqlite folder."""
    import mlflow

    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    cfg = (config or load_config())["mlflow"]
    uri = cfg["tracking_uri"]
    if uri.startswith("sqlite:///"):
        Path(uri[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    if cfg.get("registry_uri"):
        mlflow.set_registry_uri(cfg["registry_uri"])
    return uri


def experiment_name(chapter: str, config: dict | None = None) -> str:
    """The experiment of a chapter, e.g. ``cookbook-02-dtw-sales-trends``."""
    cfg = (config or load_config())["mlflow"]
    return f"{cfg.get('experiment_prefix', '')}{chapter}"


def get_experiment_id(chapter: str, config: dict | None = None) -> str:
    """Return the id of the chapter's experiment, creating it with the configured artifact root."""
    import mlflow

    config = config or load_config()
    setup_mlflow(config)
    name = experiment_name(chapter, config)
    existing = mlflow.get_experiment_by_name(name)
    if existing is not None:
        return existing.experiment_id
    root = config["mlflow"].get("artifact_root")
    location = None
    if root:
        location = f"{root.rstrip('/')}/{name}"
        if "://" not in location:
            Path(location).mkdir(parents=True, exist_ok=True)
            location = Path(location).resolve().as_uri()
    try:
        return mlflow.create_experiment(name, artifact_location=location)
    except mlflow.exceptions.MlflowException:
        # created concurrently by another process
        return mlflow.get_experiment_by_name(name).experiment_id


@contextlib.contextmanager
def chapter_run(
    chapter: str,
    run_name: str | None = None,
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
    config: dict | None = None,
) -> Iterator[Any]:
    """Start an MLflow run in the chapter's experiment; yield the active run.

    ``params`` are logged at once; ``tags`` plus ``cookbook.chapter`` are set on the run.
    Nested runs inside it (``mlflow.start_run(nested=True)``) land in the same experiment.
    """
    import mlflow

    experiment_id = get_experiment_id(chapter, config)
    mlflow.set_experiment(experiment_id=experiment_id)  # nested runs follow the parent
    all_tags = {"cookbook.chapter": chapter, **{k: str(v) for k, v in (tags or {}).items()}}
    with mlflow.start_run(experiment_id=experiment_id, run_name=run_name, tags=all_tags) as run:
        if params:
            mlflow.log_params({k: _param_value(v) for k, v in params.items()})
        yield run


def _param_value(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 6000 else text[:5997] + "..."


def _check_flat(results: Mapping[str, Any]) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    for key, value in results.items():
        if not isinstance(key, str) or not key:
            raise ValueError(f"result names must be non-empty strings, got {key!r}")
        if isinstance(value, bool):
            value = int(value)
        if isinstance(value, numbers.Integral):
            clean[key] = int(value)
        elif isinstance(value, numbers.Real):
            value = float(value)
            if not math.isfinite(value):
                raise ValueError(f"result {key!r} is not a finite number: {value!r}")
            clean[key] = value
        elif isinstance(value, str):
            clean[key] = value
        else:
            raise ValueError(
                f"result {key!r} must be a number or a string, got {type(value).__name__}"
            )
    return clean


def record_results(
    output_dir: str | os.PathLike, results: Mapping[str, Any], log_to_mlflow: bool = True
) -> dict[str, Any]:
    """Write ``results`` to ``output_dir/metrics.json`` (merged with what is already there) and
    log them to the active MLflow run. Returns everything recorded so far.

    Values must be numbers (logged as metrics) or strings (logged as ``result.<name>`` tags).
    """
    clean = _check_flat(results)
    path = Path(output_dir) / METRICS_FILE
    merged = {**read_results(output_dir, missing_ok=True), **clean}
    write_json(path, merged)
    if log_to_mlflow:
        import mlflow

        if mlflow.active_run() is None:
            raise RuntimeError("record_results: no active MLflow run (use chapter_run first)")
        numbers_ = {k: v for k, v in clean.items() if not isinstance(v, str)}
        strings = {f"{RESULT_TAG_PREFIX}{k}": v for k, v in clean.items() if isinstance(v, str)}
        if numbers_:
            mlflow.log_metrics(numbers_)
        if strings:
            mlflow.set_tags(strings)
    return merged


def read_results(output_dir: str | os.PathLike, missing_ok: bool = False) -> dict[str, Any]:
    """Read ``output_dir/metrics.json``; ``{}`` if absent and ``missing_ok``."""
    path = Path(output_dir) / METRICS_FILE
    if not path.is_file():
        if missing_ok:
            return {}
        raise FileNotFoundError(f"no results recorded: {path} does not exist")
    data = json.loads(path.read_text())
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def pinned(*distributions: str) -> list[str]:
    """``["name==version", ...]`` for installed distributions, for ``log_model(pip_requirements=)``.

    Without explicit requirements, ``log_model`` infers them by loading the saved model again
    in a fresh Python process: for a Spark model that is a second JVM and Spark session, for a
    Keras one a second TensorFlow import, tens of seconds per model. The versions here are the
    ones this environment was installed with (``requirements.lock``), so a serving environment
    built from the model gets the same ones. An unknown name is an error, not a silent omission.
    """
    from importlib import metadata

    out = []
    for name in distributions:
        try:
            out.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            raise ValueError(f"pinned: {name!r} is not installed in this environment") from None
    return out


FINGERPRINT_BYTES = 1 << 20


def fingerprint(path: str | os.PathLike) -> str:
    """A short digest that changes when the data does, cheap enough for gigabytes.

    A file: SHA-256 of its name, its size, its first and its last MiB (all of it when smaller).
    A folder: of every file's path below it and size (a folder of 16,000 photos is listed, not
    read). Not a checksum of every byte: it tells datasets apart, it does not verify them.
    """
    path = Path(path)
    h = hashlib.sha256()
    if path.is_dir():
        for f in sorted(p for p in path.rglob("*") if p.is_file()):
            h.update(f"{f.relative_to(path).as_posix()}\0{f.stat().st_size}\0".encode())
    elif path.is_file():
        size = path.stat().st_size
        h.update(f"{path.name}\0{size}\0".encode())
        with open(path, "rb") as f:
            h.update(f.read(FINGERPRINT_BYTES))
            if size > 2 * FINGERPRINT_BYTES:
                f.seek(-FINGERPRINT_BYTES, os.SEEK_END)
            h.update(f.read())
    else:
        raise FileNotFoundError(f"file_dataset: {path} is neither a file nor a folder")
    return h.hexdigest()[:16]


def file_dataset(path: str | os.PathLike, name: str, sample: Any = None):
    """An MLflow dataset for ``mlflow.log_input``: where the data is, its :func:`fingerprint`
    and, from ``sample`` (a pandas or Spark DataFrame of it), its columns and types. MLflow
    keeps this description with the run and shows it in the UI; the data is not copied.

    The source is named explicitly as a local file source: resolved from the path alone,
    MLflow 3 finds two candidates and warns.
    """
    import warnings

    from mlflow.data.dataset_source_registry import get_registered_sources
    from mlflow.data.meta_dataset import MetaDataset
    from mlflow.models import infer_signature

    path = Path(path).resolve()
    source_class = next(
        s for s in get_registered_sources() if s.__name__ == "LocalArtifactDatasetSource"
    )
    schema = None
    if sample is not None:
        if hasattr(sample, "toPandas"):  # a Spark DataFrame, classic or Connect
            sample = sample.limit(100).toPandas()
        with warnings.catch_warnings():  # the hint that integers cannot hold missing values
            warnings.simplefilter("ignore", UserWarning)
            schema = infer_signature(sample.head(100)).inputs
    return MetaDataset(
        source_class(path.as_uri()), name=name, digest=fingerprint(path), schema=schema
    )


class _SharedFiles:
    """What MLflow's Spark flavour asks of ``mlflow.spark._HadoopFileSystem``, done with plain
    file operations. The real class drives Hadoop's FileSystem through the JVM gateway of a
    classic session, which a Spark Connect client does not have (the JVM is the server's)."""

    @staticmethod
    def _local(path: str) -> str:
        return path.removeprefix("file://").removeprefix("file:")

    @classmethod
    def copy_to_local_file(cls, src: str, dst: str, remove_src: bool) -> None:
        import shutil

        (shutil.move if remove_src else shutil.copytree)(cls._local(src), dst)

    @classmethod
    def maybe_copy_from_uri(cls, src_uri: str, dst_path: str, local_model_path=None) -> str:
        from mlflow.tracking.artifact_utils import _download_artifact_from_uri

        return os.path.abspath(local_model_path or _download_artifact_from_uri(src_uri))

    @classmethod
    def delete(cls, path: str) -> None:
        import shutil

        shutil.rmtree(cls._local(path), ignore_errors=True)


@contextlib.contextmanager
def spark_flavour(spark) -> Iterator[None]:
    """Let ``mlflow.spark.log_model`` and ``load_model`` work on any session: in classic mode
    this does nothing; over Spark Connect it fills in what MLflow 3's Spark flavour lacks there.

    The flavour moves a saved model between Spark's file system and the local disk through the
    JVM gateway of a classic session, which a Connect client does not have, and first tries to
    write straight into the artifact store, which fails on the server for an
    ``mlflow-artifacts:`` store without falling back. Inside this block the moves are plain file
    copies and the model always goes through a local folder, then to the store by the tracking
    client. That needs the Connect server and this process to share a file system (the same
    machine, as on a laptop and in the tests, or a shared mount); MLflow's ``dfs_tmpdir``
    (``MLFLOW_DFS_TMP``, default ``/tmp/mlflow``) is where the server writes.
    """
    from cookbook.spark import is_connect

    if not is_connect(spark):
        yield
        return
    from unittest import mock

    import mlflow.spark

    with (
        mock.patch.object(mlflow.spark, "_HadoopFileSystem", _SharedFiles),
        mock.patch.object(mlflow.spark, "_maybe_save_model", lambda *args, **kwargs: False),
    ):
        yield
