"""Shared fixtures. Every test runs against a private data cache, MLflow store and output
folder (environment overrides of the config), so tests never touch the user's files, and
configuration variables exported in the user's shell do not reach the tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

MIRROR_ENV = "COOKBOOK_DATA_MIRROR"
# Variables that select or change the configuration; a user's shell may export them.
# COOKBOOK_DATA_MIRROR stays: it selects the realdata tier.
CONFIG_ENV = ("COOKBOOK_PROFILE", "COOKBOOK_CONFIG", "COOKBOOK_HOME")
OVERRIDE_PREFIX = "COOKBOOK__"


def scrub_config_environment(mp: pytest.MonkeyPatch) -> list[str]:
    """Remove every inherited ``COOKBOOK__*`` override and ``COOKBOOK_PROFILE`` /
    ``COOKBOOK_CONFIG`` / ``COOKBOOK_HOME`` (through ``mp``, so they come back afterwards);
    return the names removed."""
    names = [n for n in os.environ if n.startswith(OVERRIDE_PREFIX) or n in CONFIG_ENV]
    for name in names:
        mp.delenv(name)
    return sorted(names)


def _longest_first(config, items) -> None:
    """With pytest-xdist, ``make test`` runs ``-n 2 --dist loadfile``: a test file runs on one
    worker, so a module-scoped fixture (a chapter's notebook run) runs once. Each chapter's
    notebook tests have their own file. The modes tier (every chapter over Spark Connect and on
    a cluster, one file of about 20 minutes) and then the longest chapters go first
    (``--no-loadscope-reorder`` keeps this order), so that the two workers end together rather
    than one running chapter 6 alone at the end. (Not ``--dist loadgroup``: with pytest 9 its
    group marks have no effect.)"""
    if not config.pluginmanager.hasplugin("xdist"):
        return
    first = ["test_modes"] + [
        f"test_notebook_{ch}" for ch in ("ch6", "ch5", "ch4", "ch3", "ch7", "ch8", "ch2", "ch1")
    ]
    items.sort(key=lambda item: first.index(item.path.stem) if item.path.stem in first else 99)


def pytest_collection_modifyitems(config, items):
    """Order tests for parallel workers; skip realdata tests, with the reason, when no mirror
    of the original files is set."""
    _longest_first(config, items)
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


def pytest_terminal_summary(terminalreporter):
    """Print what tests recorded as ``record_property("summary", text)`` (how many pages the
    browser checked, ...): shown in the CI log even for passing tests and with xdist workers."""
    lines = [
        f"{report.nodeid.split('::')[-1]}: {value}"
        for reports in terminalreporter.stats.values()
        for report in reports
        if getattr(report, "when", None) == "call"
        for name, value in getattr(report, "user_properties", ())
        if name == "summary"
    ]
    if lines:
        terminalreporter.section("summaries")
        for line in lines:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory) -> Path:
    """A private root for cache, MLflow store and outputs, shared by the whole session."""
    return tmp_path_factory.mktemp("cookbook")


@pytest.fixture(scope="session", autouse=True)
def isolated_config(sandbox):
    """Point data cache, MLflow and outputs into the sandbox for the whole session (notebook
    kernels inherit these variables too), after dropping the configuration variables the
    user's shell exported (``COOKBOOK__SPARK__MASTER`` and the like)."""
    with pytest.MonkeyPatch.context() as mp:
        scrub_config_environment(mp)
        mp.setenv("COOKBOOK__DATA__CACHE_DIR", str(sandbox / "data"))
        store = f"sqlite:///{sandbox}/mlruns/mlflow.db"
        mp.setenv("COOKBOOK__MLFLOW__TRACKING_URI", store)
        # MLflow's own default too: a client made before setup_mlflow() (a bare MlflowClient())
        # would otherwise create ./mlflow.db in the checkout
        mp.setenv("MLFLOW_TRACKING_URI", store)
        mp.setenv("COOKBOOK__MLFLOW__ARTIFACT_ROOT", str(sandbox / "mlruns" / "artifacts"))
        mp.setenv("COOKBOOK__OUTPUT__DIR", str(sandbox / "output"))
        mp.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
        yield


@pytest.fixture
def mirror() -> Path:
    """The mirror folder of original files (realdata tests only)."""
    return Path(os.environ[MIRROR_ENV])


@pytest.fixture
def no_mirror(monkeypatch):
    monkeypatch.delenv(MIRROR_ENV, raising=False)
