"""Starting and stopping a private localstripe server for a test run (free port, own TMPDIR),
with the same process helpers as the stand-in (devtools/stripe_standin/process.py); `api()`
makes one raw form-encoded call to either, as Stripe.js or the dashboard would.

Used by the `localstripe` fixture (tests/stripe_fixtures.py); also usable from bench/ scripts.
Note: localstripe 1.15.10 pickles its store to a fixed /tmp/localstripe.pickle whatever
TMPDIR says; with --from-scratch it never reads that file back, so runs stay independent.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from devtools.stripe_standin import forms, process
from devtools.stripe_standin.process import free_port

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


@dataclass
class LocalStripeServer(process.ServerProcess):
    pass


def start(*, timeout: float = START_TIMEOUT_SECONDS, attempts: int = 3) -> LocalStripeServer:
    """Start localstripe on a free port and wait until it answers; raise LocalStripeUnavailable."""
    binary = binary_path()
    if binary is None:
        raise LocalStripeUnavailable(
            "the localstripe program is not installed (pip install localstripe)"
        )

    def make():
        port = free_port()
        workdir = Path(tempfile.mkdtemp(prefix="localstripe-"))
        return process.spawn(
            LocalStripeServer,
            [binary, "--port", str(port), "--from-scratch"],
            port,
            log_path=workdir / "localstripe.log",
            cwd=workdir,
            env={"TMPDIR": str(workdir)},
            scratch_dir=workdir,
        )

    try:
        return process.start_server(
            make, "/js.stripe.com/v3/", "localstripe", attempts=attempts, timeout=timeout
        )
    except RuntimeError as error:
        raise LocalStripeUnavailable(str(error)) from None


# --- Talking to it directly (what Stripe.js or the Stripe dashboard would do) ---------------


def api(base_url, method, path, params=None, *, secret_key="sk_test_localstripe"):
    """One raw form-encoded API call; returns (HTTP status, decoded JSON body or None)."""
    # localstripe reads lists as items[]=…; the stand-in and Stripe take both forms.
    data = forms.encode(params, empty_brackets=True).encode() if params else None
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
