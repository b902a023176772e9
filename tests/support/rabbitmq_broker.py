"""RabbitMQ for the test suite: a private node per test session, on free ports, with its own data,
log, configuration and Erlang cookie, started and stopped by the ``rabbitmq`` fixture (its epmd too).

Debian's ``rabbitmq-server`` package is enough (``.ci/run`` installs it where missing, never starting
its system service); ESHOP_TEST_RABBITMQ_BIN names another directory holding ``rabbitmq-server`` and
``rabbitmqctl``. A test that asks for the broker and cannot have it fails, never skips.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from tests.support.ports import free_port

_START_ATTEMPTS = 3
_START_TIMEOUT_S = 60.0
USER, PASSWORD = "eshop", "eshop-test"


class RabbitUnavailableError(RuntimeError):
    """The broker was asked for and could not be started."""


def find_bin_dir() -> Path:
    candidates = []
    if configured := os.environ.get("ESHOP_TEST_RABBITMQ_BIN"):
        candidates.append(Path(configured))
    candidates.append(Path("/usr/lib/rabbitmq/bin"))
    if on_path := shutil.which("rabbitmqctl"):
        candidates.append(Path(on_path).resolve().parent)
    for directory in candidates:
        if (directory / "rabbitmq-server").exists() and (directory / "rabbitmqctl").exists():
            return directory
    raise RabbitUnavailableError(
        "the tests need a RabbitMQ server and none was found: install Debian's rabbitmq-server "
        "(.ci/run does) or set ESHOP_TEST_RABBITMQ_BIN to the directory of rabbitmq-server and rabbitmqctl"
    )


class PrivateRabbit:
    """A node of our own: ``url`` reaches it as a user with every permission on ``/``."""

    def __init__(self) -> None:
        self._bin = find_bin_dir()
        self._root = Path(tempfile.mkdtemp(prefix="eshop-rabbit-"))
        self._process: subprocess.Popen[bytes] | None = None
        self.port = 0
        try:
            self._start()
            self.ctl("add_user", USER, PASSWORD)
            self.ctl("set_permissions", "-p", "/", USER, ".*", ".*", ".*")
        except BaseException:
            self.stop()
            raise

    @property
    def url(self) -> str:
        return f"amqp://{USER}:{PASSWORD}@127.0.0.1:{self.port}/"

    def ctl(self, *args: str, timeout_s: float = 60.0) -> str:
        """``rabbitmqctl`` against this node; its output."""
        done = subprocess.run(
            [str(self._bin / "rabbitmqctl"), "-q", *args],
            env=self._env,
            cwd=self._root,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
        if done.returncode != 0:
            raise RabbitUnavailableError(f"rabbitmqctl {' '.join(args)} failed: {done.stdout}{done.stderr}")
        return done.stdout

    def stop_app(self) -> None:
        """The broker goes away (its listener closes, every connection is cut); the node stays."""
        self.ctl("stop_app")

    def start_app(self) -> None:
        self.ctl("start_app")
        self.ctl("await_startup", "--timeout", "60")

    def stop(self) -> None:
        if self._process is not None:
            try:
                self.ctl("stop", timeout_s=30)
                self._process.wait(timeout=30)
            except (RabbitUnavailableError, subprocess.TimeoutExpired, OSError):
                self._process.kill()
                self._process.wait()
            self._process = None
        if hasattr(self, "_epmd_port"):
            # The node started its own epmd on our port; it outlives the node unless told.
            subprocess.run(
                ["epmd", "-port", str(self._epmd_port), "-kill"],
                capture_output=True,
                check=False,
                timeout=10,
            )
        shutil.rmtree(self._root, ignore_errors=True)

    def _start(self) -> None:
        last = ""
        for attempt in range(_START_ATTEMPTS):
            self.port, dist, self._epmd_port = free_port(), free_port(), free_port()
            self._env = self._environment(attempt, dist)
            (self._root / "rabbitmq.conf").write_text(
                f"listeners.tcp.default = 127.0.0.1:{self.port}\n"
                "loopback_users = none\n"
                # A test machine's disk may be nearly full: never block publishers for it.
                "disk_free_limit.absolute = 1\n"
            )
            (self._root / "enabled_plugins").write_text("[].\n")
            log = (self._root / f"server-{attempt}.log").open("wb")
            self._process = subprocess.Popen(
                [str(self._bin / "rabbitmq-server")],
                env=self._env,
                cwd=self._root,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            deadline = time.monotonic() + _START_TIMEOUT_S
            while time.monotonic() < deadline and self._process.poll() is None:
                try:
                    self.ctl("await_startup", "--timeout", "5", timeout_s=15)
                    return
                except (RabbitUnavailableError, subprocess.TimeoutExpired) as error:
                    last = str(error)
                    time.sleep(0.5)
            self._process.kill()
            self._process.wait()
            self._process = None
            last += (self._root / f"server-{attempt}.log").read_text(errors="replace")[-3000:]
        raise RabbitUnavailableError(f"RabbitMQ did not start after {_START_ATTEMPTS} attempts:\n{last}")

    def _environment(self, attempt: int, dist_port: int) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))}
        env.update(
            HOME=str(self._root),  # the Erlang cookie is made here
            RABBITMQ_NODENAME=f"eshop-test-{os.getpid()}-{attempt}@localhost",
            RABBITMQ_NODE_IP_ADDRESS="127.0.0.1",
            RABBITMQ_NODE_PORT=str(self.port),
            RABBITMQ_DIST_PORT=str(dist_port),
            ERL_EPMD_PORT=str(self._epmd_port),
            ERL_EPMD_ADDRESS="127.0.0.1",
            RABBITMQ_MNESIA_BASE=str(self._root / "mnesia"),
            RABBITMQ_LOG_BASE=str(self._root / "log"),
            RABBITMQ_CONFIG_FILE=str(self._root / "rabbitmq.conf"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(self._root / "enabled_plugins"),
            RABBITMQ_CONF_ENV_FILE=str(self._root / "rabbitmq-env.conf"),  # none: not /etc's
            RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}",
        )
        return env
