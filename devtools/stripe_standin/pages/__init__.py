"""The HTTP door's pages besides the API: control endpoints, Stripe.js, 3-D Secure, Connect
onboarding. Each module registers Starlette routes with `@page(path, methods)`; the server
collects them with `routes()`. A page reaches the store as `request.app.state.standin`.
"""

from __future__ import annotations

from starlette.routing import Route

_ROUTES: list[Route] = []


def page(path: str, methods=("GET",), name: str | None = None):
    def register(endpoint):
        _ROUTES.append(Route(path, endpoint, methods=list(methods), name=name))
        return endpoint

    return register


def routes() -> list[Route]:
    from . import control  # noqa: F401

    for module in ("stripejs", "onboarding"):  # the browser-facing pages, where present
        try:
            __import__(f"{__name__}.{module}")
        except ModuleNotFoundError as error:
            if error.name != f"{__name__}.{module}":
                raise
    return list(_ROUTES)
