"""A PostGIS database for chapter 8: an existing server named in the settings, or a throwaway
one started here from the installed PostgreSQL, and the JDBC settings Spark reads it with.

.. code-block:: python

    from cookbook import postgis

    db = postgis.open_database()  # None (and the reason printed) when there is no server
    engine = db.engine()  # SQLAlchemy (psycopg): GeoDataFrame.to_postgis, SQL
    spark.read.format("jdbc").options(**db.jdbc_options(), query="SELECT ...").load()
    db.close()  # a throwaway server stops and its folder is deleted

Where the server comes from, in order:

1. ``postgis.url`` in ``conf/`` or ``COOKBOOK__POSTGIS__URL`` (``postgresql://user@host:port/db``)
   with the password from ``$COOKBOOK_POSTGIS_PASSWORD``; never from a notebook or ``conf/``
   (the settings refuse a URL that carries one);
2. otherwise a **throwaway cluster**: ``initdb`` into a temporary folder, ``postgres`` on
   127.0.0.1 at a free port with a random password (scram-sha-256), TCP only (no Unix
   socket), ``CREATE EXTENSION postgis``; :meth:`Database.close` (or the end of the process)
   stops it and removes the folder. It needs the PostgreSQL server binaries and PostGIS
   (Debian/Ubuntu: ``apt-get install postgresql postgis``; ``.ci/run`` installs
   ``postgresql-15-postgis-3`` when it runs as root). As root, the server runs as the
   ``postgres`` user, since PostgreSQL refuses to run as root.

Spark needs the PostgreSQL JDBC driver on its class path when the session starts:
:func:`jdbc_driver_jar` finds Debian's ``libpostgresql-jdbc-java`` jar (or ``$COOKBOOK_JDBC_JARS``),
and :func:`cookbook.spark.get_spark` adds it to ``spark.jars`` when it is there.

Errors say what to do: :class:`PostgisUnavailable` (no server and nothing to start one with),
:class:`PostgisError` (a wrong password, an unreachable server, PostGIS missing from it).
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from cookbook import services
from cookbook.config import load_config
from cookbook.services import LOOPBACK, Service, free_port, minimal_env
from cookbook.settings_schema import POSTGIS_PASSWORD_ENV, redact

JDBC_JARS_ENV = "COOKBOOK_JDBC_JARS"
DEBIAN_JDBC_JAR = "/usr/share/java/postgresql.jar"
DRIVER = "org.postgresql.Driver"
INSTALL_HINT = (
    "install PostgreSQL with PostGIS (Debian/Ubuntu: sudo apt-get install postgresql postgis "
    "libpostgresql-jdbc-java; macOS: brew install postgresql postgis), or name a server with "
    f"COOKBOOK__POSTGIS__URL and {POSTGIS_PASSWORD_ENV}"
)


class PostgisUnavailable(RuntimeError):
    """No server is configured and none can be started here."""


class PostgisError(RuntimeError):
    """The server is there but cannot be used: login, connection, or PostGIS missing."""


def jdbc_driver_jar() -> Path | None:
    """The PostgreSQL JDBC driver jar: ``$COOKBOOK_JDBC_JARS`` (a path), else Debian's."""
    for candidate in (os.environ.get(JDBC_JARS_ENV), DEBIAN_JDBC_JAR):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def server_bindir() -> Path | None:
    """Where ``initdb`` and ``postgres`` are: Debian's newest /usr/lib/postgresql/N/bin, else
    the folder of an ``initdb`` on the PATH."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def _sharedir(bindir: Path) -> Path | None:
    pg_config = bindir / "pg_config"
    if pg_config.is_file():
        with contextlib.suppress(OSError, subprocess.CalledProcessError):
            out = subprocess.run(
                [str(pg_config), "--sharedir"], capture_output=True, text=True, check=True
            )
            return Path(out.stdout.strip())
    version = bindir.parent.name
    return Path(f"/usr/share/postgresql/{version}") if version.isdigit() else None


def can_run() -> tuple[bool, str]:
    """Whether chapter 8's PostGIS section can run here with a throwaway server (the server
    binaries, PostGIS and the JDBC driver for Spark), and if not, why."""
    if jdbc_driver_jar() is None:
        return False, "no PostgreSQL JDBC driver jar"
    return can_start()


def can_start() -> tuple[bool, str]:
    """Whether a throwaway server can start here, and if not, why."""
    bindir = server_bindir()
    if bindir is None:
        return False, "no PostgreSQL server binaries (initdb) found"
    share = _sharedir(bindir)
    if share is None or not (share / "extension" / "postgis.control").is_file():
        return False, f"PostgreSQL in {bindir} has no PostGIS extension"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return False, "running as root and there is no 'postgres' user to run the server"
    return True, f"PostgreSQL in {bindir} with PostGIS"


@dataclass
class Database:
    """A PostGIS database: where it is, who logs in, and how Python and Spark reach it."""

    host: str
    port: int
    dbname: str
    user: str
    password: str = field(repr=False)
    origin: str = ""  # "throwaway server ..." or "postgis.url"
    options: dict[str, str] = field(default_factory=dict)  # e.g. sslmode, from the URL's query
    # the chapter's own tables live in this schema, created on first use and dropped by close():
    # a configured database's own tables are never touched
    schema: str = field(default_factory=lambda: f"cookbook_{secrets.token_hex(4)}")
    _server: Service | None = field(default=None, repr=False)
    _folder: Path | None = field(default=None, repr=False)
    _engine: object = field(default=None, repr=False)
    _made_schema: bool = field(default=False, repr=False)

    @property
    def url(self) -> str:
        """``postgresql://user@host:port/db``: no password."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.dbname}"

    @property
    def jdbc_url(self) -> str:
        query = "&".join(f"{k}={v}" for k, v in self.options.items())
        return f"jdbc:postgresql://{self.host}:{self.port}/{self.dbname}" + (
            f"?{query}" if query else ""
        )

    def jdbc_options(self) -> dict[str, str]:
        """Options for Spark's ``jdbc`` data source: url, user, password and driver class."""
        return {
            "url": self.jdbc_url,
            "user": self.user,
            "password": self.password,
            "driver": DRIVER,
        }

    def engine(self):
        """A SQLAlchemy engine (psycopg 3), e.g. for ``GeoDataFrame.to_postgis``."""
        if self._engine is None:
            from sqlalchemy import URL, create_engine

            url = URL.create(
                "postgresql+psycopg",
                username=self.user,
                password=self.password,
                host=self.host,
                port=self.port,
                database=self.dbname,
                query=self.options,
            )
            self._engine = create_engine(url, pool_pre_ping=True)
        return self._engine

    def execute(self, *statements: str) -> None:
        """Run SQL statements in one transaction."""
        from sqlalchemy import text

        with self.engine().begin() as conn:
            for statement in statements:
                conn.execute(text(statement))

    def scalar(self, sql: str):
        from sqlalchemy import text

        with self.engine().connect() as conn:
            return conn.execute(text(sql)).scalar()

    def use_schema(self) -> str:
        """Create :attr:`schema` (the chapter's scratch schema) and return its name."""
        self.execute(f"CREATE SCHEMA IF NOT EXISTS {self.schema}")
        self._made_schema = True
        return self.schema

    def close(self) -> None:
        """Drop the scratch schema, release connections; a throwaway server stops and its
        folder is removed."""
        if self._engine is not None:
            if self._made_schema:
                with contextlib.suppress(Exception):
                    self.execute(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")
                self._made_schema = False
            self._engine.dispose()
            self._engine = None
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _check(db: Database, create_extension: bool = True) -> Database:
    """Log in, and make sure PostGIS is there (created when missing and allowed)."""
    from sqlalchemy.exc import DBAPIError

    try:
        installed = db.scalar("SELECT extversion FROM pg_extension WHERE extname = 'postgis'")
    except DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        hint = (
            f"check the user and {POSTGIS_PASSWORD_ENV}"
            if "password" in reason or "authentication" in reason
            else "check that the server runs and the URL is right"
        )
        db.close()
        raise PostgisError(f"{db.url} ({db.origin}): cannot log in: {reason}; {hint}") from exc
    if installed:
        return db
    available = db.scalar("SELECT count(*) FROM pg_available_extensions WHERE name = 'postgis'")
    if not available or not create_extension:
        db.close()
        raise PostgisError(
            f"{db.url} ({db.origin}): the PostGIS extension is "
            + ("not installed on this server" if not available else "not created in this database")
            + ": install it (Debian/Ubuntu: apt-get install postgresql-<version>-postgis-3) and "
            "run CREATE EXTENSION postgis as a user allowed to"
        )
    try:
        db.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    except DBAPIError as exc:
        db.close()
        raise PostgisError(
            f"{db.url} ({db.origin}): PostGIS is installed but this user cannot create it in "
            f"{db.dbname} ({str(exc.orig).strip()}): ask the owner to run CREATE EXTENSION postgis"
        ) from exc
    return db


def from_settings(config: dict | None = None, create_extension: bool = True) -> Database | None:
    """The server ``postgis.url`` names (password from ``$COOKBOOK_POSTGIS_PASSWORD``), or None
    when none is configured."""
    url = (config or load_config())["postgis"].get("url")
    if not url:
        return None
    parts = urlsplit(url.removeprefix("jdbc:"))
    options = dict(parse_qsl(parts.query))  # sslmode, sslrootcert, ...: kept for both drivers
    password = os.environ.get(POSTGIS_PASSWORD_ENV)
    if password is None:
        raise PostgisError(
            f"postgis.url is {redact(url)} but {POSTGIS_PASSWORD_ENV} is not set: the password "
            "comes from the environment only"
        )
    db = Database(
        host=parts.hostname or LOOPBACK,
        port=parts.port or 5432,
        dbname=parts.path.lstrip("/") or "postgres",
        user=parts.username or os.environ.get("USER", "postgres"),
        password=password,
        origin="postgis.url",
        options=options,
    )
    return _check(db, create_extension)


def start_throwaway(root: str | os.PathLike | None = None, timeout: float = 60) -> Database:
    """Start a private PostgreSQL + PostGIS server on 127.0.0.1 (see the module text), its
    folder in ``root`` (default, and always as root: the system's temporary folder)."""
    ok, why = can_start()
    if not ok:
        raise PostgisUnavailable(f"cannot start a throwaway PostGIS server: {why}; {INSTALL_HINT}")
    bindir = server_bindir()
    as_user = "postgres" if os.geteuid() == 0 else None
    # as root the server runs as 'postgres', which must reach the folder: the system's temp
    folder = Path(tempfile.mkdtemp(prefix="cookbook-pg-", dir=None if as_user else root))
    server = None
    try:
        data, log = folder / "data", folder / "server.log"
        password = secrets.token_urlsafe(18)
        pwfile = folder / "pw"
        pwfile.write_text(password + "\n")
        pwfile.chmod(0o600)
        if as_user:
            info = pwd.getpwnam(as_user)
            for path in (folder, pwfile):
                os.chown(path, info.pw_uid, info.pw_gid)
        user = "cookbook"
        try:
            subprocess.run(
                [
                    str(bindir / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    user,
                    f"--pwfile={pwfile}",
                    "--auth-host=scram-sha-256",
                    "--auth-local=scram-sha-256",
                    "-E",
                    "UTF8",
                    "--locale=C",
                ],
                check=True,
                capture_output=True,
                text=True,
                env=minimal_env(),
                **services.as_user(as_user),
            )
        except subprocess.CalledProcessError as exc:
            raise PostgisError(f"initdb failed: {exc.stderr.strip()[-1500:]}") from exc
        finally:
            pwfile.unlink(missing_ok=True)
        port = free_port()
        server = Service(
            name="postgres",
            args=[
                str(bindir / "postgres"),
                "-D",
                str(data),
                "-p",
                str(port),
                "-c",
                f"listen_addresses={LOOPBACK}",
                "-c",
                "unix_socket_directories=",  # TCP only: no socket file, whatever the path length
                "-c",
                "fsync=off",  # a throwaway database: durability buys nothing
            ],
            log_path=log,
            env=minimal_env(),
            clean_env=True,  # the server sees none of this process's variables (secrets)
            url=f"postgresql://{LOOPBACK}:{port}",
            stop_signal=signal.SIGINT,  # a fast shutdown, open sessions or not
            user=as_user,
        ).start()
    except BaseException:
        if server is not None:
            server.stop()
        shutil.rmtree(folder, ignore_errors=True)
        raise
    db = Database(
        LOOPBACK, port, "postgres", user, password,
        origin=f"throwaway server in {folder}", _server=server, _folder=folder,
    )  # fmt: skip
    atexit.register(db.close)
    try:
        server.wait_until(lambda: _accepts(db), f"connections on port {port}", timeout)
        return _check(db)
    except BaseException:
        db.close()
        raise


def _accepts(db: Database) -> bool:
    from sqlalchemy.exc import OperationalError

    try:
        db.scalar("SELECT 1")
        return True
    except OperationalError:
        return False


def connect(config: dict | None = None) -> Database:
    """The configured server (``postgis.url``), else a throwaway one; raises
    :class:`PostgisUnavailable` when there is neither."""
    return from_settings(config) or start_throwaway()


def open_database(config: dict | None = None) -> Database | None:
    """:func:`connect` for a notebook: prints where the database is, or why there is none
    (and returns None, so the rest of the chapter runs)."""
    if jdbc_driver_jar() is None:
        print(
            "No PostgreSQL JDBC driver for Spark (Debian/Ubuntu: apt-get install "
            f"libpostgresql-jdbc-java; elsewhere set {JDBC_JARS_ENV} to the jar's path). "
            "The PostGIS section is skipped."
        )
        return None
    try:
        db = connect(config)
    except PostgisUnavailable as exc:
        print(f"No PostGIS database: {exc}. The PostGIS section is skipped.")
        return None
    version = db.scalar("SELECT postgis_lib_version()")
    print(f"PostGIS {version} at {db.url} ({db.origin})")
    return db
