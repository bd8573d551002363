"""Configuration: ``conf/<profile>.yaml`` layered over ``conf/local.yaml``, then environment.

Resolution order (later wins):

1. ``conf/local.yaml`` in the project root (the local defaults; it defines every setting);
2. the profile file, ``conf/$COOKBOOK_PROFILE.yaml`` or the file named by ``$COOKBOOK_CONFIG``;
3. environment variables ``COOKBOOK__<SECTION>__<KEY>`` (case-insensitive names, ``__`` nests,
   values parsed as YAML), e.g. ``COOKBOOK__SPARK__MASTER=local[2]``; and
   ``COOKBOOK_DATA_MIRROR`` for ``data.mirror``.

String values may contain ``{root}``, replaced by the project root.

The merged result is checked against the schema in :mod:`cookbook.settings_schema` (sections
``spark``, ``mlflow``, ``data``, ``output``, ``postgis``). Every problem -- an unknown or
misspelt key in a file or an override, a wrong type or value, an override that is not valid
YAML, a section set to a single value -- raises one :class:`ConfigError` that names the key, where
it came from (the YAML file or the environment variable) and what was expected, e.g.
``COOKBOOK__SPARK__MASTR: unknown setting spark.mastr; did you mean spark.master?``.

Notes on some settings:

- ``spark.remote``, a Spark Connect URL (``sc://host:15002``; Databricks Connect is Spark
  Connect underneath): when set, the session connects there and ``spark.master`` is not used.
- ``spark.conf`` maps Spark setting names (``spark.*``, dotted, in Spark's own case) to values;
  set it in YAML: shells cannot export variable names with dots, and environment names are
  lower-cased. (``COOKBOOK__SPARK__CONF='{spark.sql.shuffle.partitions: 4}'``, a YAML mapping
  as the value, is merged into it and keeps the names' case.)
- ``postgis.url`` (``postgresql://host:port/database``) never holds a password: that comes
  from ``$COOKBOOK_POSTGIS_PASSWORD``.
"""

from __future__ import annotations

import copy
import difflib
import os
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from cookbook.settings_schema import DERIVED_KEYS, Settings, redact

ENV_PREFIX = "COOKBOOK__"
MIRROR_ENV = "COOKBOOK_DATA_MIRROR"

KeyPath = tuple[str, ...]


class ConfigError(ValueError):
    """A configuration file or override is missing or malformed; ``problems`` lists each one."""

    def __init__(self, message: str, problems: list[str] | None = None):
        super().__init__(message)
        self.problems = list(problems) if problems else [message]


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


# ------------------------------------------------------------------------------ the schema


def _section(model: type[BaseModel], key: str) -> type[BaseModel] | None:
    """The model of ``model.key`` when that field is a section, else None."""
    annotation = model.model_fields[key].annotation
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _is_mapping(model: type[BaseModel], key: str) -> bool:
    """Whether ``model.key`` is a free mapping (``spark.conf``): its keys are not in the schema."""
    return typing.get_origin(model.model_fields[key].annotation) is dict


def _all_paths(model: type[BaseModel] = Settings, prefix: KeyPath = ()) -> list[KeyPath]:
    out = []
    for key in model.model_fields:
        out.append((*prefix, key))
        sub = _section(model, key)
        if sub is not None:
            out.extend(_all_paths(sub, (*prefix, key)))
    return out


def _model_at(path: KeyPath) -> type[BaseModel]:
    model: type[BaseModel] = Settings
    for key in path:
        model = _section(model, key) or model
    return model


def _dotted(path: KeyPath) -> str:
    """``spark.master``; a key inside a free mapping as ``spark.conf['spark.x']``."""
    model: type[BaseModel] | None = Settings
    text = ""
    for key in path:
        if model is None:
            text += f"[{key!r}]"
            continue
        text = f"{text}.{key}" if text else str(key)
        if key in model.model_fields and _section(model, key) is not None:
            model = _section(model, key)
        else:
            model = None  # a leaf or a free mapping: what follows are mapping keys
    return text


def _env_name(path: KeyPath) -> str:
    return ENV_PREFIX + "__".join(p.upper() for p in path)


def _nearest(name: str, candidates: list[str]) -> list[str]:
    """The closest candidate (difflib), else one that is a prefix of the name or vice versa."""
    close = difflib.get_close_matches(name, candidates, n=1)
    if close or len(name) < 2:
        return close
    return [c for c in candidates if len(c) >= 2 and (c.startswith(name) or name.startswith(c))][:1]


