"""Shared building blocks: health, money, state transitions, audit log, site chrome."""

from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Core"
