"""Test-only URL map: the site's URLs plus payouts.urls, the transparency pages and the concern
forms they show, under the `payouts` namespace, until payouts/urls.py routes them (then this
module and the `pytest.mark.urls` that names it go)."""

from django.urls import include, path

from config.urls import handler404, handler500
from config.urls import urlpatterns as site_urlpatterns
from payouts import public_views
from payouts import urls as payouts_urls
from tests.payouts.concern_urls import CONCERN_URLPATTERNS  # the forms the page shows members

transparency_urlpatterns = [
    path("c/<slug:slug>/money/", public_views.money, name="money"),
    path("c/<slug:slug>/money.csv", public_views.money_csv, name="money_csv"),
    path("transparency/", public_views.platform_totals, name="platform_totals"),
    *CONCERN_URLPATTERNS,
]

_routed = {pattern.name for pattern in payouts_urls.urlpatterns}

# One "payouts" namespace for both, as payouts/urls.py will have it; first, so that it is the
# one reversed now that config.urls includes payouts.urls under the same namespace.
urlpatterns = [
    path(
        "",
        include(
            (
                [
                    *payouts_urls.urlpatterns,
                    *(p for p in transparency_urlpatterns if p.name not in _routed),
                ],
                "payouts",
            )
        ),
    ),
    *site_urlpatterns,
]

__all__ = ["handler404", "handler500", "urlpatterns"]