def _unknown(path: KeyPath, model: type[BaseModel], source: str) -> str:
    name = str(path[-1])
    if len(path) == 1 and name in DERIVED_KEYS:
        return f"{source}: {name} cannot be set in the configuration; {DERIVED_KEYS[name]}"
    siblings = list(model.model_fields)
    suggestion = None
    match = _nearest(name.lower(), siblings)
    if match:
        suggestion = _dotted((*path[:-1], match[0]))
    else:  # perhaps a key of another section: spark.tracking_uri -> mlflow.tracking_uri
        others = [p for p in _all_paths() if p[:-1] != path[:-1]]
        match = difflib.get_close_matches(name.lower(), [p[-1] for p in others], n=1, cutoff=0.8)
        if match:
            suggestion = _dotted(next(p for p in others if p[-1] == match[0]))
    message = f"{source}: unknown setting {_dotted(path)}"
    if suggestion:
        return f"{message}; did you mean {suggestion}?"
    where = f"keys in {_dotted(path[:-1])}" if len(path) > 1 else "sections"
    return f"{message}; valid {where}: {', '.join(siblings)}"


def _not_a_section(
    path: KeyPath, model: type[BaseModel], source: str, value: Any, from_env: bool
) -> str:
    keys = list(model.model_fields)
    if from_env:
        return (
            f"{source}: {_dotted(path)} is a section, not a single setting (got "
            f"{redact(repr(value))}); set one of its keys instead, e.g. "
            f"{_env_name((*path, keys[0]))}"
        )
    return (
        f"{source}: {_dotted(path)} is a section: expected a mapping of its settings "
        f"({', '.join(keys)}), got {redact(repr(value))}"
    )


def _check_layer(
    data: dict,
    model: type[BaseModel],
    source: str,
    prefix: KeyPath,
    problems: list[str],
    origin: dict[KeyPath, str],
    from_env: bool = False,
) -> dict:
    """Check one layer's keys against the schema (types are checked later, on the merge);
    return it without the bad keys, and note in ``origin`` where each setting came from."""
    clean: dict[str, Any] = {}
    for key, value in data.items():
        path = (*prefix, str(key))
        if not isinstance(key, str) or key not in model.model_fields:
            problems.append(_unknown(path, model, source))
            continue
        sub = _section(model, key)
        if sub is not None:
            if value is None and not from_env:
                continue  # an empty section in a file (all its keys commented out)
            if not isinstance(value, dict):
                problems.append(_not_a_section(path, sub, source, value, from_env))
                continue
            clean[key] = _check_layer(value, sub, source, path, problems, origin, from_env)
            continue
        clean[key] = value
        origin[path] = source
        if isinstance(value, dict) and _is_mapping(model, key):
            for name in value:
                origin[(*path, str(name))] = source
    return clean


# ------------------------------------------------------------------------------- the layers


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
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return data


def _env_keys(parts: list[str]) -> tuple[KeyPath, str | None]:
    """The setting a ``COOKBOOK__A__B`` name addresses (lower-cased, except keys inside a free
    mapping, which keep their case), and a problem when it goes below a single setting."""
    model: type[BaseModel] = Settings
    keys: list[str] = []
    for i, part in enumerate(parts):
        if part.lower() not in model.model_fields:
            keys.extend(p.lower() for p in parts[i:])  # unknown: reported by _check_layer
            return tuple(keys), None
        key = part.lower()
        keys.append(key)
        rest = parts[i + 1 :]
        sub = _section(model, key)
        if sub is not None:
            model = sub
        elif _is_mapping(model, key):
            return (*keys, "__".join(rest)) if rest else tuple(keys), None
        elif rest:
            return tuple(keys), (
                f"{_dotted(tuple(keys))} is a single setting, not a section; "
                f"set {_env_name(tuple(keys))} instead"
            )
    return tuple(keys), None


def _env_layer(environ: dict[str, str], problems: list[str], origin: dict[KeyPath, str]) -> dict:
    out: dict[str, Any] = {}
    for name in sorted(environ):
        if not name.startswith(ENV_PREFIX):
            continue
        raw = environ[name]
        parts = [p for p in name[len(ENV_PREFIX) :].split("__") if p]
        if not parts:
            continue
        keys, problem = _env_keys(parts)
        if problem:
            problems.append(f"{name}: {problem}")
            continue
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError as exc:
            reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            shown = redact(raw)
            quoted = f'"{shown}"' if '"' not in shown and "'" not in shown else '"..."'
            problems.append(
                f"{name}: the value is not valid YAML ({reason}): {shown!r}; "
                f"quote it to pass it as text, e.g. {name}='{quoted}'"
            )
            continue
        for key in reversed(keys):
            value = {key: value}
        checked = _check_layer(value, Settings, name, (), problems, origin, from_env=True)
        out = _deep_merge(out, checked)
    mirror = environ.get(MIRROR_ENV)
    if mirror:
        out.setdefault("data", {})["mirror"] = mirror
        origin[("data", "mirror")] = MIRROR_ENV
    return out


