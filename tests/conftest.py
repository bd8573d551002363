"""Shared fixtures. Every test runs against a private data cache, MLflow store and output
folder (environment overrides of the config), so tests never touch the user's files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

MIRROR_ENV = "COOKBOOK_DATA_MIRROR"


def pytest_collection_modifyitems(config, items):
    """Skip realdata tests, with the reason, when no mirror of the original files is set."""
    mirror = os.environ.get(MIRROR_ENV)
    if mirror and Path(mirror).is_dir():
        return
    reason = (
        f"needs the original data files: set {MIRROR_ENV} to a folder laid out like "
        "shared/data/real (see README, 'Real data')"
        if not mirror
        else f"{MIRROR_ENV}={mirror} is not a folder"
    )
    for item in items:
        if "realdata" in item.keywords:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory) -> Path:
    """A private root for cache, MLflow store and outputs, shared by the whole session."""
    return tmp_path_factory.mktemp("cookbook")


@pytest.fixture(scope="session", autouse=True)
def isolated_config(sandbox):
    """Point data cache, MLflow and outputs into the sandbox for the whole session (notebook
    kernels inherit these variables too)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COOKBOOK__DATA__CACHE_DIR", str(sandbox / "data"))
        mp.setenv("COOKBOOK__MLFLOW__TRACKING_URI", f"sqlite:///{sandbox}/mlruns/mlflow.db")
        mp.setenv("COOKBOOK__MLFLOW__ARTIFACT_ROOT", str(sandbox / "mlruns" / "artifacts"))
        mp.setenv("COOKBOOK__OUTPUT__DIR", str(sandbox / "output"))
        mp.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
        mp.delenv("COOKBOOK_PROFILE", raising=False)
        mp.delenv("COOKBOOK_CONFIG", raising=False)
        yield


@pytest.fixture
def mirror() -> Path:
    """The mirror folder of original files (realdata tests only)."""
    return Path(os.environ[MIRROR_ENV])


@pytest.fixture
def no_mirror(monkeypatch):
    monkeypatch.delenv(MIRROR_ENV, raising=False)
