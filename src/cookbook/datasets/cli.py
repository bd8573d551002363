"""The datasets from a shell: ``python -m cookbook.datasets COMMAND [NAME] [options]``.

Commands (``NAME`` is a dataset module's name, see ``list``; ``fetch`` and ``verify`` also take
``all``):

- ``list``: the datasets, their original files and their generator's defaults;
- ``fetch NAME [--file FILENAME ...] [--no-download]``: get the original files (cache ->
  mirror folder ``$COOKBOOK_DATA_MIRROR`` -> network, each checksum-verified) and print where
  each one is, as ``filename<TAB>path``; a file that cannot be had is printed with the reason.
  Exit status 1 when any file could not be had;
- ``generate NAME [--seed N] [--param KEY=VALUE ...]``: generate the synthetic files (once per
  parameters; cached) and print their folder;
- ``verify NAME [--strict]``: check the sha256 of every cached or mirrored original file and
  print ``ok``, ``MISMATCH`` or ``absent`` for each. Exit status 1 on any mismatch (with
  ``--strict``, also when a file is in neither place).

The cache folder and the mirror come from the configuration (``COOKBOOK__DATA__CACHE_DIR``,
``COOKBOOK_DATA_MIRROR``), as for the notebooks.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import sys
from pathlib import Path
from types import ModuleType

from cookbook.config import load_config
from cookbook.datasets import DATASETS
from cookbook.datasets._fetch import cache_dir, fetch, mirror_root, sha256_of
from cookbook.datasets._synthetic import synthetic_dir
from cookbook.datasets.errors import DatasetError


class UsageError(Exception):
    """A bad command-line argument (reported by argparse, exit status 2)."""


def dataset(name: str) -> ModuleType:
    """The dataset module called ``name`` (one of :data:`~cookbook.datasets.DATASETS`)."""
    if name not in DATASETS:
        raise KeyError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    return importlib.import_module(f"cookbook.datasets.{name}")


def file_paths(files) -> list[tuple[str, Path]]:
    """``(field, path)`` for every path in a ``prepare`` result (tuples spelled out, Nones left
    out), in field order."""
    out = []
    for f in dataclasses.fields(files):
        value = getattr(files, f.name)
        if isinstance(value, Path):
            out.append((f.name, value))
        elif isinstance(value, tuple):
            out.extend((f"{f.name}[{i}]", p) for i, p in enumerate(value))
    return out


def _names(name: str) -> list[str]:
    return list(DATASETS) if name == "all" else [name]


def _param(module: ModuleType, text: str) -> tuple[str, object]:
    key, sep, raw = text.partition("=")
    if not sep:
        raise UsageError(f"--param needs KEY=VALUE, got {text!r}")
    if key not in module.DEFAULTS:
        known = ", ".join(f"{k} (default {v!r})" for k, v in module.DEFAULTS.items())
        raise UsageError(f"{module.NAME} has no generator parameter {key!r}; known: {known}")
    kind = type(module.DEFAULTS[key])
    try:
        return key, kind(raw)
    except ValueError:
        raise UsageError(f"--param {key}: expected {kind.__name__}, got {raw!r}") from None


def cmd_list(args, config) -> int:
    mirror = mirror_root(config)
    for name in DATASETS:
        module = dataset(name)
        spec = module.SPEC
        folders = sorted({rf.mirror_path.split("/")[0] for rf in spec.files})
        defaults = ", ".join(f"{k}={v!r}" for k, v in module.DEFAULTS.items())
        mirrored = ", ".join(str(mirror / f) if mirror else f"<mirror>/{f}" for f in folders)
        print(f"{name}: {spec.title}")
        print(f"  real: {len(spec.files)} file(s); cache {cache_dir(name, config)}; {mirrored}")
        print(f"  synthetic: generator v{module.GENERATOR_VERSION}, defaults {defaults}")
    return 0


def cmd_fetch(args, config) -> int:
    failed = 0
    for name in _names(args.name):
        spec = dataset(name).SPEC
        wanted = args.file or [rf.filename for rf in spec.files]
        for filename in wanted:
            try:
                path = fetch(spec, filename, config=config, download=not args.no_download)
            except (DatasetError, KeyError) as exc:
                failed += 1
                reason = str(exc).strip("'\"").splitlines()[0]
                print(f"{name}/{filename}\tFAILED: {reason}")
            else:
                print(f"{name}/{filename}\t{path}")
    if failed:
        print(f"{failed} file(s) could not be had (see above)", file=sys.stderr)
    return 1 if failed else 0


def cmd_generate(args, config) -> int:
    module = dataset(args.name)
    params = dict(_param(module, text) for text in args.param)
    if args.seed is not None:
        params["seed"] = args.seed
    files = module.prepare("synthetic", config=config, **params)
    folder = synthetic_dir(module.NAME, {**module.DEFAULTS, **params}, config)
    for field, path in file_paths(files):
        if not path.exists():  # prepare and the folder's naming have drifted apart
            raise RuntimeError(f"{module.NAME}: {field} {path} was not generated")
    print(folder)
    return 0


def cmd_verify(args, config) -> int:
    mirror = mirror_root(config)
    counts = {"ok": 0, "MISMATCH": 0, "absent": 0}
    for name in _names(args.name):
        spec = dataset(name).SPEC
        for rf in spec.files:
            places = [cache_dir(spec.name, config) / rf.filename]
            if mirror is not None:
                places.append(mirror / rf.mirror_path)
            found = [p for p in places if p.is_file()]
            if not found:
                counts["absent"] += 1
                print(f"{name}/{rf.filename}\tabsent\t(looked in {', '.join(map(str, places))})")
            for path in found:
                actual = sha256_of(path)
                if actual == rf.sha256:
                    counts["ok"] += 1
                    print(f"{name}/{rf.filename}\tok\t{path}")
                else:
                    counts["MISMATCH"] += 1
                    print(
                        f"{name}/{rf.filename}\tMISMATCH\t{path}: sha256 is {actual}, "
                        f"expected {rf.sha256}"
                    )
    print(", ".join(f"{n} {k}" for k, n in counts.items()), file=sys.stderr)
    return 1 if counts["MISMATCH"] or (args.strict and counts["absent"]) else 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m cookbook.datasets",
        description="List, fetch, generate and verify the cookbook's datasets.",
    )
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="the datasets, their files and generator defaults")
    choices = [*DATASETS, "all"]
    f = sub.add_parser("fetch", help="get the original files (cache -> mirror -> network)")
    f.add_argument("name", choices=choices)
    f.add_argument("--file", action="append", help="only this file (repeatable)")
    f.add_argument("--no-download", action="store_true", help="cache and mirror only")
    g = sub.add_parser("generate", help="generate the synthetic files; print their folder")
    g.add_argument("name", choices=DATASETS)
    g.add_argument("--seed", type=int, help="the generator's seed (default: the module's)")
    g.add_argument(
        "--param", action="append", default=[], metavar="KEY=VALUE",
        help="another generator parameter, e.g. n_rows=10000 (repeatable)",
    )  # fmt: skip
    v = sub.add_parser("verify", help="check the checksums of cached and mirrored originals")
    v.add_argument("name", choices=choices)
    v.add_argument("--strict", action="store_true", help="also fail when a file is absent")
    return p


COMMANDS = {"list": cmd_list, "fetch": cmd_fetch, "generate": cmd_generate, "verify": cmd_verify}


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    p = parser()
    args = p.parse_args(argv)
    try:
        return COMMANDS[args.command](args, load_config())
    except UsageError as exc:
        p.error(str(exc))  # exits with status 2
        raise
