"""Every card form (SetupIntent) we issue is accounted for: a replaced one is cancelled at the
provider after commit, a block cancels every unfinished one the member (or the IP) was issued,
the webhook knows the IP each was issued to, and a blocked member cannot replay a key.

With real Stripe a declined SetupIntent goes back to requires_payment_method and its client
secret keeps working, so a card tester who kept the secrets of older card forms could go on
testing cards on them (FakeGateway behaves the same way)."""

import datetime as dt
import logging

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from core.errors import DomainError
from payments.gateway import PaymentDeclined, PaymentProviderError
from pledges import services, throttle
from pledges.models import Pledge, PledgeFailure
from tests.core.test_api_errors import assert_error_shape
from tests.factories import CampaignFactory, MemberFactory
from tests.stripe_fixtures import stripe_event

pytestmark = pytest.mark.django_db

DECLINED_CARD = "pm_card_visa_chargeDeclined"
OPEN = "requires_payment_method"


def start(campaign, supporter, gateway, *, ip="10.0.0.1", key="", **overrides):
    values = {"amount_minor": 2_000, "reward": None}
    values.update(overrides)
    return services.start_pledge(
        campaign, supporter=supporter, ip=ip, idempotency_key=key, gateway=gateway, **values
    )


def status_of(gateway, setup_intent_id):
    return gateway.setup_intents[setup_intent_id].status


def decline_in_browser(gateway, setup_intent_id):
    with pytest.raises(PaymentDeclined):
        gateway.confirm_setup_intent(setup_intent_id, DECLINED_CARD)


def active_pledge(gateway, supporter, campaign=None):
    pledge = start(campaign or CampaignFactory(live=True), supporter, gateway)
    gateway.confirm_setup_intent(pledge.setup_intent_id)
    return services.confirm_card(pledge, by=supporter, gateway=gateway)


def record_declines(member, ip, count):
    for _ in range(count):
        throttle.record_failure(member=member, ip=ip, reason="Your card was declined.")


# --- a replaced card form is cancelled -------------------------------------------------------
def test_try_another_card_cancels_the_replaced_form_after_commit(
    fake_gateway, supporter, campaign, celery_eager, django_capture_on_commit_callbacks
):
    pledge = start(campaign, supporter, fake_gateway)
    old = pledge.setup_intent_id
    decline_in_browser(fake_gateway, old)  # back to requires_payment_method: still usable
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.start_card_update(pledge, by=supporter, ip="10.0.0.1", gateway=fake_gateway)
    assert status_of(fake_gateway, old) == OPEN  # never from inside the transaction
    for callback in callbacks:
        callback()
    assert status_of(fake_gateway, old) == "canceled"
    with pytest.raises(PaymentProviderError):  # its client secret no longer tries cards
        fake_gateway.confirm_setup_intent(old, DECLINED_CARD)
    # The new form is the one that works, and saves the card.
    assert status_of(fake_gateway, pledge.setup_intent_id) == OPEN
    fake_gateway.confirm_setup_intent(pledge.setup_intent_id)
    assert services.confirm_card(pledge, by=supporter, gateway=fake_gateway).status == "active"


def test_updating_an_active_pledges_card_again_cancels_the_unused_form(
    fake_gateway, supporter, celery_eager, django_capture_on_commit_callbacks
):
    pledge = active_pledge(fake_gateway, supporter)
    saved = pledge.setup_intent_id
    with django_capture_on_commit_callbacks(execute=True):
        first = services.start_card_update(pledge, by=supporter, gateway=fake_gateway)
        first_form = first.setup_intent_id
        second = services.start_card_update(first, by=supporter, gateway=fake_gateway)
    assert status_of(fake_gateway, first_form) == "canceled"
    assert status_of(fake_gateway, saved) == "succeeded"  # the saved card's: nothing to cancel
    assert status_of(fake_gateway, second.setup_intent_id) == OPEN


