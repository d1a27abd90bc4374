"""Starting a private stand-in server in its own process (tests, benchmarks, the browser suite).

server = start(["--drop-next", "1"])   # free port, waits until it answers
server.set_faults(latency_ms=50); server.stats(); server.reset(); server.stop()
"""

from __future__ import annotations

import json
import os
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
class StandinServer:
    base_url: str
    process: subprocess.Popen
    log_path: Path
    _log: object = field(repr=False, default=None)

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


def start(
    args: list[str] | None = None,
    *,
    port: int | None = None,
    attempts: int = 3,
    timeout: float = START_TIMEOUT_SECONDS,
    env: dict | None = None,
) -> StandinServer:
    problem = ""
    for _ in range(attempts):  # a free port may be taken between probing and binding
        server = _spawn(list(args or []), port or free_port(), env)
        problem = _wait_until_ready(server, timeout)
        if not problem:
            return server
        server.stop()
        if port:
            break
    raise StandinUnavailable(problem)


def _spawn(args, port, env) -> StandinServer:
    log_path = Path(tempfile.mkstemp(prefix="stripe-standin-", suffix=".log")[1])
    log = open(log_path, "wb")  # noqa: SIM115  (closed by stop())
    process = subprocess.Popen(
        [sys.executable, "-m", "devtools.stripe_standin", "--port", str(port), *args],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=BASE_DIR,
        env={**os.environ, **(env or {})},
        start_new_session=True,  # Ctrl-C in the terminal reaches pytest, which stops it
    )
    return StandinServer(f"http://127.0.0.1:{port}", process, log_path, log)


def _wait_until_ready(server: StandinServer, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            return f"the stand-in exited with {server.process.returncode}:\n{server.log_tail()}"
        try:
            with urllib.request.urlopen(f"{server.base_url}/_standin/health", timeout=1):
                return ""
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.05)
    return f"the stand-in did not answer within {timeout:.0f}s:\n{server.log_tail()}"