# ------------------------------------------------------------------------------ validation

_EXPECTED = {
    "bool_parsing": "expected true or false",
    "bool_type": "expected true or false",
    "string_type": "expected text",
    "dict_type": "expected a mapping",
    "model_type": "expected a mapping",
}


def _origin_of(path: KeyPath, origin: dict[KeyPath, str]) -> str:
    for n in range(len(path), 0, -1):
        if path[:n] in origin:
            return origin[path[:n]]
    below = [source for key, source in origin.items() if key[: len(path)] == path]
    return below[-1] if below else "configuration"


def _describe(error: Any, origin: dict[KeyPath, str]) -> str:
    is_key = "[key]" in error["loc"]
    path = tuple(str(p) for p in error["loc"] if p != "[key]")
    source = _origin_of(path, origin)
    kind = error["type"]
    if kind == "missing":
        return f"missing setting {_dotted(path)}: conf/local.yaml (or the profile) must set it"
    if kind == "extra_forbidden":
        return _unknown(path, _model_at(path[:-1]), source)
    if kind == "value_error":
        expected = str(error.get("ctx", {}).get("error", error["msg"]))
    elif kind == "literal_error":
        expected = f"expected one of {error['ctx']['expected']}"
    else:
        expected = _EXPECTED.get(kind) or error["msg"][:1].lower() + error["msg"][1:]
    if is_key:
        return f"{source}: {_dotted(path[:-1])}: {expected}"
    value = redact(repr(error["input"]))
    return f"{source}: invalid value for {_dotted(path)}: {value}; {expected}"


def _error(problems: list[str]) -> ConfigError:
    if len(problems) == 1:
        return ConfigError(problems[0])
    listing = "\n".join(f"  - {p}" for p in problems)
    return ConfigError(f"{len(problems)} problems in the configuration:\n{listing}", problems)


def _validate(config: dict, origin: dict[KeyPath, str]) -> dict:
    try:
        settings = Settings.model_validate(config)
    except ValidationError as exc:
        problems = [_describe(error, origin) for error in exc.errors()]
    else:
        return settings.model_dump()
    raise _error(problems)  # outside the except block: no pydantic error chained to it


def _expand(value: Any, root: Path) -> Any:
    if isinstance(value, str):
        return value.replace("{root}", root.as_posix())
    if isinstance(value, dict):
        return {k: _expand(v, root) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, root) for v in value]
    return value


def load_config(profile: str | None = None, environ: dict[str, str] | None = None) -> dict:
    """Return the merged, validated configuration as a plain dict (see the module docstring).

    ``profile`` overrides ``$COOKBOOK_PROFILE``; ``environ`` defaults to ``os.environ``.
    The dict has the sections ``spark``, ``mlflow``, ``data``, ``output`` and ``postgis`` with
    every key of the schema (nulls included), plus ``profile`` and ``root``. Spark conf keys
    under ``spark.conf`` keep their dotted names. When ``spark.remote`` (a Spark Connect URL) is
    set, ``spark.master`` is not used. Raises :class:`ConfigError` for any problem.
    """
    environ = dict(os.environ if environ is None else environ)
    root = project_root()
    conf_dir = root / "conf"
    explicit = environ.get("COOKBOOK_CONFIG")
    profile = profile or environ.get("COOKBOOK_PROFILE") or "local"
    files = [conf_dir / "local.yaml"]
    if explicit:
        files.append(Path(explicit))
    elif profile != "local":
        files.append(conf_dir / f"{profile}.yaml")
        if not files[-1].is_file():
            known = sorted(p.stem for p in conf_dir.glob("*.yaml"))
            raise ConfigError(
                f"configuration file not found: {files[-1]} (profile {profile!r}; profiles in "
                f"{conf_dir}: {', '.join(known) or 'none'})"
            )
    problems: list[str] = []
    origin: dict[KeyPath, str] = {}
    config: dict = {}
    for path in files:
        layer = _check_layer(_read_yaml(path), Settings, str(path), (), problems, origin)
        config = _deep_merge(config, layer)
    config = _deep_merge(config, _env_layer(environ, problems, origin))
    if problems:
        raise _error(problems)
    config = _validate(config, origin)
    config["profile"] = "custom" if explicit else profile
    config["root"] = root.as_posix()
    return _expand(config, root)