def test_a_new_attempt_cancels_every_form_of_the_pending_pledge_it_replaces(
    fake_gateway, supporter, campaign, celery_eager, django_capture_on_commit_callbacks
):
    first = start(campaign, supporter, fake_gateway)
    forms = [first.setup_intent_id]
    with django_capture_on_commit_callbacks(execute=False):  # the worker was down meanwhile
        forms.append(
            services.start_card_update(first, by=supporter, gateway=fake_gateway).setup_intent_id
        )
    with django_capture_on_commit_callbacks(execute=True):
        again = start(campaign, supporter, fake_gateway, amount_minor=3_000)
    assert Pledge.objects.get(pk=first.pk).status == "cancelled"
    assert [status_of(fake_gateway, form) for form in forms] == ["canceled", "canceled"]
    assert status_of(fake_gateway, again.setup_intent_id) == OPEN


@pytest.mark.parametrize("how", ["expired", "cancelled", "released"])
def test_a_pending_pledge_that_closes_cancels_its_forms(
    fake_gateway, supporter, campaign, celery_eager, django_capture_on_commit_callbacks, how
):
    pledge = start(campaign, supporter, fake_gateway)
    with django_capture_on_commit_callbacks(execute=True):
        if how == "expired":
            later = timezone.now() + dt.timedelta(days=2)
            assert services.expire_abandoned_pledges(older_than=dt.timedelta(hours=24), now=later)
        elif how == "cancelled":
            services.cancel_pledge(pledge, by=supporter)
        else:
            services.release_pledges_for(campaign)
    assert Pledge.objects.get(pk=pledge.pk).status in ("cancelled", "released")
    assert status_of(fake_gateway, pledge.setup_intent_id) == "canceled"


def test_cancelling_replaced_forms_is_best_effort_and_retries_an_outage(
    fake_gateway, supporter, campaign, caplog
):
    pledge = start(campaign, supporter, fake_gateway)
    old = pledge.setup_intent_id
    services.start_card_update(pledge, by=supporter, gateway=fake_gateway)  # callbacks dropped
    fake_gateway.fail_next = 1
    with caplog.at_level(logging.WARNING), pytest.raises(PaymentProviderError):
        services.cancel_superseded_setup_intents(pledge.pk, gateway=fake_gateway)
    assert "could not cancel" in caplog.text
    assert services.cancel_superseded_setup_intents(pledge.pk, gateway=fake_gateway) == 1
    assert status_of(fake_gateway, old) == "canceled"
    calls = fake_gateway.calls
    assert services.cancel_superseded_setup_intents(pledge.pk, gateway=fake_gateway) == 0
    assert fake_gateway.calls == calls  # a finished form is not asked about again


def test_a_form_the_provider_no_longer_knows_is_logged_not_retried(
    fake_gateway, supporter, campaign, caplog
):
    pledge = start(campaign, supporter, fake_gateway)
    old = pledge.setup_intent_id
    services.start_card_update(pledge, by=supporter, gateway=fake_gateway)
    del fake_gateway.setup_intents[old]  # resource_missing: nothing to cancel, ever
    with caplog.at_level(logging.WARNING):
        assert services.cancel_superseded_setup_intents(pledge.pk, gateway=fake_gateway) == 0
    assert "could not cancel" in caplog.text
    calls = fake_gateway.calls
    assert services.cancel_superseded_setup_intents(pledge.pk, gateway=fake_gateway) == 0
    assert fake_gateway.calls == calls


