"""The supporter's consent to show the organizer their email address (for delivering a reward):
given or withdrawn on the pledge's page in every status after pending, also after the deadline
when rewards go out and the pledge itself can no longer change; audited each time; the initial
choice is in the "created" audit row."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign
from core.errors import DomainError, NotPermitted
from core.models import AuditEvent
from pledges import exports, services
from pledges.models import Pledge
from tests.factories import CampaignFactory, MemberFactory, PledgeFactory, RewardTierFactory

pytestmark = pytest.mark.django_db

Status = Pledge.Status


@pytest.fixture
def funded():
    """A campaign whose deadline has passed: pledges can no longer be changed or cancelled."""
    now = timezone.now()
    return CampaignFactory(
        status=Campaign.Status.FUNDED,
        launched_at=now - dt.timedelta(days=40),
        deadline=now - dt.timedelta(days=10),
    )


def consent_events(pledge):
    return list(
        AuditEvent.objects.filter(target_id=str(pledge.pk), action__startswith="email_consent:")
        .order_by("pk")
        .values_list("action", "actor_id")
    )


def shared_email(campaign, pledge):
    return exports.supporters_of(campaign).get(pk=pledge.pk).shared_email


@pytest.mark.parametrize(
    "status",
    [
        Status.ACTIVE,
        Status.CHARGING,
        Status.COLLECTED,
        Status.PARTIALLY_REFUNDED,
        Status.REFUNDED,
        Status.DROPPED,
        Status.RELEASED,
        Status.CANCELLED,
    ],
)
def test_the_supporter_gives_and_withdraws_consent_in_every_status_after_pending(funded, status):
    reward = RewardTierFactory(campaign=funded)
    # Cancelled after it was active: listed for the organizer (an abandoned attempt is not).
    pledge = PledgeFactory(
        campaign=funded, reward=reward, status=status, activated_at=timezone.now()
    )
    supporter = pledge.supporter
    assert not pledge.can_change  # the deadline has passed: the change form is gone

    services.set_email_consent(pledge, by=supporter, share=True)
    assert Pledge.objects.get(pk=pledge.pk).share_email_with_organizer is True
    assert shared_email(funded, pledge) == supporter.email

    services.set_email_consent(pledge, by=supporter, share=False)
    assert Pledge.objects.get(pk=pledge.pk).share_email_with_organizer is False
    assert consent_events(pledge) == [
        ("email_consent:given", supporter.pk),
        ("email_consent:withdrawn", supporter.pk),
    ]


def test_the_same_choice_again_changes_nothing(funded):
    pledge = PledgeFactory(campaign=funded, status=Status.COLLECTED)
    services.set_email_consent(pledge, by=pledge.supporter, share=False)  # it already is off
    assert consent_events(pledge) == []
    services.set_email_consent(pledge, by=pledge.supporter, share=True)
    services.set_email_consent(pledge, by=pledge.supporter, share=True)
    assert [action for action, _ in consent_events(pledge)] == ["email_consent:given"]


def test_a_pending_pledge_is_refused(campaign):
    pledge = PledgeFactory(campaign=campaign, status=Status.PENDING)
    with pytest.raises(DomainError, match="Add your card first"):
        services.set_email_consent(pledge, by=pledge.supporter, share=True)
    assert Pledge.objects.get(pk=pledge.pk).share_email_with_organizer is False
    assert consent_events(pledge) == []


def test_only_the_pledges_own_supporter_decides(funded):
    pledge = PledgeFactory(
        campaign=funded, status=Status.COLLECTED, share_email_with_organizer=True
    )
    for someone_else in (MemberFactory(), funded.organizer):
        with pytest.raises(NotPermitted):
            services.set_email_consent(pledge, by=someone_else, share=False)
    assert Pledge.objects.get(pk=pledge.pk).share_email_with_organizer is True


def test_the_initial_choice_is_in_the_created_audit_row(fake_gateway, campaign, supporter):
    for share, member in ((True, supporter), (False, MemberFactory())):
        pledge = services.start_pledge(
            campaign,
            supporter=member,
            amount_minor=2_000,
            share_email_with_organizer=share,
            gateway=fake_gateway,
        )
        (created,) = AuditEvent.objects.filter(target_id=str(pledge.pk), action="created")
        expected = "yes" if share else "no"
        assert created.note == f"email shared with the organizer: {expected}"


def test_a_replay_of_the_same_key_keeps_the_first_choice(fake_gateway, campaign, supporter):
    def start(share):
        return services.start_pledge(
            campaign,
            supporter=supporter,
            amount_minor=2_000,
            share_email_with_organizer=share,
            idempotency_key="key-1",
            gateway=fake_gateway,
        )

    first = start(True)
    again = start(False)  # not a term of the key: the first request's answer, as Stripe does
    assert again.pk == first.pk and again.replayed is True
    assert Pledge.objects.get(pk=first.pk).share_email_with_organizer is True


# --- on the pledge's page -----------------------------------------------------------------------
def test_after_the_deadline_the_page_withdraws_and_gives_consent(client, funded):
    pledge = PledgeFactory(
        campaign=funded,
        reward=RewardTierFactory(campaign=funded),
        status=Status.COLLECTED,
        share_email_with_organizer=True,
    )
    detail = reverse("pledges:detail", args=[pledge.public_id])
    consent = reverse("pledges:email_consent", args=[pledge.public_id])
    client.force_login(pledge.supporter)

    page = client.get(detail).content.decode()
    assert consent in page and "Stop sharing my email with the organizer" in page
    assert pledge.supporter.email in page
    response = client.post(consent, {"share": "0"}, follow=True)
    assert response.redirect_chain == [(detail, 302)]
    page = response.content.decode()
    assert "no longer shown to the organizer" in page
    assert "Share my email with the organizer for reward delivery" in page
    assert shared_email(funded, pledge) == ""

    # What the organizer's list and CSV show follows at once.
    client.force_login(funded.organizer)
    listed = client.get(reverse("community:supporters", args=[funded.pk])).content.decode()
    assert pledge.supporter.email not in listed

    client.force_login(pledge.supporter)
    page = client.post(consent, {"share": "1"}, follow=True).content.decode()
    assert "can now see your email address" in page
    assert shared_email(funded, pledge) == pledge.supporter.email
    assert [action for action, _ in consent_events(pledge)] == [
        "email_consent:withdrawn",
        "email_consent:given",
    ]


def test_the_page_offers_it_after_pending_only(client, campaign):
    pending = PledgeFactory(campaign=campaign, status=Status.PENDING)
    client.force_login(pending.supporter)
    page = client.get(reverse("pledges:detail", args=[pending.public_id])).content.decode()
    assert reverse("pledges:email_consent", args=[pending.public_id]) not in page
    response = client.post(
        reverse("pledges:email_consent", args=[pending.public_id]), {"share": "1"}, follow=True
    )
    assert "Add your card first" in response.content.decode()
    assert Pledge.objects.get(pk=pending.pk).share_email_with_organizer is False

    active = PledgeFactory(campaign=campaign, status=Status.ACTIVE)
    client.force_login(active.supporter)
    page = client.get(reverse("pledges:detail", args=[active.public_id])).content.decode()
    assert reverse("pledges:email_consent", args=[active.public_id]) in page


def test_someone_elses_pledge_is_a_404_and_a_get_is_refused(client, funded):
    pledge = PledgeFactory(campaign=funded, status=Status.COLLECTED)
    url = reverse("pledges:email_consent", args=[pledge.public_id])
    client.force_login(MemberFactory())
    assert client.post(url, {"share": "1"}).status_code == 404
    client.force_login(pledge.supporter)
    assert client.get(url).status_code == 405
    assert Pledge.objects.get(pk=pledge.pk).share_email_with_organizer is False
