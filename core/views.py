"""Site-wide pages: home, health endpoint, and the styled error pages."""

from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from core.health import run_checks


def home(request):
    return render(request, "home.html")


@never_cache
@require_GET
def healthz(request):
    results, healthy = run_checks()
    return JsonResponse(results, status=200 if healthy else 503)


def page_not_found(request, exception=None):
    return render(request, "404.html", status=404)


def server_error(request):
    # No context processors that could fail again: render with the bare request only.
    return render(request, "500.html", status=500)
