"""PostgreSQL for the test suite: a throwaway local cluster, or a server named by ESHOP_TEST_POSTGRES_URL.

Either way a test gets a brand-new database per ``create_database`` call, so tests never share state.
The throwaway cluster trades durability for speed (fsync off) and trusts local connections.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import queue
import re
import shutil
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import URL, make_url

from tests.support.ports import free_port

DRIVER = "postgresql+psycopg"
SUPERUSER = "postgres"
_START_ATTEMPTS = 3  # a free port can be taken between probing it and the server binding it


class PostgresUnavailableError(RuntimeError):
    """The PostgreSQL backend was asked for and no server could be started or reached."""


def find_bin_dir() -> Path:
    """The directory holding initdb/pg_ctl: $ESHOP_TEST_POSTGRES_BIN, PATH, or Debian's newest version."""
    candidates: list[Path] = []
    if configured := os.environ.get("ESHOP_TEST_POSTGRES_BIN"):
        candidates.append(Path(configured))
    if on_path := shutil.which("initdb"):
        candidates.append(Path(on_path).parent)
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_major_version, reverse=True)
    candidates.extend(debian)
    for directory in candidates:
        if (directory / "initdb").is_file() and (directory / "pg_ctl").is_file():
            return directory
    raise PostgresUnavailableError(
        "ESHOP_TEST_BACKEND=postgres but no PostgreSQL server binaries (initdb, pg_ctl) were found: "
        "install the server (Debian: apt-get install postgresql), set ESHOP_TEST_POSTGRES_BIN to their "
        "directory, or point ESHOP_TEST_POSTGRES_URL at a running server."
    )


def _major_version(bin_dir: Path) -> int:
    name = bin_dir.parent.name
    return int(name) if name.isdigit() else -1


def _database_name(name: str) -> str:
    slug = re.sub(r"[^a-z0-9_]+", "_", name.lower()).strip("_")[:40] or "db"
    return f"test_{slug}_{uuid.uuid4().hex[:12]}"


class PostgresServer:
    """A server we may create databases on, reached with the superuser URL ``admin_url``."""

    def __init__(self, admin_url: URL) -> None:
        self.admin_url = admin_url.set(drivername=DRIVER)
        self._created: list[str] = []

    def create_database(self, name: str) -> str:
        """CREATE DATABASE a fresh, uniquely named database; returns its SQLAlchemy URL."""
        database = _database_name(name)
        with self._admin_connection() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
        self._created.append(database)
        return self._url_of(database)

    def _url_of(self, database: str) -> str:
        return self.admin_url.set(database=database).render_as_string(hide_password=False)

    def drop_created_databases(self) -> None:
        """Best effort: a test that leaked a connection must not fail the session at teardown."""
        with self._admin_connection() as conn:
            for database in self._created:
                with contextlib.suppress(psycopg.Error):
                    conn.execute(
                        sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
                    )
        self._created.clear()

    def _admin_connection(self) -> psycopg.Connection[tuple[object, ...]]:
        url = self.admin_url
        return psycopg.connect(
            host=url.host,
            port=url.port,
            user=url.username,
            password=url.password,
            dbname=url.database or "postgres",
            autocommit=True,
            connect_timeout=10,
        )


class _SpareDatabases:
    """Empty databases made ahead, on a thread of their own. CREATE DATABASE copies the template (some
    7 MB, near 100 ms on a busy machine, and a test session makes some 1,700); made here, that copy
    overlaps the tests' own waiting instead of adding to it. A database handed out is a spare renamed."""

    def __init__(self, connect: Callable[[], psycopg.Connection[tuple[object, ...]]], keep: int) -> None:
        self._connect = connect
        self._ready: queue.Queue[str] = queue.Queue(maxsize=keep)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._fill, name="spare-databases", daemon=True)
        self._thread.start()

    def take(self) -> str | None:
        """A spare's name, or None when none is ready (the caller creates one itself)."""
        try:
            return self._ready.get_nowait()
        except queue.Empty:
            return None

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=30)

    def _fill(self) -> None:
        connection: psycopg.Connection[tuple[object, ...]] | None = None
        while not self._stopping.is_set():
            try:
                if connection is None or connection.closed:
                    connection = self._connect()
                name = f"spare_{uuid.uuid4().hex[:16]}"
                connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            except psycopg.Error:  # the server restarted or went away under a fault test: try again
                if connection is not None:
                    connection.close()
                self._stopping.wait(0.5)
                continue
            while not self._stopping.is_set():
                with contextlib.suppress(queue.Full):
                    self._ready.put(name, timeout=0.5)
                    break
        if connection is not None:
            connection.close()


