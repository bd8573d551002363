"""The PostGIS helper: a throwaway server, the configured one, and what goes wrong clearly."""

from __future__ import annotations

import os

import pytest

from cookbook import postgis

pytestmark = [pytest.mark.postgis, pytest.mark.slow]

CAN_START, WHY = postgis.can_start()
needs_server = pytest.mark.skipif(not CAN_START, reason=f"no throwaway PostGIS server: {WHY}")


def _config(url):
    return {"postgis": {"url": url}}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not CAN_START:
        pytest.skip(f"no throwaway PostGIS server: {WHY}")
    db = postgis.start_throwaway(tmp_path_factory.mktemp("pg"))
    yield db
    db.close()


@needs_server
def test_throwaway_server_starts_with_postgis_and_leaves_nothing(tmp_path, record_property):
    with postgis.start_throwaway(tmp_path) as db:
        folder, pid = db._folder, db._server.pid
        assert db.host == "127.0.0.1" and db.password and db.password not in db.url
        version = db.scalar("SELECT postgis_full_version()")
        assert version.startswith('POSTGIS="3.')
        record_property("summary", f"throwaway PostgreSQL server at {db.url}: {version[:40]}")
        # loopback only, over TCP only; the server process sees none of our variables
        assert db.scalar("SHOW listen_addresses") == "127.0.0.1"
        assert db.scalar("SHOW unix_socket_directories") == ""
        environ = open(f"/proc/{pid}/environ", "rb").read().split(b"\0")
        assert not [v for v in environ if v.startswith((b"COOKBOOK", b"PYTEST"))]
    assert not folder.exists()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    db.close()  # twice is fine


@needs_server
def test_configured_server_needs_the_password_from_the_environment(server, monkeypatch):
    monkeypatch.delenv("COOKBOOK_POSTGIS_PASSWORD", raising=False)
    url = f"postgresql://{server.user}@127.0.0.1:{server.port}/postgres"
    with pytest.raises(postgis.PostgisError, match="COOKBOOK_POSTGIS_PASSWORD is not set"):
        postgis.from_settings(_config(url))
    monkeypatch.setenv("COOKBOOK_POSTGIS_PASSWORD", server.password)
    with postgis.from_settings(_config(url)) as db:
        assert db.origin == "postgis.url" and db.scalar("SELECT 1") == 1
    assert postgis.from_settings(_config(None)) is None


@needs_server
def test_wrong_password_is_a_clear_error(server, monkeypatch):
    monkeypatch.setenv("COOKBOOK_POSTGIS_PASSWORD", "not-the-password")
    url = f"postgresql://{server.user}@127.0.0.1:{server.port}/postgres"
    with pytest.raises(postgis.PostgisError) as err:
        postgis.from_settings(_config(url))
    message = str(err.value)
    assert message.startswith(f"{url} (postgis.url): cannot log in")
    assert "password authentication failed" in message and "COOKBOOK_POSTGIS_PASSWORD" in message
    assert "not-the-password" not in message


@needs_server
def test_database_without_postgis_is_a_clear_error(server, monkeypatch):
    from sqlalchemy import text

    with server.engine().connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("CREATE ROLE analyst LOGIN PASSWORD 'analyst-pw'"))
        conn.execute(text("CREATE DATABASE plain OWNER analyst"))
    monkeypatch.setenv("COOKBOOK_POSTGIS_PASSWORD", "analyst-pw")
    url = f"postgresql://analyst@127.0.0.1:{server.port}/plain"
    with pytest.raises(postgis.PostgisError, match="PostGIS extension is not created in this"):
        postgis.from_settings(_config(url), create_extension=False)
    # PostGIS is not a trusted extension: a plain user cannot create it
    with pytest.raises(postgis.PostgisError, match="this user cannot create it in plain"):
        postgis.from_settings(_config(url))


@needs_server
def test_the_chapters_tables_live_in_a_scratch_schema_that_close_drops(server, monkeypatch):
    monkeypatch.setenv("COOKBOOK_POSTGIS_PASSWORD", server.password)
    url = f"postgresql://{server.user}@127.0.0.1:{server.port}/postgres?sslmode=disable"
    server.execute("CREATE TABLE IF NOT EXISTS public.taxi_zones (id int)")  # "theirs"
    db = postgis.from_settings(_config(url))
    assert db.options == {"sslmode": "disable"} and db.jdbc_url.endswith("?sslmode=disable")
    schema = db.use_schema()
    assert (
        schema.startswith("cookbook_") and schema != postgis.Database("h", 1, "d", "u", "p").schema
    )
    db.execute(f"CREATE TABLE {schema}.taxi_zones (id int)")
    db.close()
    exists = "SELECT count(*) FROM information_schema.schemata WHERE schema_name = '{}'"
    assert server.scalar(exists.format(schema)) == 0  # dropped
    assert server.scalar("SELECT to_regclass('public.taxi_zones') IS NOT NULL")  # untouched


def test_no_jdbc_driver_means_a_skipped_section(monkeypatch, capsys):
    monkeypatch.setattr(postgis, "jdbc_driver_jar", lambda: None)
    assert postgis.can_run() == (False, "no PostgreSQL JDBC driver jar")
    assert postgis.open_database(_config(None)) is None
    out = capsys.readouterr().out
    assert "No PostgreSQL JDBC driver" in out and "libpostgresql-jdbc-java" in out


def test_no_server_binaries_means_a_skipped_section(monkeypatch, capsys):
    monkeypatch.setattr(postgis, "server_bindir", lambda: None)
    assert postgis.can_start() == (False, "no PostgreSQL server binaries (initdb) found")
    with pytest.raises(postgis.PostgisUnavailable, match="apt-get install postgresql postgis"):
        postgis.start_throwaway()
    assert postgis.open_database(_config(None)) is None
    assert "The PostGIS section is skipped" in capsys.readouterr().out


def test_jdbc_options_carry_the_driver_and_no_password_in_the_url():
    db = postgis.Database("127.0.0.1", 5433, "gis", "me", "secret")
    options = db.jdbc_options()
    assert options["url"] == "jdbc:postgresql://127.0.0.1:5433/gis"
    assert options["driver"] == "org.postgresql.Driver" and options["password"] == "secret"
    assert "secret" not in repr(db) and "secret" not in db.url