# --- a block cancels every form the member was issued ---------------------------------------
def test_a_block_cancels_every_form_the_member_was_issued_not_just_the_current_ones(
    fake_gateway, supporter, campaign, celery_eager, django_capture_on_commit_callbacks
):
    """Request several card forms, keep each client secret, get blocked: none of them works."""
    pledge = start(campaign, supporter, fake_gateway)
    kept = [pledge.setup_intent_id]
    with django_capture_on_commit_callbacks(execute=False):  # replacements not cancelled yet
        for _ in range(2):
            decline_in_browser(fake_gateway, pledge.setup_intent_id)
            pledge = services.start_card_update(pledge, by=supporter, gateway=fake_gateway)
            kept.append(pledge.setup_intent_id)
        kept.append(start(CampaignFactory(live=True), supporter, fake_gateway).setup_intent_id)
    bystander = start(CampaignFactory(live=True), MemberFactory(), fake_gateway)
    assert [status_of(fake_gateway, form) for form in kept] == [OPEN] * 4

    with django_capture_on_commit_callbacks(execute=True):
        record_declines(supporter, "", django_settings.PLEDGE_FAILURES_BEFORE_BLOCK)
    assert [status_of(fake_gateway, form) for form in kept] == ["canceled"] * 4
    for form in kept:
        with pytest.raises(PaymentProviderError):
            fake_gateway.confirm_setup_intent(form, DECLINED_CARD)
    assert status_of(fake_gateway, bystander.setup_intent_id) == OPEN


def test_an_ip_block_cancels_the_forms_issued_to_that_ip(
    fake_gateway, campaign, celery_eager, django_capture_on_commit_callbacks
):
    """A tester's fresh account, which has not failed yet, loses its form too."""
    fresh_account = start(campaign, MemberFactory(), fake_gateway, ip="10.3.3.3")
    elsewhere = start(campaign, MemberFactory(), fake_gateway, ip="10.2.2.2")
    with django_capture_on_commit_callbacks(execute=True):
        for tester, count in zip([MemberFactory() for _ in range(3)], (2, 2, 1), strict=True):
            record_declines(tester, "10.3.3.3", count)
    assert throttle.is_blocked(member=None, ip="10.3.3.3")
    assert status_of(fake_gateway, fresh_account.setup_intent_id) == "canceled"
    assert status_of(fake_gateway, elsewhere.setup_intent_id) == OPEN


def test_a_form_issued_while_the_block_was_being_set_is_cancelled_at_once(
    fake_gateway, supporter, campaign, monkeypatch, celery_eager, django_capture_on_commit_callbacks
):
    """The throttle let the request through; the block landed while we were at the provider."""
    pledge = start(campaign, supporter, fake_gateway)
    create = fake_gateway.create_setup_intent

    def blocked_meanwhile(*args, **kwargs):
        intent = create(*args, **kwargs)
        throttle._block(f"member:{supporter.pk}")
        return intent

    monkeypatch.setattr(fake_gateway, "create_setup_intent", blocked_meanwhile)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(DomainError) as refused:
        services.start_card_update(pledge, by=supporter, gateway=fake_gateway)
    assert refused.value.code == "pledging_paused"
    assert {i.status for i in fake_gateway.setup_intents.values()} == {"canceled"}


def test_an_honest_supporter_whose_form_was_cancelled_tries_another_card(
    fake_gateway, client, supporter, campaign, celery_eager, django_capture_on_commit_callbacks
):
    pledge = start(campaign, supporter, fake_gateway)
    services.cancel_open_setup_intents(supporter, gateway=fake_gateway)  # e.g. a lifted block
    client.force_login(supporter)
    url = reverse("pledges:card", args=[pledge.public_id])
    assert "Try another card" in client.get(url).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url)["Location"] == url
    fresh = Pledge.objects.get(pk=pledge.pk).setup_intent_id
    page = client.get(url).content.decode()
    assert 'id="card-form"' in page and fake_gateway.setup_intents[fresh].client_secret in page
    fake_gateway.confirm_setup_intent(fresh)
    answer = client.post(
        reverse("pledges:confirm", args=[pledge.public_id]), {"setup_intent": fresh}
    )
    assert answer.status_code == 200 and Pledge.objects.get(pk=pledge.pk).status == "active"


# --- the webhook knows the IP each form was issued to ---------------------------------------
def setup_failed(pledge, setup_intent_id, refused_card):
    return stripe_event(
        "setup_intent.setup_failed",
        {
            "id": setup_intent_id,
            "object": "setup_intent",
            "status": OPEN,
            "metadata": {"pledge_id": str(pledge.pk), "purpose": "pledge"},
            "last_setup_error": {
                "code": "card_declined",
                "decline_code": "generic_decline",
                "message": "Your card was declined.",
                "payment_method": {"id": refused_card},
            },
        },
    )


