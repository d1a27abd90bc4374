"""Demo data for the quick start, made through every app's services (the top floor: it may
import any app; no app imports it)."""

from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "demo"
    verbose_name = "Demo data"
