"""Pledges, payment attempts, the pledge flow and deadline settlement."""

from django.apps import AppConfig


class PledgesConfig(AppConfig):
    name = "pledges"
    verbose_name = "Pledges"

    def ready(self):
        from pledges import webhook_handlers  # noqa: F401  (registers Stripe event handlers)
