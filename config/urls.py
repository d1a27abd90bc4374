"""Top-level URL map; each app owns its own urls module."""

import re

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path

from campaigns.views.home import home
from core import media
from core import views as core_views

urlpatterns = [
    path("", home, name="home"),
    path("healthz", core_views.healthz, name="healthz"),
    path("status/", core_views.status, name="status"),
    path("robots.txt", core_views.robots_txt, name="robots_txt"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("members/", include("members.urls")),
    path("payments/", include("payments.urls")),
    path("", include("campaigns.urls")),
    path("", include("pledges.urls")),
    path("", include("payouts.urls")),
]

# Uploaded covers and avatars, with DEBUG on or off (core.media; SERVE_MEDIA=false turns it off
# at request time). Not routed when MEDIA_URL points elsewhere (object storage, a CDN).
if settings.MEDIA_URL.startswith("/") and settings.MEDIA_URL.strip("/"):
    urlpatterns.insert(
        0,
        re_path(
            rf"^{re.escape(settings.MEDIA_URL.lstrip('/'))}(?P<path>.*)$",
            media.serve,
            name="media",
        ),
    )

handler404 = "core.views.page_not_found"
handler500 = "core.views.server_error"
