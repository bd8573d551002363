import os
import re
import shutil
from pathlib import Path

import pytest
import yaml
from conftest import scrub_config_environment
from pydantic import ValidationError

from cookbook.config import ConfigError, load_config, project_root
from cookbook.settings_schema import Settings

pytestmark = pytest.mark.unit

SANDBOX_VARS = {
    "COOKBOOK__DATA__CACHE_DIR",
    "COOKBOOK__MLFLOW__TRACKING_URI",
    "COOKBOOK__MLFLOW__ARTIFACT_ROOT",
    "COOKBOOK__OUTPUT__DIR",
}


def _error(**kwargs) -> str:
    with pytest.raises(ConfigError) as excinfo:
        load_config(**kwargs)
    assert type(excinfo.value) is ConfigError
    return str(excinfo.value)


def test_local_defaults_point_inside_the_project(monkeypatch):
    for var in SANDBOX_VARS:
        monkeypatch.delenv(var)
    cfg = load_config(environ={})
    root = project_root()
    assert cfg["profile"] == "local"
    assert cfg["root"] == root.as_posix()
    assert cfg["spark"]["master"] == "local[*]"
    assert cfg["spark"]["remote"] is None
    assert cfg["spark"]["ui_enabled"] is False
    assert cfg["spark"]["bind_address"] == "127.0.0.1"
    assert cfg["spark"]["log4j_config"] == f"{root.as_posix()}/conf/log4j2.properties"
    assert cfg["mlflow"]["tracking_uri"] == f"sqlite:///{root.as_posix()}/mlruns/mlflow.db"
    assert cfg["mlflow"]["artifact_root"] == f"{root.as_posix()}/mlruns/artifacts"
    assert cfg["mlflow"]["registry_uri"] is None
    assert cfg["data"]["cache_dir"] == f"{root.as_posix()}/data"
    assert cfg["data"]["mirror"] is None
    assert cfg["postgis"] == {"url": None}
    assert set(cfg) == {"spark", "mlflow", "data", "output", "postgis", "profile", "root"}


def test_environment_overrides_nest_and_parse_yaml_scalars():
    cfg = load_config(
        environ={
            "COOKBOOK__SPARK__MASTER": "local[2]",
            "COOKBOOK__SPARK__UI_ENABLED": "true",
            "cookbook__spark__master": "ignored: not the prefix",
            "COOKBOOK__Spark__Log_Level": "warn",  # names and levels are case-insensitive
            "COOKBOOK__SPARK__REMOTE": "sc://127.0.0.1:15002",
            "COOKBOOK__MLFLOW__ARTIFACT_ROOT": "",  # empty: null
            "COOKBOOK__POSTGIS__URL": "postgresql://gis@127.0.0.1:5432/gis",
            "COOKBOOK_DATA_MIRROR": "/mnt/mirror",
        }
    )
    assert cfg["spark"]["master"] == "local[2]"
    assert cfg["spark"]["ui_enabled"] is True
    assert cfg["spark"]["log_level"] == "WARN"
    assert cfg["spark"]["remote"] == "sc://127.0.0.1:15002"
    assert cfg["mlflow"]["artifact_root"] is None
    assert cfg["postgis"]["url"] == "postgresql://gis@127.0.0.1:5432/gis"
    assert cfg["data"]["mirror"] == "/mnt/mirror"
    # untouched keys survive the merge
    assert cfg["spark"]["conf"]["spark.sql.session.timeZone"] == "UTC"
    assert cfg["spark"]["app_name"] == "ml-cookbook"


def test_spark_conf_keys_keep_their_dotted_names_and_case():
    cfg = load_config(
        environ={
            "COOKBOOK__SPARK__CONF": "{spark.sql.shuffle.partitions: 4, spark.executor.memory: 2g}",
            "COOKBOOK__SPARK__CONF__spark.sql.session.timeZone": "CET",
        }
    )
    conf = cfg["spark"]["conf"]
    assert conf["spark.sql.shuffle.partitions"] == 4
    assert conf["spark.executor.memory"] == "2g"
    assert conf["spark.sql.session.timeZone"] == "CET"
    assert conf["spark.sql.execution.arrow.pyspark.enabled"] == "true"  # merged, not replaced


