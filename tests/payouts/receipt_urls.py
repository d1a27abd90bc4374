"""The site's URLs plus the receipt download, for tests/payouts/test_receipt_serving.py until
payouts/urls.py routes it."""

from django.urls import path

from config.urls import handler404, handler500
from config.urls import urlpatterns as site_urlpatterns
from payouts.receipt_views import receipt_file

urlpatterns = [
    path("payouts/<uuid:public_id>/receipts/<int:receipt_id>/", receipt_file, name="receipt"),
    *site_urlpatterns,
]

__all__ = ["handler404", "handler500", "urlpatterns"]