def test_declines_reported_only_by_webhooks_from_three_members_on_one_ip_block_it(
    fake_gateway, campaign, post_stripe_webhook, celery_eager, django_capture_on_commit_callbacks
):
    """A tester calling Stripe.js directly never reports a decline to us: the webhook does."""
    assert django_settings.PLEDGE_IP_BLOCK_MIN_MEMBERS == 3
    for n, count in enumerate((2, 2, 1)):
        pledge = start(campaign, MemberFactory(), fake_gateway, ip="10.4.4.4")
        for card in range(count):
            event = setup_failed(pledge, pledge.setup_intent_id, f"pm_refused_{n}_{card}")
            with django_capture_on_commit_callbacks(execute=True):
                assert post_stripe_webhook(event).status_code == 200
    assert PledgeFailure.objects.count() == 5
    assert set(PledgeFailure.objects.values_list("ip", flat=True)) == {"10.4.4.4"}
    assert throttle.is_blocked(member=None, ip="10.4.4.4")
    with pytest.raises(DomainError, match="paused for an hour"):
        start(campaign, MemberFactory(), fake_gateway, ip="10.4.4.4")


def test_a_webhook_failure_carries_the_ip_its_form_was_issued_to(
    fake_gateway,
    supporter,
    campaign,
    post_stripe_webhook,
    celery_eager,
    django_capture_on_commit_callbacks,
):
    pledge = start(campaign, supporter, fake_gateway, ip="192.0.2.10")
    first = pledge.setup_intent_id
    second = services.start_card_update(
        pledge, by=supporter, ip="2001:db8::7", gateway=fake_gateway
    ).setup_intent_id
    for form in (second, first):  # the older one too: Stripe sends its failure late
        with django_capture_on_commit_callbacks(execute=True):
            answer = post_stripe_webhook(setup_failed(pledge, form, f"pm_for_{form}"))
        assert answer.status_code == 200
    ips = dict(PledgeFailure.objects.values_list("setup_intent_id", "ip"))
    assert ips == {first: "192.0.2.10", second: "2001:db8::7"}


# --- a blocked member cannot replay an Idempotency-Key --------------------------------------
def test_a_blocked_member_replaying_a_key_is_refused_like_any_attempt(
    fake_gateway, supporter, campaign
):
    pledge = start(campaign, supporter, fake_gateway, key="key-9")
    record_declines(supporter, "", django_settings.PLEDGE_FAILURES_BEFORE_BLOCK)
    with pytest.raises(DomainError) as refused:
        start(campaign, supporter, fake_gateway, key="key-9")
    assert refused.value.code == "pledging_paused"
    cache.delete(f"pledge-block:member:{supporter.pk}")  # the hour is over
    again = start(campaign, supporter, fake_gateway, key="key-9")
    assert (again.pk, again.replayed, again.client_secret) == (
        pledge.pk,
        True,
        pledge.client_secret,
    )


def test_a_blocked_members_replay_over_the_api_is_a_429_without_a_client_secret(
    fake_gateway, client, supporter, campaign
):
    client.force_login(supporter)
    body = {"campaign": campaign.slug, "amount_minor": 2_000, "currency": campaign.currency}

    def create():
        return client.post(
            reverse("pledges:api_list"),
            body,
            content_type="application/json",
            headers={"Idempotency-Key": "api-key-1"},
        )

    assert create().status_code == 201
    record_declines(supporter, "", django_settings.PLEDGE_FAILURES_BEFORE_BLOCK)
    replay = create()
    assert_error_shape(replay, 429, "pledging_paused")
    assert "_secret_" not in replay.content.decode()


