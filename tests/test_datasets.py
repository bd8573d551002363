"""Every dataset module has the same shape: NAME, SPEC, DEFAULTS written once, a seeded
generate, and a prepare that returns a frozen dataclass of paths."""

import dataclasses
import importlib
import inspect
import typing
from collections.abc import Mapping
from pathlib import Path

import pytest

from cookbook import datasets
from cookbook.datasets import DATASETS, errors

pytestmark = pytest.mark.unit

MODULES = [importlib.import_module(f"cookbook.datasets.{name}") for name in DATASETS]
ids = [m.NAME for m in MODULES]

# Small generator parameters, so that every dataset is generated in a few seconds.
SMALL = {
    "appliances_energy": {},
    "nyc_taxi": {"n_trips": 20_000},  # the same as test_nyc_taxi.py's: one generation
    "paysim": {"n_rows": 2_000},
    "speech_clips": {},
    "stanford_cars": {"n_classes": 2, "train_per_class": 2, "test_per_class": 1},
    "store_item_demand": {"end": "2013-01-31"},
    "weekly_sales": {},
    "wsi": {"n_tumour": 1, "n_normal": 1, "size": 1024, "patches_per_class": 5, "margin": 32},
}


def test_errors_live_in_a_public_module_and_are_re_exported():
    from cookbook.datasets import _fetch

    for name in errors.__all__:
        cls = getattr(errors, name)
        assert getattr(datasets, name) is cls and getattr(_fetch, name) is cls
        assert issubclass(cls, errors.DatasetError)
    assert issubclass(errors.DatasetFormatError, ValueError)


def test_every_dataset_is_listed():
    found = {
        p.stem
        for p in Path(datasets.__file__).parent.glob("*.py")
        if not p.stem.startswith("_")
        and p.stem not in ("cli", "errors", "synthetic_city", "landsat")
    }  # landsat: a reader and a generator for a scene the reader downloads (no download spec)
    assert found == set(DATASETS) == set(SMALL)


@pytest.mark.parametrize("module", MODULES, ids=ids)
def test_module_shape(module):
    name = module.__name__.rsplit(".", 1)[1]
    assert module.NAME == name and module.SPEC.name == name  # cache folders follow
    assert isinstance(module.DEFAULTS, Mapping) and "seed" in module.DEFAULTS
    with pytest.raises(TypeError):
        module.DEFAULTS["seed"] = 0  # read-only: written once
    assert isinstance(module.GENERATOR_VERSION, int)

    gen = inspect.signature(module.generate).parameters
    assert list(gen)[0] == "folder"
    assert {k: p.default for k, p in list(gen.items())[1:]} == dict(module.DEFAULTS)

    prep = inspect.signature(module.prepare).parameters
    assert list(prep)[0] == "source" and prep["source"].default == "synthetic"
    assert all(p.kind is p.KEYWORD_ONLY for p in list(prep.values())[1:])
    assert prep["config"].default is None
    for key, value in module.DEFAULTS.items():
        assert prep[key].default == value, key

    files_type = typing.get_type_hints(module.prepare)["return"]
    assert dataclasses.is_dataclass(files_type) and files_type.__dataclass_params__.frozen
    fields = [f.name for f in dataclasses.fields(files_type)]
    assert fields[-1] == "source"
    assert all(f"``{f}``" in files_type.__doc__ for f in fields), "document every field"


@pytest.mark.parametrize("module", MODULES, ids=ids)
def test_prepare_validates_the_source(module):
    with pytest.raises(ValueError, match="DATA_SOURCE must be 'synthetic' or 'real'"):
        module.prepare("csv")


@pytest.mark.slow
@pytest.mark.parametrize("module", MODULES, ids=ids)
def test_prepare_returns_the_generated_files(module, sandbox):
    files = module.prepare("synthetic", **SMALL[module.NAME])
    assert files.source == "synthetic"
    with pytest.raises(dataclasses.FrozenInstanceError):
        files.source = "real"
    paths = []
    for f in dataclasses.fields(files):
        value = getattr(files, f.name)
        paths += list(value) if isinstance(value, tuple) else [value]
    paths = [p for p in paths if p is not None and not isinstance(p, str)]
    assert paths
    root = sandbox / "data" / "synthetic" / module.NAME
    for path in paths:
        assert path.exists() and path.is_relative_to(root), path
    assert module.prepare("synthetic", **SMALL[module.NAME]) == files  # cached, equal