def test_cluster_profile_layers_over_local():
    cfg = load_config(profile="cluster", environ={})
    assert cfg["profile"] == "cluster"
    assert cfg["spark"]["master"].startswith("spark://")
    assert cfg["mlflow"]["tracking_uri"].startswith("http://")
    assert cfg["spark"]["log_level"] == "ERROR"  # inherited from local.yaml


@pytest.mark.parametrize("name", ["local.yaml", "cluster.yaml"])
def test_shipped_conf_files_pass_the_schema(name):
    path = project_root() / "conf" / name
    cfg = load_config(environ={"COOKBOOK_CONFIG": str(path)})
    assert cfg["profile"] == "custom"
    # local.yaml alone defines every required setting
    if name == "local.yaml":
        Settings.model_validate(yaml.safe_load(path.read_text()))
    # and documents Spark Connect
    assert "sc://" in path.read_text() and "remote" in path.read_text()


def test_explicit_config_file_and_its_errors(tmp_path):
    good = tmp_path / "mine.yaml"
    good.write_text("spark:\n  master: yarn\n")
    assert load_config(environ={"COOKBOOK_CONFIG": str(good)})["spark"]["master"] == "yarn"

    empty_section = tmp_path / "empty.yaml"
    empty_section.write_text("spark:\n  # master: yarn\n")
    assert load_config(environ={"COOKBOOK_CONFIG": str(empty_section)})["spark"]["app_name"]

    bad = tmp_path / "bad.yaml"
    bad.write_text("spark: [unclosed\n")
    assert "bad.yaml: not valid YAML" in _error(environ={"COOKBOOK_CONFIG": str(bad)})
    assert re.search(
        r"not found: .*missing\.yaml",
        _error(environ={"COOKBOOK_CONFIG": str(tmp_path / "missing.yaml")}),
    )
    message = _error(profile="nosuch", environ={})
    assert "nosuch.yaml" in message and "cluster, local" in message


def test_project_root_honours_cookbook_home(monkeypatch, tmp_path):
    monkeypatch.setenv("COOKBOOK_HOME", str(tmp_path))
    assert project_root() == tmp_path.resolve()
    monkeypatch.delenv("COOKBOOK_HOME")
    assert (project_root() / "conf" / "local.yaml").is_file()
    assert isinstance(project_root(), Path)


# ------------------------------------------------------------------------- error messages


def test_misspelt_override_names_the_variable_and_suggests_the_key():
    message = _error(environ={"COOKBOOK__SPARK__MASTR": "local[2]"})
    assert (
        message == "COOKBOOK__SPARK__MASTR: unknown setting spark.mastr; did you mean spark.master?"
    )
    # a key put in the wrong section, or a section that does not exist
    assert _error(environ={"COOKBOOK__SPARK__TRACKING_URI": "x"}).endswith(
        "unknown setting spark.tracking_uri; did you mean mlflow.tracking_uri?"
    )
    message = _error(environ={"COOKBOOK__NEW_SECTION__DEPTH__KEY": "3"})
    assert message.startswith("COOKBOOK__NEW_SECTION__DEPTH__KEY: unknown setting new_section;")
    assert "spark, mlflow, data, output, postgis" in message
    assert "COOKBOOK_HOME" in _error(environ={"COOKBOOK__ROOT": "/elsewhere"})


def test_unknown_key_in_a_profile_file_names_the_file(tmp_path, monkeypatch):
    home = tmp_path / "home"
    (home / "conf").mkdir(parents=True)
    shutil.copy(project_root() / "conf" / "local.yaml", home / "conf" / "local.yaml")
    profile = home / "conf" / "typo.yaml"
    profile.write_text("mlflow:\n  tracking_url: http://mlflow:5000\n")
    monkeypatch.setenv("COOKBOOK_HOME", str(home))
    message = _error(profile="typo", environ={})
    assert message == (
        f"{profile.resolve()}: unknown setting mlflow.tracking_url; "
        "did you mean mlflow.tracking_uri?"
    )