def test_a_raced_replay_asks_the_provider_outside_the_transaction(
    fake_gateway, supporter, campaign, monkeypatch
):
    """The other request's pledge (same campaign) commits between our lookup and our insert:
    it is answered, not cancelled as a stale attempt, and with no database lock held."""
    from payments.services import ensure_customer

    real_check = throttle.check
    winner = {}

    def the_other_request_wins(*, member, ip):
        real_check(member=member, ip=ip)
        if not winner:
            intent = fake_gateway.create_setup_intent(
                ensure_customer(supporter, gateway=fake_gateway).customer_id
            )
            winner["pledge"] = Pledge.objects.create(
                campaign=campaign,
                supporter=supporter,
                amount_minor=2_000,
                currency=campaign.currency,
                idempotency_key="raced",
                idempotency_fingerprint=services.pledge_fingerprint(
                    campaign,
                    reward=None,
                    amount_minor=2_000,
                    public_name="",
                    anonymous=False,
                    message="",
                ),
                setup_intent_id=intent.id,
            )
            winner["secret"] = intent.client_secret

    depth_outside = len(connection.savepoint_ids)
    depths = []
    retrieve = fake_gateway.retrieve_setup_intent

    def watched_retrieve(setup_intent_id):
        depths.append(len(connection.savepoint_ids))
        return retrieve(setup_intent_id)

    monkeypatch.setattr(throttle, "check", the_other_request_wins)
    monkeypatch.setattr(fake_gateway, "retrieve_setup_intent", watched_retrieve)
    answer = start(campaign, supporter, fake_gateway, key="raced")
    assert answer.pk == winner["pledge"].pk and answer.replayed is True
    assert answer.client_secret == winner["secret"]
    assert Pledge.objects.get(pk=answer.pk).status == "pending"  # not replaced by itself
    assert depths == [depth_outside]  # no transaction of ours was open at the provider call


def test_an_older_forms_failure_without_metadata_is_found_by_its_id(
    fake_gateway,
    supporter,
    campaign,
    post_stripe_webhook,
    celery_eager,
    django_capture_on_commit_callbacks,
):
    pledge = start(campaign, supporter, fake_gateway, ip="192.0.2.11")
    older = pledge.setup_intent_id
    services.start_card_update(pledge, by=supporter, gateway=fake_gateway)
    event = setup_failed(pledge, older, "pm_refused_late")
    del event["data"]["object"]["metadata"]
    with django_capture_on_commit_callbacks(execute=True):
        assert post_stripe_webhook(event).status_code == 200
    failure = PledgeFailure.objects.get()
    assert (failure.member, failure.ip, failure.setup_intent_id) == (supporter, "192.0.2.11", older)


def test_an_address_that_is_not_an_ip_is_stored_as_unknown(fake_gateway, supporter, campaign):
    """A forwarded header may hold anything: PostgreSQL's inet would refuse it (a 500)."""
    from pledges.models import IssuedSetupIntent

    start(campaign, supporter, fake_gateway, ip="unknown")
    assert IssuedSetupIntent.objects.get().ip is None
    throttle.record_failure(member=supporter, ip="unknown", reason="Your card was declined.")
    assert PledgeFailure.objects.get().ip is None
    # And an IP block's clean-up never takes "no IP" for an address.
    assert services.cancel_open_setup_intents(None, ip="unknown", gateway=fake_gateway) == 0
    assert {i.status for i in fake_gateway.setup_intents.values()} == {OPEN}


def test_admins_see_a_pledges_card_forms_read_only(fake_gateway, admin_client, supporter, campaign):
    pledge = start(campaign, supporter, fake_gateway, ip="192.0.2.12")
    page = admin_client.get(reverse("admin:pledges_pledge_change", args=[pledge.pk]))
    assert page.status_code == 200
    assert pledge.setup_intent_id in page.content.decode() and "192.0.2.12" in page.content.decode()
    listing = admin_client.get(
        reverse("admin:pledges_issuedsetupintent_changelist"),
        {"finished_at__isempty": "1", "q": "192.0.2.12"},
    )
    assert listing.status_code == 200
    assert [form.setup_intent_id for form in listing.context["cl"].result_list] == [
        pledge.setup_intent_id
    ]
    add = reverse("admin:pledges_issuedsetupintent_add")
    assert admin_client.get(add).status_code == 403
