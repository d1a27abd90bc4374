"""Shared building blocks: health, money, state transitions, audit log, site chrome."""

from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Core"

    def ready(self):
        from django.db.backends.signals import connection_created

        from core.search import register_sqlite_functions

        # Discover's word search on SQLite needs its scoring function on every connection.
        connection_created.connect(register_sqlite_functions, dispatch_uid="core.search.sqlite")

        from core import checks

        checks.register()  # check --deploy: rate limits need a cache every process shares
