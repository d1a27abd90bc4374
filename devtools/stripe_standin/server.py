"""The HTTP door: an ASGI app served by uvicorn.

`/v1/…` goes straight to the dispatcher (`api.handle`) without a framework in between, because
it carries the load; everything else (control endpoints, Stripe.js, the 3-D Secure and Connect
onboarding pages) is a small Starlette app. Latency is awaited, never slept, so one slow answer
holds up no other; a dropped response closes the connection before a byte is sent, which the
SDK sees as a connection error (as when a network drops Stripe's answer).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from pathlib import Path

from starlette.applications import Starlette

from . import api, pages
from .state import Standin

logger = logging.getLogger("stripe_standin")


# Every this many API requests, what the store holds is moved out of the cyclic garbage
# collector's sight (gc.freeze): its objects live until a reset, and scanning a store of
# 100,000 objects on every full collection made each request slower as the store grew.
# Reference counting still frees them after a reset (they hold no cycles).
GC_FREEZE_EVERY = 5_000
SAVE_EVERY_S = 10  # how often the store is written to --state-file, when there is one


def create_app(standin: Standin, *, state_file: Path | None = None):
    site = Starlette(routes=pages.routes())
    site.state.standin = standin
    served = 0

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            await _lifespan(standin, receive, send, state_file)
            return
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await site(scope, receive, send)
            return
        nonlocal served
        served += 1
        if served % GC_FREEZE_EVERY == 0:
            gc.collect()  # first the garbage of the last requests, so none is frozen with it
            gc.freeze()
        body = await _read_body(receive)
        headers = {
            key.decode("latin-1"): value.decode("latin-1") for key, value in scope["headers"]
        }
        reply = api.handle(
            standin,
            scope["method"],
            scope["path"],
            query=scope.get("query_string", b"").decode("latin-1"),
            body=body,
            headers=headers,
        )
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.drop:
            await _drop_connection(send)
            return
        payload = reply.json()
        response_headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
            *((key.lower().encode(), value.encode()) for key, value in reply.headers.items()),
        ]
        await send(
            {"type": "http.response.start", "status": reply.status, "headers": response_headers}
        )
        await send({"type": "http.response.body", "body": payload})

    app.standin = standin
    app.site = site
    return app


async def _read_body(receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _drop_connection(send) -> None:
    """Close the connection without answering (uvicorn's protocol keeps the transport)."""
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise RuntimeError("cannot drop the connection: not running under uvicorn")
    transport.close()
    # Let uvicorn see the connection is gone, so it does not try to answer with a 500.
    for _ in range(3):
        await asyncio.sleep(0)


async def _lifespan(standin, receive, send, state_file):
    saver = None
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            standin.start()
            if state_file:
                saver = asyncio.create_task(_save_every(standin, state_file, SAVE_EVERY_S))
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if saver is not None:
                saver.cancel()
                standin.save(state_file)
            with contextlib.suppress(Exception):
                standin.stop()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _save_every(standin, state_file, seconds):
    """Keep the file close to the store, so a killed process loses seconds, not the store."""
    while True:
        await asyncio.sleep(seconds)
        await asyncio.to_thread(standin.save, state_file)


def serve(
    standin: Standin, host: str = "127.0.0.1", port: int = 8420, state_file: Path | None = None
) -> None:
    import uvicorn

    config = uvicorn.Config(
        create_app(standin, state_file=state_file),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_keep_alive=75,
    )
    uvicorn.Server(config).run()
