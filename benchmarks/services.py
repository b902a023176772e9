"""Start, watch and stop the server subprocesses (services and echo servers)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

REPO_ROOT = Path(__file__).resolve().parents[1]
SRC = REPO_ROOT / "src"
STOP_TIMEOUT_S = 10.0


def throwaway_cluster() -> Any:
    """A throwaway PostgreSQL cluster (tests/support/postgres_cluster.py: the server binaries, fsync off,
    as the tests' own), for ``--postgres``."""
    sys.path.insert(0, str(REPO_ROOT))
    from tests.support.postgres_cluster import ThrowawayCluster

    return ThrowawayCluster()


def free_port() -> int:
    """An ephemeral port that was free a moment ago (a small race we accept for a benchmark)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def process_cpu_s(pid: int) -> float | None:
    """CPU seconds (user + system, all threads) a process has used so far; None where /proc is missing."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # the command name, in parentheses, may contain spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def child_env(extra: Mapping[str, str]) -> dict[str, str]:
    """The parent's environment, with ``src`` and the repo root importable and quiet logs."""
    env = dict(os.environ)
    paths = [str(SRC), str(REPO_ROOT), env.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    env["ESHOP_LOG_LEVEL"] = "WARNING"  # per-call INFO lines would dominate what we measure
    env.update(extra)
    return env


@dataclass
class ServerProcess:
    """One server subprocess; its stderr goes to ``log_path`` (read back when it fails)."""

    name: str
    address: str
    process: subprocess.Popen[bytes]
    log_path: Path
    _log: IO[bytes] = field(repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def wait_until_serving(self, timeout_s: float = 60.0) -> None:
        """Poll grpc.health.v1 until SERVING; fail early if the process dies."""
        deadline = time.monotonic() + timeout_s
        with grpc.insecure_channel(self.address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"{self.name} exited ({self.process.returncode}):\n{self.log_tail()}")
                try:
                    reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1.0)
                    if reply.status == health_pb2.HealthCheckResponse.SERVING:
                        return
                except grpc.RpcError:
                    pass
                time.sleep(0.1)
        raise TimeoutError(f"{self.name} not SERVING after {timeout_s} s:\n{self.log_tail()}")

    def stop(self) -> None:
        """SIGTERM (graceful stop), then SIGKILL if it does not go."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


def spawn(name: str, code: str, env: Mapping[str, str], address: str, log_dir: Path) -> ServerProcess:
    """Run ``python -c code`` with ``env`` added to a quiet child environment."""
    log_path = log_dir / f"{name}.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-c", code], env=child_env(env), stdout=log, stderr=subprocess.STDOUT, cwd=log_dir
    )
    return ServerProcess(name, address, process, log_path, log)


def stop_all(servers: Sequence[ServerProcess]) -> None:
    for server in reversed(servers):
        server.stop()
