"""The schema of ``conf/*.yaml``: sections, keys, their types and checks (pydantic v2).

:func:`cookbook.config.load_config` validates the merged configuration with :class:`Settings`
and turns every problem into one :class:`cookbook.config.ConfigError`; code elsewhere in the
package keeps reading the plain dict it returns. Every section forbids unknown keys.

``conf/local.yaml`` defines every setting; the ones that may be null default to null, so an
older profile or a copy of ``local.yaml`` without them still validates.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, get_args
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

SparkLogLevel = Literal["ALL", "DEBUG", "ERROR", "FATAL", "INFO", "OFF", "TRACE", "WARN"]
SPARK_LOG_LEVELS = get_args(SparkLogLevel)
POSTGIS_PASSWORD_ENV = "COOKBOOK_POSTGIS_PASSWORD"
POSTGIS_SCHEMES = ("postgresql", "postgres", "jdbc:postgresql")

# Spark sizes: a number with an optional unit, as spark.driver.memory takes them (4g, 512m, 1t)
_SIZE = re.compile(r"^\d+\s*([kmgtp]b?|b)?$", re.IGNORECASE)
_USERINFO = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.:-]*://[^/@:\s]*):[^/@\s]*@")
_QUERY_SECRET = re.compile(r"(?P<head>(password|token)=)[^&;\s'\"]*", re.IGNORECASE)


def redact(text: str) -> str:
    """Mask secrets in URLs (``scheme://user:secret@host``, ``password=``, ``token=``)."""
    text = _USERINFO.sub(r"\g<head>:***@", text)
    return _QUERY_SECRET.sub(r"\g<head>***", text)


def _spark_key(name: str) -> str:
    if not name.startswith("spark."):
        raise ValueError(
            f"{name!r} is not a Spark setting name: names under spark.conf start with 'spark.' "
            f"(did you mean 'spark.{name}'?)"
        )
    return name


def _scalar(value: Any) -> Any:
    if isinstance(value, bool | int | float | str):
        return value
    raise ValueError("expected a single value (text, a number or true/false)")


SparkKey = Annotated[str, AfterValidator(_spark_key)]
SparkValue = Annotated[Any, AfterValidator(_scalar)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)


class SparkSettings(_Section):
    """``spark``: how :func:`cookbook.spark.get_spark` builds the session.

    ``remote`` (a Spark Connect URL such as ``sc://127.0.0.1:15002``; Databricks Connect is Spark
    Connect underneath) selects a Spark Connect session; when it is set, ``master`` is not used.
    ``conf`` maps Spark setting names (``spark.*``, dotted, case as Spark spells them) to values;
    it is set in YAML (environment variable names cannot hold those dotted names in most shells).
    """

    master: str | None = None
    remote: str | None = None
    app_name: str
    driver_memory: str
    log_level: SparkLogLevel
    log4j_config: str | None = None
    ui_enabled: bool
    bind_address: str | None = None
    conf: dict[SparkKey, SparkValue] = Field(default_factory=dict)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().upper() in SPARK_LOG_LEVELS:
            return value.strip().upper()
        return value  # unchanged, so an error shows it as written

    @field_validator("driver_memory")
    @classmethod
    def _size(cls, value: str) -> str:
        if not _SIZE.match(value.strip()):
            raise ValueError("expected a size such as 4g, 512m or 2048m")
        return value.strip()

    @field_validator("remote")
    @classmethod
    def _connect_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("sc://"):
            raise ValueError("expected a Spark Connect URL such as sc://127.0.0.1:15002")
        return value


class MlflowSettings(_Section):
    """``mlflow``: where runs, models and artifacts go. ``registry_uri`` null: the tracking URI."""

    tracking_uri: str
    artifact_root: str | None = None
    experiment_prefix: str
    registry_uri: str | None = None


class DataSettings(_Section):
    """``data``: the download cache and the optional mirror of the original files."""

    cache_dir: str
    mirror: str | None = None


class OutputSettings(_Section):
    """``output``: where notebooks write their results."""

    dir: str


class PostgisSettings(_Section):
    """``postgis``: an existing PostGIS server, ``postgresql://host:port/database`` (null: none).

    The URL carries no password: it always comes from ``$COOKBOOK_POSTGIS_PASSWORD``.
    """

    url: str | None = None

    @field_validator("url")
    @classmethod
    def _no_password(cls, value: str | None) -> str | None:
        if value is None:
            return value
        scheme = value.split("://", 1)[0].lower() if "://" in value else ""
        if scheme not in POSTGIS_SCHEMES:
            raise ValueError("expected a URL such as postgresql://host:5432/database")
        try:
            parts = urlsplit(value[len("jdbc:") :] if scheme.startswith("jdbc:") else value)
            has_password = parts.password is not None
        except ValueError as exc:
            raise ValueError(f"not a valid URL ({exc})") from None
        if has_password or "password=" in parts.query.lower():
            raise ValueError(
                "the URL contains a password; leave it out of the configuration and set the "
                f"environment variable {POSTGIS_PASSWORD_ENV} instead"
            )
        if not parts.hostname:
            raise ValueError("expected a URL such as postgresql://host:5432/database")
        return value


class Settings(_Section):
    """The whole configuration, as read from ``conf/`` and the environment."""

    spark: SparkSettings
    mlflow: MlflowSettings
    data: DataSettings
    output: OutputSettings
    postgis: PostgisSettings = Field(default_factory=PostgisSettings)


# Added by load_config, never read from files or the environment.
DERIVED_KEYS = {
    "profile": "the profile is chosen with COOKBOOK_PROFILE (or COOKBOOK_CONFIG)",
    "root": "the project root is found automatically or set with COOKBOOK_HOME",
}
