"""Site-wide pages: robots.txt, the health endpoint and status page, the error pages.

The home page shows campaigns, so it is campaigns.views.home: core imports no app.
"""

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from core.health import run_checks


@never_cache
@require_GET
def healthz(request):
    results, healthy = run_checks()
    return JsonResponse(results, status=200 if healthy else 503)


# What each health check means to a visitor (the keys of core.health.CHECKS).
STATUS_LABELS = {
    "database": (_("Website and database"), _("Pages, accounts, campaigns and pledges.")),
    "broker": (
        _("Background jobs"),
        _("Emails, and charging cards when a campaign ends."),
    ),
}


@never_cache
@require_GET
def status(request):
    """/healthz for people: the same checks on a page, without the error details."""
    results, healthy = run_checks()
    services = []
    for name, result in results.items():
        label, description = STATUS_LABELS.get(name, (name, ""))
        services.append({"label": label, "description": description, "ok": result == "ok"})
    return render(
        request,
        "status.html",
        {"services": services, "healthy": healthy, "checked_at": timezone.now()},
        status=200 if healthy else 503,
    )


@require_GET
def robots_txt(request):
    return HttpResponse("User-agent: *\nAllow: /\n", content_type="text/plain")


def page_not_found(request, exception=None):
    return render(request, "404.html", status=404)


def server_error(request):
    # No context processors that could fail again: render with the bare request only.
    # Only promise that someone was told when Django's mail_admins handler will tell them.
    notified = bool(settings.ADMINS) and not settings.DEBUG
    return render(request, "500.html", {"admins_notified": notified}, status=500)
