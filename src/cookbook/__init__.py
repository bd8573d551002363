"""Plumbing for the ML Use-Case Cookbook notebooks.

The notebooks keep the machine-learning logic in view; this package holds what every chapter
shares: configuration (:mod:`cookbook.config`), the Spark session (:mod:`cookbook.spark`),
MLflow tracking and recorded results (:mod:`cookbook.tracking`), datasets with their real
loaders, download specs and synthetic generators (:mod:`cookbook.datasets`), and the runner
behind ``make run`` (:mod:`cookbook.runner`).
"""

from cookbook.config import load_config, project_root

__all__ = ["load_config", "project_root"]
__version__ = "0.1.0"
