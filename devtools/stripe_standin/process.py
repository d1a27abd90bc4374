"""Starting a private stand-in server in its own process (tests, benchmarks, the browser suite),
and the helpers for any local server a test run starts (tests/localstripe_server.py uses them).

server = start(["--drop-next", "1"])   # free port, waits until it answers
server.set_faults(latency_ms=50); server.stats(); server.reset(); server.stop()
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
START_TIMEOUT_SECONDS = 20.0


class StandinUnavailable(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class ServerProcess:
    """A local server started for a test run: its process, its log, and how to stop it."""

    base_url: str
    process: subprocess.Popen
    log_path: Path
    _log: object = field(repr=False, default=None)
    scratch_dir: Path | None = None  # removed by stop()

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self._log is not None:
            self._log.close()
        if self.scratch_dir is not None:
            shutil.rmtree(self.scratch_dir, ignore_errors=True)


def spawn(server_class, command, port, *, log_path, cwd, env=None, scratch_dir=None):
    """Start `command` (which listens on `port`) with its output in `log_path`."""
    log = open(log_path, "wb")  # noqa: SIM115  (closed by stop())
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        start_new_session=True,  # Ctrl-C in the terminal reaches pytest, which stops it
    )
    return server_class(f"http://127.0.0.1:{port}", process, Path(log_path), log, scratch_dir)


def wait_until_answering(server: ServerProcess, path: str, timeout: float, name: str) -> str:
    """ "" when GET `path` answers before `timeout`, otherwise what went wrong."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            return f"{name} exited with {server.process.returncode}:\n{server.log_tail()}"
        try:
            with urllib.request.urlopen(f"{server.base_url}{path}", timeout=1):
                return ""
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.05)
    return f"{name} did not answer within {timeout:.0f}s:\n{server.log_tail()}"


def start_server(make, path: str, name: str, *, attempts: int, timeout: float):
    """make() spawns a server on a free port; retried because the port may be taken between
    probing and binding. Returns the server, or raises RuntimeError with what went wrong."""
    problem = ""
    for _ in range(attempts):
        server = make()
        problem = wait_until_answering(server, path, timeout, name)
        if not problem:
            return server
        server.stop()
    raise RuntimeError(problem)


@dataclass
class StandinServer(ServerProcess):
    # --- control -------------------------------------------------------------------------
    def control(self, method: str, path: str, values: dict | None = None) -> dict:
        data = json.dumps(values).encode() if values is not None else None
        request = urllib.request.Request(
            f"{self.base_url}/_standin/{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def set_faults(self, **switches) -> dict:
        return self.control("POST", "faults", switches)

    def stats(self) -> dict:
        return self.control("GET", "stats")

    def reset(self) -> dict:
        return self.control("POST", "reset", {})


def start(
    args: list[str] | None = None,
    *,
    port: int | None = None,
    attempts: int = 3,
    timeout: float = START_TIMEOUT_SECONDS,
    env: dict | None = None,
) -> StandinServer:
    def make():
        chosen = port or free_port()
        return spawn(
            StandinServer,
            [sys.executable, "-m", "devtools.stripe_standin", "--port", str(chosen), *(args or [])],
            chosen,
            log_path=tempfile.mkstemp(prefix="stripe-standin-", suffix=".log")[1],
            cwd=BASE_DIR,
            env=env,
        )

    try:
        return start_server(
            make,
            "/_standin/health",
            "the stand-in",
            attempts=1 if port else attempts,
            timeout=timeout,
        )
    except RuntimeError as error:
        raise StandinUnavailable(str(error)) from None
