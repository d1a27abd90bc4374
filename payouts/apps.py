"""Payout accounts, fee schedule, payout requests and the public ledger."""

from django.apps import AppConfig


class PayoutsConfig(AppConfig):
    name = "payouts"
    verbose_name = "Payouts"