class ThrowawayCluster(PostgresServer):
    """initdb + pg_ctl on a temporary directory; ``stop()`` shuts it down and deletes everything.

    A test session's cluster (``for_a_test_session``) hands out databases made ahead
    (``_SpareDatabases``), and ``stop()`` leaves deleting its files to a process of its own: a session
    leaves some 1,700 databases, half a million files, and deleting them took its last half minute.
    The benchmark's cluster does neither: no thread competes with what it measures, and it is gone when
    ``stop()`` returns."""

    SPARES = 4

    def __init__(self, *, for_a_test_session: bool = False) -> None:
        self._for_a_test_session = for_a_test_session
        self._bin_dir = find_bin_dir()
        self._as_postgres_user = os.geteuid() == 0  # initdb refuses to run as root
        self._root = Path(tempfile.mkdtemp(prefix="eshop-pg-"))
        self._data = self._root / "data"
        self._sockets = self._root / "sockets"
        self._log = self._root / "server.log"
        self._sockets.mkdir()
        self._started = False
        if self._as_postgres_user:
            self._give_to_postgres_user()
        try:
            self._initdb()
            port = self._start()
        except BaseException:
            self.stop()
            raise
        super().__init__(URL.create(DRIVER, username=SUPERUSER, host="127.0.0.1", port=port))
        self._spares = _SpareDatabases(self._admin_connection, self.SPARES) if for_a_test_session else None

    def create_database(self, name: str) -> str:
        spare = self._spares.take() if self._spares is not None else None
        if spare is None:
            return super().create_database(name)
        database = _database_name(name)
        with self._admin_connection() as conn:
            conn.execute(
                sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                    sql.Identifier(spare), sql.Identifier(database)
                )
            )
        return self._url_of(database)

    def stop(self) -> None:
        spares: _SpareDatabases | None = getattr(self, "_spares", None)  # None: start-up failed
        if spares is not None:
            spares.stop()
            self._spares = None
        if self._started:
            self._run("pg_ctl", "-D", str(self._data), "-m", "immediate", "-w", "stop", check=False)
            self._started = False
        if not self._for_a_test_session:
            shutil.rmtree(self._root, ignore_errors=True)
            return
        subprocess.Popen(
            ["rm", "-rf", str(self._root)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def drop_created_databases(self) -> None:
        """Nothing to do: ``stop()`` deletes the whole cluster."""

    def restart(self) -> None:
        """Stop (fast: every connection is closed) and start again on the same port."""
        # -l again: without it the new server would write to (and hold open) our stdout pipe.
        self._run(
            "pg_ctl", "-D", str(self._data), "-l", str(self._log), "-m", "fast", "-w", "-t", "60", "restart"
        )

    def role_with_password(self, role: str, password: str) -> str:
        """A new login role that must give ``password`` over TCP (scram-sha-256, where every other role
        is trusted); returns a URL of the ``postgres`` database as that role, password included."""
        with self._admin_connection() as conn:
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(role), sql.Literal(password)
                )
            )
            hba = self._data / "pg_hba.conf"  # the first matching line decides: this one goes first
            hba.write_text(f"host all {role} 127.0.0.1/32 scram-sha-256\n{hba.read_text()}")
            conn.execute("SELECT pg_reload_conf()")
        url = self.admin_url.set(username=role, password=password, database="postgres")
        return url.render_as_string(hide_password=False)

    def _give_to_postgres_user(self) -> None:
        try:
            user = pwd.getpwnam(SUPERUSER)
        except KeyError:
            self.stop()
            raise PostgresUnavailableError(
                "running as root, and there is no 'postgres' user to run initdb as "
                "(installing Debian's postgresql package creates it)"
            ) from None
        for path in (self._root, self._sockets):
            os.chown(path, user.pw_uid, user.pw_gid)

    def _initdb(self) -> None:
        self._run(
            "initdb",
            "-D",
            str(self._data),
            f"--username={SUPERUSER}",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )

    def _start(self) -> int:
        for _ in range(_START_ATTEMPTS):
            port = free_port()
            options = (
                f"-c listen_addresses=127.0.0.1 -p {port} -k {self._sockets} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
            )
            started = self._run(
                "pg_ctl",
                "-D",
                str(self._data),
                "-l",
                str(self._log),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                "start",
                check=False,
            )
            if started.returncode == 0:
                self._started = True
                return port
        raise PostgresUnavailableError(
            f"pg_ctl could not start PostgreSQL after {_START_ATTEMPTS} attempts:\n"
            f"{started.stdout}\n--- server log ---\n{self._read_log()}"
        )

    def _read_log(self) -> str:
        try:
            return self._log.read_text(errors="replace")[-4000:]
        except OSError:
            return "(no log)"

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(self._bin_dir / tool), *args]
        if self._as_postgres_user:
            command = ["runuser", "-u", SUPERUSER, "--", *command]
        # cwd: the postgres user may not be allowed into the caller's working directory.
        result = subprocess.run(
            command,
            cwd=self._root,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            check=False,
        )
        if check and result.returncode != 0:
            raise PostgresUnavailableError(
                f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}"
            )
        return result


def external_server(url: str) -> PostgresServer:
    """A running server given as ``postgresql[+driver]://user[:password]@host[:port][/admin_db]``."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("postgresql"):
        raise PostgresUnavailableError(f"ESHOP_TEST_POSTGRES_URL is not a PostgreSQL URL: {parsed!r}")
    server = PostgresServer(parsed)
    try:
        server._admin_connection().close()
    except psycopg.Error as error:
        raise PostgresUnavailableError(
            f"cannot reach ESHOP_TEST_POSTGRES_URL ({parsed!r}): {error}"
        ) from error
    return server
