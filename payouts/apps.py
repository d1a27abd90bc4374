"""Payout accounts, payout requests and their review, transfers to organizers."""

from django.apps import AppConfig


class PayoutsConfig(AppConfig):
    name = "payouts"
    verbose_name = "Payouts"

    def ready(self):
        from payouts import disputes, webhook_handlers  # noqa: F401  (register event handlers)
