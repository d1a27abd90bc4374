"""Test-only URL map: the site's URLs plus payouts.urls, until config/urls.py includes them
(then this module and the `pytest.mark.urls` that names it go)."""

from django.urls import include, path

from config.urls import handler404, handler500
from config.urls import urlpatterns as site_urlpatterns

urlpatterns = [*site_urlpatterns, path("", include("payouts.urls"))]

__all__ = ["handler404", "handler500", "urlpatterns"]
