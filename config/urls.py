"""Top-level URL map; each app owns its own urls module."""

import re

from allauth.account.decorators import secure_admin_login
from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path

from campaigns.views.home import home
from core import media
from core import views as core_views

# The admin logs in through allauth's login, so its two-factor stage applies (members.middleware
# asks staff who can move money for a code on every other way in). Before admin.site.urls.
admin.site.login = secure_admin_login(admin.site.login)

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
    path("", include("community.urls")),
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
