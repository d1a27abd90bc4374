"""Campaigns, reward tiers, budgets, stretch goals, discovery and moderation."""

from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = "Campaigns"
