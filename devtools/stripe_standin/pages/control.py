"""Control endpoints for tests and benchmarks (`/_standin/…`): faults, stats, reset, keys.

GET  /_standin/faults              the switches now
POST /_standin/faults              set some (JSON object or form fields), e.g. drop_next=1
GET  /_standin/stats               counters (requests by endpoint, 429s, the double-charge
                                   and double-transfer detectors, webhook deliveries)
POST /_standin/reset               forget every object, key, fault and counter
POST /_standin/idempotency/expire  expire every stored idempotency key now
GET  /_standin/health              200 when it answers
"""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

from starlette.responses import HTMLResponse, JSONResponse

from ..faults import Faults
from . import page


def _standin(request):
    return request.app.state.standin


async def _values(request) -> dict:
    body = await request.body()
    if not body:
        return dict(request.query_params)
    if request.headers.get("content-type", "").startswith("application/json"):
        values = json.loads(body)
        if not isinstance(values, dict):
            raise ValueError("send a JSON object")
        return values
    return dict(parse_qsl(body.decode()))


@page("/_standin/faults", methods=("GET", "POST"))
async def faults(request):
    standin = _standin(request)
    if request.method == "POST":
        try:
            standin.faults_update(await _values(request))
        except ValueError as error:
            return JSONResponse({"error": str(error), "switches": Faults.names()}, status_code=400)
    return JSONResponse(standin.faults.switches.as_dict())


@page("/_standin/stats")
async def stats(request):
    return JSONResponse(_standin(request).stats_snapshot())


@page("/_standin/reset", methods=("POST",))
async def reset(request):
    _standin(request).reset()
    return JSONResponse({"reset": True})


@page("/_standin/idempotency/expire", methods=("POST",))
async def expire_keys(request):
    return JSONResponse({"expired": _standin(request).expire_idempotency_keys()})


@page("/_standin/health")
async def health(request):
    return JSONResponse({"ok": True})


@page("/")
async def index(request):
    return HTMLResponse(
        "<!doctype html><title>Stripe stand-in</title><h1>Groundswell's Stripe stand-in</h1>"
        "<p>A test-mode Stripe API for development and tests. Point the stripe SDK's API base "
        "here; Stripe.js is at <a href='/js.stripe.com/v3/'>/js.stripe.com/v3/</a>; "
        "<a href='/_standin/stats'>stats</a>, <a href='/_standin/faults'>faults</a>.</p>"
    )
