"""The pledge flow through its services, on the Stripe stand-in: set-up, activation, changes."""

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone

from core.errors import DomainError, NotPermitted
from core.models import AuditEvent
from payments.models import StripeCustomer
from pledges import services
from pledges.models import Pledge, PledgeFailure
from tests.factories import CampaignFactory, PledgeFactory, RewardTierFactory

pytestmark = [pytest.mark.django_db]


def start(campaign, supporter, **overrides):
    values = {"amount_minor": 1_000, "reward": None, "idempotency_key": "", "ip": "10.0.0.1"}
    values.update(overrides)
    return services.start_pledge(campaign, supporter=supporter, **values)


def test_pledge_becomes_active_once_the_card_is_confirmed(
    standin_settings, campaign, reward, supporter, confirm_in_browser
):
    pledge = start(campaign, supporter, amount_minor=1_000, reward=reward)
    assert pledge.status == Pledge.Status.PENDING
    assert pledge.setup_intent_id.startswith("seti_") and pledge.client_secret
    customer = StripeCustomer.objects.get(member=supporter)

    confirm_in_browser(pledge.setup_intent_id)
    active = services.confirm_card(pledge, setup_intent_id=pledge.setup_intent_id, by=supporter)
    assert active.status == Pledge.Status.ACTIVE
    assert active.payment_method_id.startswith("pm_") and active.activated_at
    # Calling again (the webhook arriving second) changes nothing.
    again = services.confirm_card(Pledge.objects.get(pk=pledge.pk), by=supporter)
    assert again.status == Pledge.Status.ACTIVE
    assert AuditEvent.objects.filter(target_id=str(pledge.pk), to_status="active").count() == 1
    # One customer per member, reused for the next pledge.
    other = CampaignFactory(live=True)
    start(other, supporter)
    assert StripeCustomer.objects.filter(member=supporter).get() == customer


def test_confirmation_email_states_the_funding_model(
    standin_settings,
    campaign,
    supporter,
    confirm_in_browser,
    django_capture_on_commit_callbacks,
    celery_eager,
):
    pledge = start(campaign, supporter, amount_minor=1_000)
    confirm_in_browser(pledge.setup_intent_id)
    with django_capture_on_commit_callbacks(execute=True):
        services.confirm_card(pledge, by=supporter)
    assert len(mail.outbox) == 1
    body = mail.outbox[0].body
    assert "€10.00" in body and "only if the campaign reaches its goal of €5,000" in body


def test_unconfirmed_card_does_not_activate(standin_settings, campaign, supporter):
    pledge = start(campaign, supporter)
    with pytest.raises(DomainError, match="not been confirmed"):
        services.confirm_card(pledge, by=supporter)
    assert Pledge.objects.get(pk=pledge.pk).status == Pledge.Status.PENDING


def test_same_idempotency_key_gives_the_same_pledge(standin_settings, campaign, supporter):
    first = start(campaign, supporter, idempotency_key="k-1")
    second = start(campaign, supporter, idempotency_key="k-1")
    assert first.pk == second.pk
    assert second.client_secret
    assert Pledge.objects.filter(supporter=supporter).count() == 1


def test_new_attempt_replaces_an_abandoned_pending_pledge(standin_settings, campaign, supporter):
    first = start(campaign, supporter, idempotency_key="a")
    second = start(campaign, supporter, idempotency_key="b")
    assert Pledge.objects.get(pk=first.pk).status == Pledge.Status.CANCELLED
    assert Pledge.objects.get(pk=second.pk).status == Pledge.Status.PENDING


@pytest.mark.parametrize(
    "amount, message",
    [
        (0, "above zero"),
        (50, "smallest pledge is €1.00"),
        (10_000_01, "largest pledge is €10,000.00"),
        (500, "at least €10.00"),  # below the reward's minimum
    ],
)
def test_bad_amounts_create_nothing(standin_settings, campaign, reward, supporter, amount, message):
    with pytest.raises(DomainError, match=message) as error:
        start(campaign, supporter, amount_minor=amount, reward=reward)
    assert error.value.field == "amount"
    assert not Pledge.objects.exists() and not StripeCustomer.objects.exists()
    # A mistyped amount is not card testing (test_card_testing.py): nothing is counted.
    assert not PledgeFailure.objects.exists()


