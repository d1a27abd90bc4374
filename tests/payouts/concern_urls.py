"""Test-only URL map: the site's URLs with payouts.urls and the concern views in the "payouts"
namespace, until payouts/urls.py routes the concern views and config/urls.py includes it
(then this module and the `pytest.mark.urls` that names it go)."""

from django.urls import include, path

from config.urls import handler404, handler500
from config.urls import urlpatterns as site_urlpatterns
from payouts import concern_views
from payouts import urls as payouts_urls

CONCERN_URLPATTERNS = [
    path(
        "payouts/<uuid:public_id>/concerns/",
        concern_views.raise_concern_view,
        name="raise_concern",
    ),
    path(
        "payouts/concerns/<int:pk>/answer/",
        concern_views.answer_concern_view,
        name="answer_concern",
    ),
    path(
        "payouts/concerns/<int:pk>/hide/",
        concern_views.hide_concern_view,
        name="hide_concern",
    ),
]
_routed = {pattern.name for pattern in payouts_urls.urlpatterns}

urlpatterns = [
    # First, so this "payouts" namespace is the one reversed if config.urls gains its own.
    path(
        "",
        include(
            (
                [
                    *payouts_urls.urlpatterns,
                    *(p for p in CONCERN_URLPATTERNS if p.name not in _routed),
                ],
                "payouts",
            )
        ),
    ),
    *site_urlpatterns,
]

__all__ = ["handler404", "handler500", "urlpatterns"]
