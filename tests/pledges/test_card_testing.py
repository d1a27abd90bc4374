"""The card-testing defence: what counts as a failure, who gets blocked, what a block does,
and that every process sees the same counters (FakeGateway, signed webhooks, HTTP)."""

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.urls import reverse

from core.errors import DomainError
from payments.gateway import PaymentDeclined, PaymentProviderError
from pledges import services, throttle
from pledges.models import Pledge, PledgeFailure
from tests.factories import CampaignFactory, MemberFactory, PledgeFactory, RewardTierFactory
from tests.stripe_fixtures import stripe_event

pytestmark = pytest.mark.django_db

DECLINED_CARD = "pm_card_visa_chargeDeclined"


def start(campaign, supporter, gateway, *, ip="10.0.0.1", **overrides):
    values = {"amount_minor": 2_000, "reward": None}
    values.update(overrides)
    return services.start_pledge(campaign, supporter=supporter, ip=ip, gateway=gateway, **values)


def decline_in_browser(gateway, pledge):
    """The card form: Stripe.js tries a declined card on the pledge's SetupIntent."""
    with pytest.raises(PaymentDeclined):
        gateway.confirm_setup_intent(pledge.setup_intent_id, DECLINED_CARD)


def active_pledge(gateway, supporter, campaign=None):
    """An active pledge with a card saved through the gateway."""
    pledge = start(campaign or CampaignFactory(live=True), supporter, gateway)
    gateway.confirm_setup_intent(pledge.setup_intent_id)
    return services.confirm_card(pledge, by=supporter, gateway=gateway)


# --- declines reported through the confirm calls ------------------------------------------
def test_each_card_declined_on_the_card_page_is_a_failure_and_five_block(
    fake_gateway, client, supporter, campaign
):
    """Stripe lets one SetupIntent try card after card: every refused card counts."""
    pledge = start(campaign, supporter, fake_gateway)
    client.force_login(supporter)
    confirm = reverse("pledges:confirm", args=[pledge.public_id])
    for attempt in range(5):
        decline_in_browser(fake_gateway, pledge)
        response = client.post(
            confirm, {"setup_intent": pledge.setup_intent_id}, REMOTE_ADDR="203.0.113.9"
        )
        assert response.status_code == 400
        assert "try another card" in response.json()["error"]
        assert PledgeFailure.objects.count() == attempt + 1
    failure = PledgeFailure.objects.first()
    assert (failure.member, failure.ip, failure.campaign) == (supporter, "203.0.113.9", campaign)
    assert (failure.kind, failure.setup_intent_id) == ("declined", pledge.setup_intent_id)
    assert throttle.is_blocked(member=supporter, ip="")
    # The card page no longer shows a usable form.
    page = client.get(reverse("pledges:card", args=[pledge.public_id]))
    assert page.status_code == 302 and "_secret_" not in page.content.decode()


def test_a_decline_reported_twice_is_counted_once_and_the_ip_is_added(
    fake_gateway,
    supporter,
    campaign,
    post_stripe_webhook,
    celery_eager,
    django_capture_on_commit_callbacks,
):
    # Started with no known IP (the webhook otherwise takes the IP its form was issued to).
    pledge = start(campaign, supporter, fake_gateway, ip="")
    decline_in_browser(fake_gateway, pledge)
    intent = fake_gateway.setup_intents[pledge.setup_intent_id]
    event = stripe_event(
        "setup_intent.setup_failed",
        {
            "id": intent.id,
            "object": "setup_intent",
            "status": "requires_payment_method",
            "metadata": intent.metadata,
            "last_setup_error": {
                "code": "card_declined",
                "decline_code": intent.decline_code,
                "message": "Your card was declined.",
                "payment_method": {"id": intent.last_error_payment_method_id},
            },
        },
    )
    with django_capture_on_commit_callbacks(execute=True):
        answer = post_stripe_webhook(event)
        assert answer.status_code == 200, answer.content  # the webhook first: no IP
    assert PledgeFailure.objects.get().ip is None

    for _ in range(2):  # then the page's confirm call, twice
        with pytest.raises(DomainError, match="try another card"):
            services.confirm_card(pledge, by=supporter, ip="198.51.100.4", gateway=fake_gateway)
    failure = PledgeFailure.objects.get()
    assert (failure.ip, failure.setup_intent_id) == ("198.51.100.4", intent.id)
    assert failure.payment_method_id == intent.last_error_payment_method_id


