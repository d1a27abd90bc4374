"""The Stripe gateway, webhook endpoint and event store (the only code that imports stripe)."""

from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"
    verbose_name = "Payments"
