"""Starting and stopping a private localstripe server for a test run (free port, own TMPDIR).

Used by the `localstripe` fixture (tests/stripe_fixtures.py); also usable from bench/ scripts.
Note: localstripe 1.15.10 pickles its store to a fixed /tmp/localstripe.pickle whatever
TMPDIR says; with --from-scratch it never reads that file back, so runs stay independent.
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
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
START_TIMEOUT_SECONDS = 20.0


class LocalStripeUnavailable(RuntimeError):
    pass


def binary_path() -> str | None:
    candidates = [
        os.environ.get("LOCALSTRIPE_BIN"),
        str(Path(sys.executable).with_name("localstripe")),
        str(BASE_DIR / ".venv" / "bin" / "localstripe"),
        shutil.which("localstripe"),
    ]
    return next((c for c in candidates if c and os.access(c, os.X_OK)), None)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LocalStripeServer:
    base_url: str
    process: subprocess.Popen
    workdir: Path
    _log: object = field(repr=False, default=None)

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = (self.workdir / "localstripe.log").read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

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
        shutil.rmtree(self.workdir, ignore_errors=True)


def start(*, timeout: float = START_TIMEOUT_SECONDS, attempts: int = 3) -> LocalStripeServer:
    """Start localstripe on a free port and wait until it answers; raise LocalStripeUnavailable."""
    binary = binary_path()
    if binary is None:
        raise LocalStripeUnavailable(
            "the localstripe program is not installed (pip install localstripe)"
        )
    problem = ""
    for _ in range(attempts):  # the free port may be taken between probing and binding
        server = _spawn(binary)
        problem = _wait_until_ready(server, timeout)
        if not problem:
            return server
        server.stop()
    raise LocalStripeUnavailable(problem)


def _spawn(binary: str) -> LocalStripeServer:
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="localstripe-"))
    log = open(workdir / "localstripe.log", "wb")  # noqa: SIM115  (closed by stop())
    env = {**os.environ, "TMPDIR": str(workdir)}
    process = subprocess.Popen(
        [binary, "--port", str(port), "--from-scratch"],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=workdir,
        start_new_session=True,  # Ctrl-C in the terminal reaches pytest, which stops it
    )
    return LocalStripeServer(f"http://127.0.0.1:{port}", process, workdir, log)


def _wait_until_ready(server: LocalStripeServer, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            return f"localstripe exited with {server.process.returncode}:\n{server.log_tail()}"
        try:
            with urllib.request.urlopen(f"{server.base_url}/js.stripe.com/v3/", timeout=1):
                return ""
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.05)
    return f"localstripe did not answer within {timeout:.0f}s:\n{server.log_tail()}"


# --- Talking to it directly (what Stripe.js or the Stripe dashboard would do) ---------------


def api(base_url, method, path, params=None, *, secret_key="sk_test_localstripe"):
    """One raw form-encoded API call; returns (HTTP status, decoded JSON body or None)."""
    data = urllib.parse.urlencode(_flatten(params or {})).encode() if params else None
    request = urllib.request.Request(
        f"{base_url.rstrip('/')}{path}",
        data=data if method != "GET" else None,
        method=method,
        headers={"Authorization": f"Bearer {secret_key}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read()
    try:
        return status, json.loads(body) if body else None
    except ValueError:
        return status, None


def register_webhook(base_url, name, url, secret, events=None):
    params = {"url": url, "secret": secret}
    if events:
        params["events"] = list(events)
    status, _ = api(base_url, "POST", f"/_config/webhooks/{name}", params)
    assert status == 200, f"registering the webhook failed with HTTP {status}"


def flush(base_url):
    api(base_url, "DELETE", "/_config/data")


def _flatten(params, prefix=""):
    """Stripe's form encoding: card[number]=…, events[]=…, metadata[key]=…"""
    items = []
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else str(key)
        if isinstance(value, dict):
            items.extend(_flatten(value, name))
        elif isinstance(value, list | tuple):
            items.extend((f"{name}[]", str(v)) for v in value)
        elif isinstance(value, bool):
            items.append((name, "true" if value else "false"))
        else:
            items.append((name, str(value)))
    return items