def test_every_unknown_key_of_a_file_is_reported_at_once(tmp_path):
    mine = tmp_path / "mine.yaml"
    mine.write_text("spark:\n  mastr: yarn\n  ui: true\noutput:\n  directory: /x\n")
    message = _error(environ={"COOKBOOK_CONFIG": str(mine)})
    assert message.startswith("3 problems in the configuration:")
    assert f"{mine}: unknown setting spark.mastr; did you mean spark.master?" in message
    assert f"{mine}: unknown setting output.directory; did you mean output.dir?" in message
    with pytest.raises(ConfigError) as excinfo:
        load_config(environ={"COOKBOOK_CONFIG": str(mine)})
    assert len(excinfo.value.problems) == 3


def test_malformed_yaml_override_names_the_variable_and_shows_the_value():
    message = _error(environ={"COOKBOOK__SPARK__MASTER": "[local"})
    assert message.startswith("COOKBOOK__SPARK__MASTER: the value is not valid YAML")
    assert "'[local'" in message and "quote it" in message


def test_a_section_set_to_a_single_value():
    message = _error(environ={"COOKBOOK__SPARK": "local"})
    assert message.startswith("COOKBOOK__SPARK: spark is a section, not a single setting")
    assert "COOKBOOK__SPARK__MASTER" in message
    message = _error(environ={"COOKBOOK__SPARK__MASTER__HOST": "x"})
    assert message == (
        "COOKBOOK__SPARK__MASTER__HOST: spark.master is a single setting, not a section; "
        "set COOKBOOK__SPARK__MASTER instead"
    )


def test_a_section_set_to_a_single_value_in_a_file(tmp_path):
    mine = tmp_path / "mine.yaml"
    mine.write_text("spark: local\n")
    message = _error(environ={"COOKBOOK_CONFIG": str(mine)})
    assert message.startswith(f"{mine}: spark is a section: expected a mapping of its settings")


def test_wrong_type_names_key_source_value_and_what_was_expected(tmp_path):
    assert _error(environ={"COOKBOOK__SPARK__UI_ENABLED": "maybe"}) == (
        "COOKBOOK__SPARK__UI_ENABLED: invalid value for spark.ui_enabled: 'maybe'; "
        "expected true or false"
    )
    message = _error(environ={"COOKBOOK__SPARK__LOG_LEVEL": "verbose"})
    assert "invalid value for spark.log_level: 'verbose'; expected one of 'ALL'" in message
    message = _error(environ={"COOKBOOK__SPARK__DRIVER_MEMORY": "lots"})
    assert "spark.driver_memory: 'lots'; expected a size such as 4g" in message
    message = _error(environ={"COOKBOOK__SPARK__REMOTE": "http://127.0.0.1:15002"})
    assert "expected a Spark Connect URL such as sc://" in message
    mine = tmp_path / "mine.yaml"
    mine.write_text("data:\n  cache_dir: [a, b]\n")
    assert _error(environ={"COOKBOOK_CONFIG": str(mine)}) == (
        f"{mine}: invalid value for data.cache_dir: ['a', 'b']; expected text"
    )


def test_spark_conf_names_must_start_with_spark(tmp_path):
    mine = tmp_path / "mine.yaml"
    mine.write_text("spark:\n  conf:\n    sql.shuffle.partitions: 4\n")
    message = _error(environ={"COOKBOOK_CONFIG": str(mine)})
    assert message.startswith(f"{mine}: spark.conf: 'sql.shuffle.partitions' is not a Spark")
    assert "start with 'spark.'" in message and "'spark.sql.shuffle.partitions'" in message
    mine.write_text("spark:\n  conf:\n    spark.jars.packages: [a, b]\n")
    assert "spark.conf['spark.jars.packages']: ['a', 'b']; expected a single value" in _error(
        environ={"COOKBOOK_CONFIG": str(mine)}
    )


