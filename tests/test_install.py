"""The installation is what the locks say, and the Makefile keeps its promises.

`make setup` installs requirements.lock, requirements-dev.lock and requirements-build.lock
(hash-checked) and the project itself (editable), and removes anything else. These tests read
the running interpreter's environment, so run them with the venv's Python (`make test` does).
"""

from __future__ import annotations

import importlib.metadata as md
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]
LOCKS = ("requirements.lock", "requirements-dev.lock", "requirements-build.lock")
# direct requirements -> the lock that must satisfy them
INPUTS = {
    "requirements.txt": "requirements.lock",
    "requirements-dev.txt": "requirements-dev.lock",
    "requirements-build.txt": "requirements-build.lock",
}
PROJECT = "ml-cookbook"  # installed editable by `make setup`, never locked
HEAVY_MARKERS = ("notebook", "spark", "cluster", "connect", "postgis", "browser", "slow")


def parse_lock(path: Path) -> dict[str, Version]:
    """``{canonical name: version}`` from a uv/pip-tools lock (``name==version \\`` lines)."""
    pins: dict[str, Version] = {}
    for line in path.read_text().splitlines():
        if not line or line[0] in " #-":
            continue
        req = Requirement(line.rstrip("\\ ").strip())
        if req.marker is not None and not req.marker.evaluate():
            continue
        (spec,) = req.specifier  # a lock pins each package with exactly one `==`
        assert spec.operator == "==", f"{path.name}: {line!r} is not an exact pin"
        pins[canonicalize_name(req.name)] = Version(spec.version)
    return pins


def parse_inputs(path: Path) -> list[Requirement]:
    reqs = []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            reqs.append(Requirement(line))
    return reqs


def locked() -> dict[str, Version]:
    """The union of the three locks; a package in two of them has one version."""
    union: dict[str, Version] = {}
    for name in LOCKS:
        for pkg, version in parse_lock(ROOT / name).items():
            assert union.setdefault(pkg, version) == version, (
                f"{pkg} is locked at {union[pkg]} and at {version} ({name}): run `make lock`"
            )
    return union


def installed() -> dict[str, set[Version]]:
    found: dict[str, set[Version]] = {}
    for dist in md.distributions():
        name = dist.metadata["Name"]
        if name:  # a half-removed distribution has no metadata
            found.setdefault(canonicalize_name(name), set()).add(Version(dist.version))
    return found


@pytest.fixture(scope="module")
def in_venv():
    if sys.prefix == sys.base_prefix:
        pytest.skip("not running in a virtual environment (run the venv's python -m pytest)")


def test_locks_pin_every_package_with_hashes():
    for name in LOCKS:
        text = (ROOT / name).read_text()
        pins = parse_lock(ROOT / name)
        assert pins, f"{name} pins nothing"
        blocks = re.split(r"\n(?=[^\s#])", text.split("\n", 2)[-1])
        for block in blocks:
            if re.match(r"[A-Za-z0-9]", block):
                assert "--hash=sha256:" in block, f"{name}: no hash for {block.splitlines()[0]}"


def test_locks_satisfy_the_direct_requirements():
    """Catches a requirements*.txt edited without `make lock`."""
    for txt, lock in INPUTS.items():
        pins = parse_lock(ROOT / lock)
        for req in parse_inputs(ROOT / txt):
            name = canonicalize_name(req.name)
            assert name in pins, f"{req} ({txt}) is not in {lock}: run `make lock`"
            assert req.specifier.contains(pins[name], prereleases=True), (
                f"{lock} has {name}=={pins[name]}, {txt} asks for {req}: run `make lock`"
            )


def test_lock_covers_the_package_dependencies():
    """`make setup` installs the project with --no-deps: requirements.lock must hold what
    pyproject.toml's [project.dependencies] asks for."""
    import tomllib

    pins = parse_lock(ROOT / "requirements.lock")
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    for dep in map(Requirement, deps):
        name = canonicalize_name(dep.name)
        assert name in pins and dep.specifier.contains(pins[name], prereleases=True), (
            f"pyproject.toml needs {dep}; requirements.lock has {pins.get(name)}: `make lock`"
        )


def test_dev_tools_are_pinned_exactly_and_kept_out_of_runtime():
    dev = {canonicalize_name(r.name): r for r in parse_inputs(ROOT / "requirements-dev.txt")}
    assert str(dev["ruff"].specifier).startswith("=="), "ruff must be pinned exactly"
    runtime = {canonicalize_name(r.name) for r in parse_inputs(ROOT / "requirements.txt")}
    assert not {"pytest", "ruff", "nbstripout"} & runtime


def test_every_locked_package_is_installed_at_its_version(in_venv):
    have = installed()
    wrong = {
        pkg: (str(version), sorted(map(str, have.get(pkg, set()))) or "missing")
        for pkg, version in locked().items()
        if have.get(pkg) != {version}
    }
    assert not wrong, f"installed differs from the locks (locked, installed): {wrong}; `make setup`"


def test_nothing_installed_that_the_locks_do_not_list(in_venv):
    extra = sorted(set(installed()) - set(locked()) - {PROJECT})
    assert not extra, f"installed but in no lock: {extra} (`make setup` removes them)"
    assert PROJECT in installed(), "the project is not installed: `make setup`"


def make_targets() -> list[str]:
    text = (ROOT / "Makefile").read_text().replace("\\\n", " ")
    targets = []
    for line in text.splitlines():
        if line.startswith(".PHONY:"):
            targets += line.split(":", 1)[1].split()
    return targets


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_help_lists_every_target():
    targets = make_targets()
    assert {"help", "setup", "lock", "run", "test", "test-fast", "lab"} <= set(targets)
    out = subprocess.run(
        ["make", "-s", "--no-print-directory", "help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    listed = set(re.findall(r"^make ([\w-]+)", out, flags=re.MULTILINE))
    missing = [t for t in targets if t not in listed]
    assert not missing, f"`make help` does not list: {missing}"


def test_make_test_fast_skips_every_heavy_tier():
    from _pytest.mark.expression import Expression

    text = (ROOT / "Makefile").read_text().replace("\\\n", " ")
    match = re.search(r"^FAST_MARKERS\s*:?=\s*(.+)$", text, flags=re.MULTILINE)
    assert match, "Makefile: no FAST_MARKERS"
    assert '-m "$(FAST_MARKERS)"' in text
    expr = Expression.compile(" ".join(match.group(1).split()))
    assert expr.evaluate(lambda mark: mark == "unit")
    for heavy in HEAVY_MARKERS:
        assert not expr.evaluate(lambda mark, h=heavy: mark in ("unit", h)), heavy


def test_heavy_markers_are_registered():
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    markers = config["tool"]["pytest"]["ini_options"]["markers"]
    registered = {m.split(":", 1)[0].strip() for m in markers}
    assert set(HEAVY_MARKERS) | {"unit"} <= registered
