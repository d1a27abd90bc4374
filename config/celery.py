"""The Celery app: broker from settings, safe defaults for tasks that move money.

Tasks are written to be idempotent, so a message is acknowledged only after the task ran
(`task_acks_late`) and is put back if the worker dies mid-task (`task_reject_on_worker_lost`);
the two only make sense together.
"""

import os
from datetime import timedelta

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("groundswell")
app.config_from_object("django.conf:settings", namespace="CELERY")


def filesystem_transport_options(folder):
    """Broker options for kombu's server-less filesystem transport (the embedded default)."""
    queue, processed, control = (
        os.path.join(folder, part) for part in ("queue", "processed", "control")
    )
    for path in (queue, processed, control):
        os.makedirs(path, exist_ok=True)
    return {
        "data_folder_in": queue,
        "data_folder_out": queue,
        "processed_folder": processed,
        "control_folder": control,
        "store_processed": False,
    }


def configure(celery_app, django_settings):
    broker_url = celery_app.conf.broker_url or ""
    transport_options = {}
    if broker_url.startswith("filesystem://"):
        transport_options = filesystem_transport_options(
            str(django_settings.CELERY_BROKER_FILESYSTEM_FOLDER)
        )
    celery_app.conf.update(
        broker_transport_options=transport_options,
        broker_connection_retry_on_startup=True,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_time_limit=300,
        task_soft_time_limit=240,
        task_ignore_result=celery_app.conf.result_backend is None,
        timezone=django_settings.TIME_ZONE,
        # Charges (and their reconciliation) have their own queue and worker, so settling a
        # large campaign never starves webhook processing, card confirmations or email.
        task_default_queue="celery",
        task_routes={
            "pledges.charge_pledge": {"queue": "charges"},
            "pledges.reconcile_attempt": {"queue": "charges"},
            "payouts.transfer_payout": {"queue": "charges"},
        },
        beat_schedule={
            "settlement-sweep": {
                "task": "pledges.settlement_sweep",
                "schedule": timedelta(seconds=django_settings.SETTLEMENT_SWEEP_SECONDS),
            },
            "payout-sweep": {
                "task": "payouts.payout_sweep",
                "schedule": timedelta(seconds=django_settings.PAYOUT_SWEEP_SECONDS),
            },
            "community-sweep": {
                "task": "community.sweep",
                "schedule": timedelta(seconds=django_settings.COMMUNITY_SWEEP_SECONDS),
            },
            # Proves beat and a worker are alive; settlement and payout sweeps join here.
            "worker-heartbeat": {"task": "core.tasks.heartbeat", "schedule": crontab(minute="*/5")},
            # Outbox emails whose task message was lost, or whose run died mid-send.
            "send-queued-emails": {"task": "core.tasks.send_queued_emails", "schedule": crontab()},
            "expire-abandoned-pledges": {
                "task": "pledges.expire_abandoned_pledges",
                "schedule": crontab(minute=17),
            },
        },
    )


from django.conf import settings  # noqa: E402  (needs DJANGO_SETTINGS_MODULE set above)

configure(app, settings)
app.autodiscover_tasks()