def test_reward_of_another_campaign_is_refused(standin_settings, campaign, supporter):
    foreign = RewardTierFactory()
    with pytest.raises(DomainError, match="not part of this campaign"):
        start(campaign, supporter, amount_minor=5_000, reward=foreign)
    assert not Pledge.objects.exists()


def test_sold_out_reward_is_refused(standin_settings, campaign, supporter):
    limited = RewardTierFactory(campaign=campaign, quantity_limit=1, minimum_minor=1_000)
    PledgeFactory(campaign=campaign, reward=limited)
    with pytest.raises(DomainError, match="sold out"):
        start(campaign, supporter, amount_minor=1_000, reward=limited)


@pytest.mark.parametrize("status", ["draft", "in_review", "approved", "cancelled", "funded"])
def test_campaign_not_live_takes_no_pledges(standin_settings, supporter, status):
    campaign = CampaignFactory(live=True, status=status)
    with pytest.raises(DomainError, match="not taking pledges"):
        start(campaign, supporter)


def test_no_pledge_after_the_deadline_even_from_an_old_page(
    standin_settings, campaign, supporter, confirm_in_browser
):
    pledge = start(campaign, supporter)
    confirm_in_browser(pledge.setup_intent_id)
    campaign.deadline = timezone.now() - dt.timedelta(seconds=1)
    campaign.save()
    with pytest.raises(DomainError, match="ended"):
        services.confirm_card(pledge, by=supporter)
    assert Pledge.objects.get(pk=pledge.pk).status == Pledge.Status.CANCELLED
    with pytest.raises(DomainError, match="ended"):
        start(campaign, supporter, idempotency_key="late")


def test_organizer_cannot_pledge_to_own_campaign(standin_settings, campaign):
    with pytest.raises(DomainError, match="Organizers cannot pledge"):
        start(campaign, campaign.organizer)


def test_change_amount_and_reward_rechecks_limits(standin_settings, campaign, supporter):
    pledge = PledgeFactory(campaign=campaign, supporter=supporter, amount_minor=1_000)
    cheap = RewardTierFactory(campaign=campaign, minimum_minor=2_000, quantity_limit=5)
    scarce = RewardTierFactory(campaign=campaign, minimum_minor=2_000, quantity_limit=1)
    PledgeFactory(campaign=campaign, reward=scarce)

    changed = services.change_pledge(pledge, by=supporter, amount_minor=2_500, reward=cheap)
    assert (changed.amount_minor, changed.reward) == (2_500, cheap)
    with pytest.raises(DomainError, match="sold out"):
        services.change_pledge(pledge, by=supporter, amount_minor=2_500, reward=scarce)
    with pytest.raises(DomainError, match="at least"):
        services.change_pledge(pledge, by=supporter, amount_minor=1_500, reward=cheap)
    assert Pledge.objects.get(pk=pledge.pk).amount_minor == 2_500
    with pytest.raises(NotPermitted):
        services.change_pledge(pledge, by=campaign.organizer, amount_minor=3_000, reward=None)


def test_cancel_before_but_not_after_the_deadline(campaign, supporter):
    pledge = PledgeFactory(campaign=campaign, supporter=supporter)
    services.cancel_pledge(pledge, by=supporter)
    assert Pledge.objects.get(pk=pledge.pk).status == Pledge.Status.CANCELLED

    late = PledgeFactory(campaign=CampaignFactory(live=True), supporter=supporter)
    late.campaign.deadline = timezone.now() - dt.timedelta(minutes=1)
    late.campaign.save()
    with pytest.raises(DomainError, match="ended"):
        services.cancel_pledge(late, by=supporter)
    with pytest.raises(NotPermitted):
        services.cancel_pledge(PledgeFactory(campaign=campaign), by=supporter)