def test_the_api_confirm_path_records_declines_through_the_service(
    fake_gateway, supporter, campaign
):
    """pledges.api.confirm calls services.confirm_card (without an IP until it passes one)."""
    pledge = start(campaign, supporter, fake_gateway)
    decline_in_browser(fake_gateway, pledge)
    with pytest.raises(DomainError):
        services.confirm_card(pledge, by=supporter, gateway=fake_gateway)
    assert PledgeFailure.objects.get().member == supporter


def test_a_card_declined_during_a_card_update_is_recorded_by_the_webhook(
    fake_gateway, supporter, post_stripe_webhook, celery_eager, django_capture_on_commit_callbacks
):
    pledge = active_pledge(fake_gateway, supporter)
    pledge = services.start_card_update(pledge, by=supporter, gateway=fake_gateway)
    event = stripe_event(
        "setup_intent.setup_failed",
        {
            "id": pledge.setup_intent_id,
            "object": "setup_intent",
            "status": "requires_payment_method",
            "metadata": {"pledge_id": str(pledge.pk), "purpose": "card_update"},
            "last_setup_error": {"code": "card_declined", "payment_method": {"id": "pm_x1"}},
        },
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert post_stripe_webhook(event).status_code == 200
    assert PledgeFailure.objects.get().setup_intent_id == pledge.setup_intent_id


def test_asking_for_a_new_card_form_counts_the_card_the_last_one_refused(
    fake_gateway, client, supporter, campaign
):
    """A client that never reports its declines still has each one counted."""
    pledge = start(campaign, supporter, fake_gateway)
    decline_in_browser(fake_gateway, pledge)
    client.force_login(supporter)
    client.post(reverse("pledges:card", args=[pledge.public_id]), REMOTE_ADDR="192.0.2.77")
    assert PledgeFailure.objects.get().ip == "192.0.2.77"
    assert Pledge.objects.get(pk=pledge.pk).setup_intent_id != pledge.setup_intent_id


# --- what is not a failure, and who is blocked --------------------------------------------
@pytest.mark.parametrize("amount_minor", [0, 50, 10_000_01, 500])
def test_form_errors_are_not_card_failures(fake_gateway, supporter, amount_minor):
    campaign = CampaignFactory(live=True)
    reward = RewardTierFactory(campaign=campaign, minimum_minor=1_000)  # 500 is below it
    neighbour = MemberFactory()
    for _ in range(django_settings.PLEDGE_FAILURES_BEFORE_BLOCK + 2):
        with pytest.raises(DomainError):
            start(campaign, supporter, fake_gateway, amount_minor=amount_minor, reward=reward)
    assert not PledgeFailure.objects.exists()
    # Both the member and a neighbour on the same network can still pledge a valid €20.
    assert start(campaign, supporter, fake_gateway, reward=reward).status == "pending"
    assert start(campaign, neighbour, fake_gateway, reward=reward).status == "pending"


def test_a_provider_refusing_a_request_is_not_a_card_failure(fake_gateway, supporter, campaign):
    from payments.services import ensure_customer

    ensure_customer(supporter, gateway=fake_gateway)
    fake_gateway.customers.clear()  # the SetupIntent is refused: resource_missing, not a card
    with pytest.raises(PaymentProviderError):
        start(campaign, supporter, fake_gateway)
    assert not PledgeFailure.objects.exists()


def record_declines(member, ip, count):
    for _ in range(count):
        throttle.record_failure(member=member, ip=ip, reason="Your card was declined.")


def test_one_members_failures_block_that_member_not_their_network(fake_gateway, campaign):
    tester, neighbour = MemberFactory(), MemberFactory()
    record_declines(tester, "10.9.9.9", django_settings.PLEDGE_FAILURES_BEFORE_BLOCK)
    with pytest.raises(DomainError, match="paused for an hour"):
        start(campaign, tester, fake_gateway, ip="10.9.9.9")
    with pytest.raises(DomainError, match="paused for an hour"):
        start(campaign, tester, fake_gateway, ip="192.0.2.1")  # the member, from anywhere
    assert start(campaign, neighbour, fake_gateway, ip="10.9.9.9").status == "pending"


def test_failures_from_several_members_block_the_ip(fake_gateway, campaign, settings):
    assert settings.PLEDGE_IP_BLOCK_MIN_MEMBERS == 3
    testers = [MemberFactory() for _ in range(3)]
    record_declines(testers[0], "10.8.8.8", 2)
    record_declines(testers[1], "10.8.8.8", 2)
    newcomer = MemberFactory()
    assert not throttle.is_blocked(member=newcomer, ip="10.8.8.8")  # two members: not yet
    record_declines(testers[2], "10.8.8.8", 1)
    with pytest.raises(DomainError, match="paused for an hour"):
        start(campaign, newcomer, fake_gateway, ip="10.8.8.8")
    assert start(campaign, newcomer, fake_gateway, ip="10.7.7.7").status == "pending"


def test_the_ip_threshold_follows_its_setting(settings):
    settings.PLEDGE_IP_BLOCK_MIN_MEMBERS = 2
    record_declines(MemberFactory(), "10.6.6.6", 3)
    record_declines(MemberFactory(), "10.6.6.6", 2)
    assert throttle.is_blocked(member=None, ip="10.6.6.6")


# --- a block cancels the blocked member's card forms ----------------------------------------
def test_a_block_cancels_the_members_open_setup_intents_after_commit(
    fake_gateway, supporter, celery_eager, django_capture_on_commit_callbacks
):
    pending = start(CampaignFactory(live=True), supporter, fake_gateway)
    updating = services.start_card_update(
        active_pledge(fake_gateway, supporter), by=supporter, gateway=fake_gateway
    )
    settled = active_pledge(fake_gateway, supporter)  # its SetupIntent succeeded: left alone
    others = start(CampaignFactory(live=True), MemberFactory(), fake_gateway)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        record_declines(supporter, "10.5.5.5", django_settings.PLEDGE_FAILURES_BEFORE_BLOCK)
    # Nothing is cancelled while the failure's transaction is still open.
    assert fake_gateway.setup_intents[pending.setup_intent_id].status == "requires_payment_method"
    for callback in callbacks:
        callback()

    status = {i.id: i.status for i in fake_gateway.setup_intents.values()}
    assert status[pending.setup_intent_id] == "canceled"
    assert status[updating.setup_intent_id] == "canceled"
    assert status[settled.setup_intent_id] == "succeeded"
    assert status[others.setup_intent_id] == "requires_payment_method"
    # The client secret in an open card page can no longer save a card.
    with pytest.raises(PaymentProviderError):
        fake_gateway.confirm_setup_intent(pending.setup_intent_id, "pm_card_visa")


def test_cancelling_is_best_effort_and_retries_an_outage(fake_gateway, supporter, caplog):
    pending = start(CampaignFactory(live=True), supporter, fake_gateway)
    fake_gateway.fail_next = 1
    with caplog.at_level(logging.WARNING), pytest.raises(PaymentProviderError):
        services.cancel_open_setup_intents(supporter, gateway=fake_gateway)  # the task retries
    assert "could not cancel" in caplog.text
    assert services.cancel_open_setup_intents(supporter, gateway=fake_gateway) == 1
    assert fake_gateway.setup_intents[pending.setup_intent_id].status == "canceled"
    assert services.cancel_open_setup_intents(supporter, gateway=fake_gateway) == 0


def test_the_card_page_and_try_another_card_refuse_while_blocked(fake_gateway, client, supporter):
    pledge = start(CampaignFactory(live=True), supporter, fake_gateway)
    record_declines(supporter, "", django_settings.PLEDGE_FAILURES_BEFORE_BLOCK)
    client.force_login(supporter)
    url = reverse("pledges:card", args=[pledge.public_id])
    for response in (client.get(url, follow=True), client.post(url, follow=True)):
        html = response.content.decode()
        assert "paused for an hour" in html and "_secret_" not in html
    assert Pledge.objects.get(pk=pledge.pk).setup_intent_id == pledge.setup_intent_id
    assert len(fake_gateway.setup_intents) == 1


# --- the card page's GET creates nothing -----------------------------------------------------
def test_loading_the_card_page_creates_no_setup_intent_and_spends_no_allowance(
    fake_gateway, client, supporter, settings
):
    pledge = start(CampaignFactory(live=True), supporter, fake_gateway)
    fake_gateway.cancel_setup_intent(pledge.setup_intent_id)  # e.g. failed 3-D Secure
    settings.PLEDGE_ATTEMPTS_PER_HOUR_MEMBER = 2  # the start above spent one
    client.force_login(supporter)
    url = reverse("pledges:card", args=[pledge.public_id])
    for _ in range(3):
        page = client.get(url)
        html = page.content.decode()
        assert page.status_code == 200 and "Try another card" in html
        assert "_secret_" not in html and 'id="card-form"' not in html
    assert len(fake_gateway.setup_intents) == 1
    assert Pledge.objects.get(pk=pledge.pk).setup_intent_id == pledge.setup_intent_id

    # The button POSTs: that creates the new SetupIntent, through the throttle.
    assert client.post(url)["Location"] == url
    fresh = Pledge.objects.get(pk=pledge.pk).setup_intent_id
    assert fresh != pledge.setup_intent_id and len(fake_gateway.setup_intents) == 2
    page = client.get(url).content.decode()
    assert 'id="card-form"' in page and fake_gateway.setup_intents[fresh].client_secret in page
    client.post(url)  # a third attempt this hour: over the allowance
    assert len(fake_gateway.setup_intents) == 2


# --- a card update detaches the card it replaced ---------------------------------------------
def update_card(gateway, pledge, supporter):
    pledge = services.start_card_update(pledge, by=supporter, gateway=gateway)
    gateway.confirm_setup_intent(pledge.setup_intent_id, "pm_card_mastercard")
    return services.confirm_card(pledge, by=supporter, gateway=gateway)


def test_updating_the_card_detaches_the_old_one_after_commit(
    fake_gateway, supporter, celery_eager, django_capture_on_commit_callbacks
):
    pledge = active_pledge(fake_gateway, supporter)
    old_card = pledge.payment_method_id
    with django_capture_on_commit_callbacks(execute=True):
        updated = update_card(fake_gateway, pledge, supporter)
    assert updated.payment_method_id != old_card
    assert fake_gateway.payment_methods[old_card].detached
    assert not fake_gateway.payment_methods[updated.payment_method_id].detached
    # The page's confirm and the webhook both arriving: the second is a no-op, detaches nothing.
    with django_capture_on_commit_callbacks(execute=True) as again:
        services.confirm_card(Pledge.objects.get(pk=pledge.pk), gateway=fake_gateway)
    assert again == []


def test_a_card_still_used_by_another_open_pledge_is_kept(fake_gateway, supporter):
    pledge = active_pledge(fake_gateway, supporter)
    PledgeFactory(supporter=supporter, payment_method_id=pledge.payment_method_id)
    assert not services.detach_replaced_card(
        supporter.pk, pledge.payment_method_id, gateway=fake_gateway
    )
    assert not fake_gateway.payment_methods[pledge.payment_method_id].detached


def test_a_failing_detach_never_fails_the_card_update(
    fake_gateway, supporter, monkeypatch, caplog, celery_eager, django_capture_on_commit_callbacks
):
    pledge = active_pledge(fake_gateway, supporter)

    def refused(payment_method_id):
        raise PaymentProviderError(code="resource_missing", detail="No such PaymentMethod")

    monkeypatch.setattr(fake_gateway, "detach_payment_method", refused)
    with caplog.at_level(logging.WARNING), django_capture_on_commit_callbacks(execute=True):
        updated = update_card(fake_gateway, pledge, supporter)
    assert Pledge.objects.get(pk=pledge.pk).payment_method_id == updated.payment_method_id
    assert "could not detach replaced card" in caplog.text
    # An outage is raised so that the task tries again later.
    fake_gateway.fail_next = 1
    monkeypatch.undo()
    with pytest.raises(PaymentProviderError):
        services.detach_replaced_card(supporter.pk, pledge.payment_method_id, gateway=fake_gateway)


# --- every process shares the counters -------------------------------------------------------
def test_the_embedded_default_cache_is_shared_between_processes():
    """A block set by another process (the worker handling a webhook) is seen here."""
    member = MemberFactory()
    assert not throttle.is_blocked(member=member, ip="")
    code = (
        "import django; django.setup(); from pledges import throttle; "
        f"throttle._block('member:{member.pk}')"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}
    env.pop("CACHE_URL", None)
    subprocess.run(  # noqa: S603 (our own interpreter and code)
        [sys.executable, "-c", code],
        check=True,
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        timeout=60,
    )
    assert throttle.is_blocked(member=member, ip="")


@pytest.mark.parametrize(
    "cache_url, warns",
    [
        ("locmemcache://", True),
        ("dummycache://", True),
        ("filecache:///tmp/groundswell-check", False),
        ("rediscache://127.0.0.1:6379/1", False),
    ],
)
def test_check_deploy_warns_about_a_per_process_cache(settings, cache_url, warns):
    import environ
    from django.core.checks import registry

    from core.checks import check_shared_cache

    settings.CACHES = {"default": environ.Env.cache_url_config(cache_url)}
    messages = registry.registry.run_checks(include_deployment_checks=True, tags=["caches"])
    ours = [m for m in messages if m.id == "groundswell.W001"]
    assert bool(ours) is warns
    assert check_shared_cache() == ours
    assert not [m for m in registry.registry.run_checks(tags=["caches"]) if m.id.startswith("gr")]


def test_the_default_cache_passes_the_deploy_check():
    """CI runs `check --deploy --fail-level WARNING` with the default CACHE_URL."""
    from core.checks import check_shared_cache

    if os.environ.get("CACHE_URL"):
        pytest.skip("CACHE_URL is set: the default is not in use")
    assert django_settings.CACHES["default"]["BACKEND"].endswith("FileBasedCache")
    assert check_shared_cache() == []
