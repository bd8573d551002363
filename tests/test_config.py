from pathlib import Path

import pytest

from cookbook.config import ConfigError, load_config, project_root

pytestmark = pytest.mark.unit


def test_local_defaults_point_inside_the_project(monkeypatch):
    for var in ("COOKBOOK__DATA__CACHE_DIR", "COOKBOOK__MLFLOW__TRACKING_URI",
                "COOKBOOK__MLFLOW__ARTIFACT_ROOT", "COOKBOOK__OUTPUT__DIR"):  # fmt: skip
        monkeypatch.delenv(var)
    cfg = load_config(environ={})
    root = project_root()
    assert cfg["profile"] == "local"
    assert cfg["spark"]["master"] == "local[*]"
    assert cfg["spark"]["ui_enabled"] is False
    assert cfg["spark"]["bind_address"] == "127.0.0.1"
    assert cfg["mlflow"]["tracking_uri"] == f"sqlite:///{root.as_posix()}/mlruns/mlflow.db"
    assert cfg["mlflow"]["artifact_root"] == f"{root.as_posix()}/mlruns/artifacts"
    assert cfg["data"]["cache_dir"] == f"{root.as_posix()}/data"
    assert cfg["data"]["mirror"] is None


def test_environment_overrides_nest_and_parse_yaml_scalars():
    cfg = load_config(
        environ={
            "COOKBOOK__SPARK__MASTER": "local[2]",
            "COOKBOOK__SPARK__UI_ENABLED": "true",
            "COOKBOOK__NEW_SECTION__DEPTH__KEY": "3",
            "COOKBOOK_DATA_MIRROR": "/mnt/mirror",
        }
    )
    assert cfg["spark"]["master"] == "local[2]"
    assert cfg["spark"]["ui_enabled"] is True
    assert cfg["new_section"]["depth"]["key"] == 3
    assert cfg["data"]["mirror"] == "/mnt/mirror"
    # untouched keys survive the merge
    assert cfg["spark"]["conf"]["spark.sql.session.timeZone"] == "UTC"


def test_cluster_profile_layers_over_local():
    cfg = load_config(profile="cluster", environ={})
    assert cfg["profile"] == "cluster"
    assert cfg["spark"]["master"].startswith("spark://")
    assert cfg["mlflow"]["tracking_uri"].startswith("http://")
    assert cfg["spark"]["log_level"] == "ERROR"  # inherited from local.yaml


def test_explicit_config_file_and_its_errors(tmp_path):
    good = tmp_path / "mine.yaml"
    good.write_text("spark:\n  master: yarn\n")
    assert load_config(environ={"COOKBOOK_CONFIG": str(good)})["spark"]["master"] == "yarn"

    bad = tmp_path / "bad.yaml"
    bad.write_text("spark: [unclosed\n")
    with pytest.raises(ConfigError, match="bad.yaml: not valid YAML"):
        load_config(environ={"COOKBOOK_CONFIG": str(bad)})
    with pytest.raises(ConfigError, match="not found: .*missing.yaml"):
        load_config(environ={"COOKBOOK_CONFIG": str(tmp_path / "missing.yaml")})
    with pytest.raises(ConfigError, match="nosuch.yaml"):
        load_config(profile="nosuch", environ={})


def test_project_root_honours_cookbook_home(monkeypatch, tmp_path):
    monkeypatch.setenv("COOKBOOK_HOME", str(tmp_path))
    assert project_root() == tmp_path.resolve()
    monkeypatch.delenv("COOKBOOK_HOME")
    assert (project_root() / "conf" / "local.yaml").is_file()
    assert isinstance(project_root(), Path)