def test_update_card_swaps_the_payment_method(
    standin_settings, campaign, supporter, confirm_in_browser
):
    pledge = start(campaign, supporter)
    confirm_in_browser(pledge.setup_intent_id)
    pledge = services.confirm_card(pledge, by=supporter)
    old_card = pledge.payment_method_id

    pledge = services.start_card_update(pledge, by=supporter)
    confirm_in_browser(pledge.setup_intent_id)  # a new pm_ id each time
    updated = services.confirm_card(pledge, by=supporter)
    assert updated.status == Pledge.Status.ACTIVE
    assert updated.payment_method_id != old_card


def test_one_open_pledge_per_member_per_campaign(campaign, supporter):
    PledgeFactory(campaign=campaign, supporter=supporter)
    with pytest.raises(DomainError, match="already support"):
        start(campaign, supporter)


def test_cancelling_a_campaign_releases_its_pledges(
    campaign, supporter, django_capture_on_commit_callbacks, celery_eager
):
    from campaigns import services as campaign_services

    pledge = PledgeFactory(campaign=campaign, supporter=supporter)
    with django_capture_on_commit_callbacks(execute=True):
        campaign_services.cancel(campaign, by=campaign.organizer, reason="Venue fell through")
    assert Pledge.objects.get(pk=pledge.pk).status == Pledge.Status.RELEASED


def test_abandoned_pending_pledges_expire(campaign, supporter):
    old = PledgeFactory(campaign=campaign, supporter=supporter, status=Pledge.Status.PENDING)
    Pledge.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(hours=30))
    fresh = PledgeFactory(campaign=CampaignFactory(live=True), status=Pledge.Status.PENDING)
    assert services.expire_abandoned_pledges(older_than=dt.timedelta(hours=24)) == 1
    assert Pledge.objects.get(pk=old.pk).status == Pledge.Status.CANCELLED
    assert Pledge.objects.get(pk=fresh.pk).status == Pledge.Status.PENDING


def test_updating_the_card_is_throttled_too(standin_settings, campaign, supporter):
    pledge = PledgeFactory(campaign=campaign, supporter=supporter)
    from pledges import throttle

    for _ in range(5):
        throttle.record_failure(member=supporter, ip="10.7.7.7", campaign=campaign, reason="x")
    with pytest.raises(DomainError, match="paused for an hour"):
        services.start_card_update(pledge, by=supporter, ip="10.7.7.7")


def test_a_failing_email_does_not_undo_or_hide_an_activation(
    standin_settings,
    campaign,
    supporter,
    confirm_in_browser,
    monkeypatch,
    settings,
    django_capture_on_commit_callbacks,
):
    from campaigns import page_cache
    from core import emails
    from core.models import OutboundEmail

    settings.EMAIL_BACKEND = "tests.core.test_email_outbox.FailingBackend"
    forgotten = []
    monkeypatch.setattr(page_cache, "forget", lambda c: forgotten.append(c.pk))
    pledge = start(campaign, supporter)
    confirm_in_browser(pledge.setup_intent_id)
    with django_capture_on_commit_callbacks(execute=True):
        active = services.confirm_card(pledge, by=supporter)
    assert active.status == Pledge.Status.ACTIVE
    assert forgotten == [campaign.pk]
    # The confirmation waits in the outbox; the mail server being down costs it an attempt
    # (retried later, then shown to an admin), never the pledge.
    email = OutboundEmail.objects.get(key=f"pledge:{pledge.pk}:confirmed")
    with pytest.raises(emails.EmailNotSent):
        emails.deliver(email.pk)
    email.refresh_from_db()
    assert (email.status, email.attempts) == (OutboundEmail.Status.QUEUED, 1)
    assert Pledge.objects.get(pk=pledge.pk).status == Pledge.Status.ACTIVE