def test_postgis_url_must_not_carry_a_password(tmp_path):
    for url in (
        "postgresql://gis:s3cret@db.example:5432/gis",
        "postgresql://db.example:5432/gis?password=s3cret",
    ):
        message = _error(environ={"COOKBOOK__POSTGIS__URL": url})
        assert message.startswith("COOKBOOK__POSTGIS__URL: invalid value for postgis.url")
        assert "COOKBOOK_POSTGIS_PASSWORD" in message
        assert "s3cret" not in message
    mine = tmp_path / "mine.yaml"
    mine.write_text("postgis:\n  url: postgresql://gis:s3cret@db.example:5432/gis\n")
    message = _error(environ={"COOKBOOK_CONFIG": str(mine)})
    assert message.startswith(f"{mine}: invalid value for postgis.url")
    assert "s3cret" not in message
    assert "postgresql://" in _error(environ={"COOKBOOK__POSTGIS__URL": "mysql://h/db"})


_BAD_VALUES = ["[", "{a: b", "{a: b}", "- x", "x: y", "3", "true", "null", "",
               "!!python/object/apply:os.system ['true']", "*alias", "'", "@x", "\t"]  # fmt: skip


def test_config_error_is_the_only_exception_raised(tmp_path):
    """Every setting of the schema, and a few names outside it, set to odd values: either a
    valid configuration or a ConfigError, never a pydantic, YAML or other error."""
    names = ["COOKBOOK__SPARK", "COOKBOOK__SPARK__CONF", "COOKBOOK__NOPE", "COOKBOOK__DATA__X__Y"]
    cfg = load_config(environ={})
    for section, keys in cfg.items():
        if isinstance(keys, dict):
            names.append(f"COOKBOOK__{section.upper()}")
            names += [f"COOKBOOK__{section.upper()}__{key.upper()}" for key in keys]
    outcomes = set()
    for name in names:
        for value in _BAD_VALUES:
            try:
                load_config(environ={name: value})
                outcomes.add("ok")
            except ConfigError as exc:
                assert not isinstance(exc, ValidationError | yaml.YAMLError)
                assert exc.__cause__ is None
                outcomes.add("error")
    assert outcomes == {"ok", "error"}
    for text in ["spark: {conf: 3}", "- a\n- b\n", "spark:\n  conf:\n    1: 2\n", "{a: [}"]:
        mine = tmp_path / "mine.yaml"
        mine.write_text(text)
        _error(environ={"COOKBOOK_CONFIG": str(mine)})


# ----------------------------------------------------------------------------- test hygiene


def test_no_configuration_from_the_users_shell_reaches_the_tests():
    """The session fixture removed every COOKBOOK__* variable the shell exported (e.g. a stray
    COOKBOOK__SPARK__MASTER) before setting the sandbox ones."""
    inherited = {n for n in os.environ if n.startswith("COOKBOOK__")} - SANDBOX_VARS
    assert not inherited
    assert not {"COOKBOOK_PROFILE", "COOKBOOK_CONFIG", "COOKBOOK_HOME"} & set(os.environ)
    assert load_config()["spark"]["master"] == "local[*]"


def test_scrubbing_removes_a_stray_override(monkeypatch):
    monkeypatch.setenv("COOKBOOK__SPARK__MASTER", "spark://stray.example:7077")
    monkeypatch.setenv("COOKBOOK_PROFILE", "cluster")
    monkeypatch.setenv("COOKBOOK_DATA_MIRROR", "/mnt/mirror")
    assert load_config()["spark"]["master"] == "spark://stray.example:7077"
    with pytest.MonkeyPatch.context() as mp:
        removed = scrub_config_environment(mp)
        assert {"COOKBOOK__SPARK__MASTER", "COOKBOOK_PROFILE"} <= set(removed)
        assert os.environ["COOKBOOK_DATA_MIRROR"] == "/mnt/mirror"  # kept: the realdata tier
        cfg = load_config()
        assert cfg["spark"]["master"] == "local[*]" and cfg["profile"] == "local"
    assert os.environ["COOKBOOK__SPARK__MASTER"] == "spark://stray.example:7077"  # restored
