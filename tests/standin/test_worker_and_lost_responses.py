"""The stand-in carries what settlement needs: a real Celery worker in its own process charging
a saved card through StripeGateway over HTTP, and a charge whose response was lost found again
by metadata search (never charged twice)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
import stripe
from celery import Celery
from django.conf import settings

from config.celery import configure
from payments.gateway import ChargeStatus, PaymentProviderError
from payments.stripe_gateway import StripeGateway
from tests.conftest import wait_for
from tests.stripe_fixtures import STANDIN_SECRET_KEY

BASE_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture
def standin(stripe_standin):
    stripe_standin.reset()
    return stripe_standin


def _gateway(server, retries=0):
    return StripeGateway(
        secret_key=STANDIN_SECRET_KEY,
        api_base=server.base_url,
        webhook_secret="whsec_unused",
        max_network_retries=retries,
        install_id="standin-tests",  # no database here: the customer's key needs none
    )


def _saved_card(gateway):
    tag = uuid.uuid4().hex[:8]
    customer = gateway.create_customer(f"{tag}@example.org", "Worker Test", f"standin-{tag}")
    card = gateway.attach_payment_method("pm_card_visa", customer.id)
    return customer.id, card.id


def test_a_celery_worker_process_charges_a_saved_card_through_the_standin(
    standin, tmp_path, monkeypatch
):
    customer_id, card_id = _saved_card(_gateway(standin))
    env = {
        **os.environ,
        "GROUNDSWELL_VAR_DIR": str(tmp_path),
        "CELERY_BROKER_URL": "filesystem://",
        "STRIPE_API_BASE": standin.base_url,
        "STRIPE_SECRET_KEY": STANDIN_SECRET_KEY,
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool=solo",
            "--without-gossip",
            "--without-mingle",
            "--loglevel=INFO",
            "--include",
            "tests.standin.worker_tasks",
        ],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        # The worker's own broker, the embedded default (Celery prefers CELERY_BROKER_URL
        # from the environment, which CI points at Redis).
        monkeypatch.setenv("CELERY_BROKER_URL", "filesystem://")
        app = Celery("standin-worker-test")
        app.config_from_object("django.conf:settings", namespace="CELERY")
        app.conf.broker_url = "filesystem://"
        # The worker's broker folder (its GROUNDSWELL_VAR_DIR), not this process's.
        configure(
            app,
            SimpleNamespace(
                CELERY_BROKER_FILESYSTEM_FOLDER=tmp_path / "celery-broker",
                TIME_ZONE=settings.TIME_ZONE,
                SETTLEMENT_SWEEP_SECONDS=settings.SETTLEMENT_SWEEP_SECONDS,
                PAYOUT_SWEEP_SECONDS=settings.PAYOUT_SWEEP_SECONDS,
                COMMUNITY_SWEEP_SECONDS=settings.COMMUNITY_SWEEP_SECONDS,
            ),
        )
        app.send_task(
            "standin_tests.charge_saved_card",
            args=[
                customer_id,
                card_id,
                2_500,
                "EUR",
                "worker-test-attempt-1",
                {"pledge_id": "w-1"},
            ],
        )
        charged = wait_for(
            lambda: standin.stats()["succeeded_payment_intents_by_pledge"].get("w-1") == 1,
            timeout=30,
            interval=0.1,
        )
        assert charged, "the worker never charged the card"
        stats = standin.stats()
        assert stats["requests"].get("POST /v1/payment_intents") == 1
        assert stats["double_charged_pledges"] == []
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            output, _ = worker.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            output, _ = worker.communicate()
    assert b"standin_tests.charge_saved_card" in output and b"succeeded" in output, output[-3000:]


def test_a_charge_whose_response_was_lost_is_found_by_metadata_search(standin):
    gateway = _gateway(standin, retries=0)
    customer_id, card_id = _saved_card(gateway)
    standin.set_faults(drop_next=1)
    key, metadata = "lost-response-attempt-1", {"pledge_id": "lost-1", "attempt": "1"}

    with pytest.raises(PaymentProviderError) as lost:
        gateway.charge_saved_card(customer_id, card_id, 1_200, "EUR", key, metadata)
    assert lost.value.retryable, "a lost response is worth retrying with the same key"

    # Reconciliation: the charge happened, and metadata search finds it.
    client = stripe.StripeClient(STANDIN_SECRET_KEY, base_addresses={"api": standin.base_url})
    found = client.v1.payment_intents.search(params={"query": "metadata['pledge_id']:'lost-1'"})
    assert [(pi.status, pi.amount) for pi in found.data] == [("succeeded", 1_200)]

    # The same idempotency key replays that charge instead of making a second one.
    again = gateway.charge_saved_card(customer_id, card_id, 1_200, "EUR", key, metadata)
    assert (again.id, again.status) == (found.data[0].id, ChargeStatus.SUCCEEDED)
    stats = standin.stats()
    assert stats["dropped_responses"] == 1 and stats["idempotent_replays"] == 1
    assert stats["succeeded_payment_intents_by_pledge"] == {"lost-1": 1}


def test_the_sdk_retries_a_lost_response_into_the_stored_result(standin):
    gateway = _gateway(standin, retries=2)
    customer_id, card_id = _saved_card(gateway)
    standin.set_faults(drop_next=1)
    charge = gateway.charge_saved_card(
        customer_id, card_id, 700, "EUR", "sdk-retry-attempt-1", {"pledge_id": "retry-1"}
    )
    assert charge.status == ChargeStatus.SUCCEEDED
    assert standin.stats()["succeeded_payment_intents_by_pledge"] == {"retry-1": 1}


def test_search_can_lag_behind_new_charges(standin):
    gateway = _gateway(standin)
    customer_id, card_id = _saved_card(gateway)
    standin.set_faults(search_lag_s=60)
    charge = gateway.charge_saved_card(
        customer_id, card_id, 900, "EUR", "lag-attempt-1", {"pledge_id": "lag-1"}
    )
    client = stripe.StripeClient(STANDIN_SECRET_KEY, base_addresses={"api": standin.base_url})
    query = {"query": "metadata['pledge_id']:'lag-1'"}
    assert client.v1.payment_intents.search(params=query).data == []  # not indexed yet
    assert client.v1.payment_intents.retrieve(charge.id).status == "succeeded"  # but it exists
    standin.set_faults(search_lag_s=0)
    assert [pi.id for pi in client.v1.payment_intents.search(params=query).data] == [charge.id]
