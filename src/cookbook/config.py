"""Configuration: ``conf/<profile>.yaml`` layered over ``conf/local.yaml``, then environment.

Resolution order (later wins):

1. ``conf/local.yaml`` in the project root (the local defaults);
2. the profile file, ``conf/$COOKBOOK_PROFILE.yaml`` or the file named by ``$COOKBOOK_CONFIG``;
3. environment variables ``COOKBOOK__<SECTION>__<KEY>`` (case-insensitive keys, ``__`` nests),
   e.g. ``COOKBOOK__SPARK__MASTER=local[2]``; and ``COOKBOOK_DATA_MIRROR`` for ``data.mirror``.

String values may contain ``{root}``, replaced by the project root.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import yaml

ENV_PREFIX = "COOKBOOK__"


class ConfigError(ValueError):
    """A configuration file or override is missing or malformed."""


def project_root() -> Path:
    """Return the project root: ``$COOKBOOK_HOME``, else the nearest folder holding
    ``conf/local.yaml`` above the current directory, else the checkout this package lives in."""
    env = os.environ.get("COOKBOOK_HOME")
    if env:
        return Path(env).expanduser().resolve()
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "conf" / "local.yaml").is_file() and (folder / "pyproject.toml").is_file():
            return folder
    # editable install: src/cookbook/config.py -> project root is two levels above src/
    return Path(__file__).resolve().parents[2]


def _deep_merge(base: dict, override: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in (override or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _read_yaml(path: Path) -> dict:
    if not path.is_file():
        raise ConfigError(f"configuration file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return data


def _env_overrides(environ: dict[str, str]) -> dict:
    out: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        keys = [k for k in name[len(ENV_PREFIX) :].lower().split("__") if k]
        if not keys:
            continue
        value = yaml.safe_load(raw) if raw.strip() else None
        node = out
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = value
    mirror = environ.get("COOKBOOK_DATA_MIRROR")
    if mirror:
        out.setdefault("data", {})["mirror"] = mirror
    return out


def _expand(value: Any, root: Path) -> Any:
    if isinstance(value, str):
        return value.replace("{root}", root.as_posix())
    if isinstance(value, dict):
        return {k: _expand(v, root) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, root) for v in value]
    return value


def load_config(profile: str | None = None, environ: dict[str, str] | None = None) -> dict:
    """Return the merged configuration as a plain dict (see module docstring for the order).

    ``profile`` overrides ``$COOKBOOK_PROFILE``; ``environ`` defaults to ``os.environ``.
    Spark conf keys under ``spark.conf`` keep their dotted names.
    """
    environ = dict(os.environ if environ is None else environ)
    root = project_root()
    conf_dir = root / "conf"
    config = _read_yaml(conf_dir / "local.yaml")
    explicit = environ.get("COOKBOOK_CONFIG")
    profile = profile or environ.get("COOKBOOK_PROFILE") or "local"
    if explicit:
        config = _deep_merge(config, _read_yaml(Path(explicit)))
    elif profile != "local":
        config = _deep_merge(config, _read_yaml(conf_dir / f"{profile}.yaml"))
    overrides = _env_overrides(environ)
    config = _deep_merge(config, overrides)
    config["profile"] = "custom" if explicit else profile
    config["root"] = root.as_posix()
    return _expand(config, root)
