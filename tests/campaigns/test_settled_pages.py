"""Campaign pages after the deadline, with settlement driven through the real services against the
in-process Stripe stand-in: the honest figures on the campaign page (settling, funded with a
drop, failed all or nothing), cards of ended campaigns in Discover and on profiles, and the
organizer's payment-recovery page (who may see it, what it says, the reminder button)."""

import html as html_lib
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign, Collaborator, FundingModel
from campaigns.templatetags.campaign_public import deadline_date
from core.models import AuditEvent, OutboundEmail
from pledges import services, settlement
from pledges.models import PaymentAttempt, Pledge
from tests.factories import CampaignFactory, MemberFactory

pytestmark = pytest.mark.django_db(transaction=True)

Status = Pledge.Status
DECLINES_WHEN_CHARGED = "pm_card_chargeCustomerFail"
NEEDS_AUTHENTICATION = "pm_card_authenticationRequired"


# --- settlement through the services (as tests/pledges/test_settlement.py drives it) ----------
@pytest.fixture
def gateway(monkeypatch, celery_eager, settings):
    """Our in-memory provider as the configured one, tasks run at .delay()."""
    from devtools.stripe_standin.inprocess import FakeGateway
    from tests.stripe_fixtures import TEST_WEBHOOK_SECRET

    settings.REDIS_URL = ""
    settings.CHARGE_RATE_PER_SECOND = 1000
    fake = FakeGateway(webhook_secret=TEST_WEBHOOK_SECRET)
    monkeypatch.setattr("payments.gateway._gateway_for", lambda *settings: fake)
    return fake


def pledge_with_card(gateway, campaign, *, card="pm_card_visa", amount=2_000, **options):
    """An active pledge whose card was saved on the stand-in, as the card page does it."""
    supporter = MemberFactory()
    pledge = services.start_pledge(
        campaign, supporter=supporter, amount_minor=amount, gateway=gateway, **options
    )
    intent = gateway.confirm_setup_intent(pledge.setup_intent_id, card)
    if intent.status == "requires_action":
        gateway.authenticate_setup_intent(pledge.setup_intent_id)
    return services.confirm_card(pledge, by=supporter, gateway=gateway)


def deadline_passes(campaign):
    Campaign.objects.filter(pk=campaign.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    campaign.refresh_from_db()


def time_passes(pledge, **delta):
    """As if `delta` had passed for the pledge's retry and fix-window clocks."""
    pledge.refresh_from_db()
    shift = timedelta(**delta)
    Pledge.objects.filter(pk=pledge.pk).update(
        **{
            field: getattr(pledge, field) - shift
            for field in ("next_attempt_at", "fix_window_ends_at", "charge_enqueued_at")
            if getattr(pledge, field) is not None
        }
    )


def settle(campaign):
    deadline_passes(campaign)
    settlement.sweep()
    campaign.refresh_from_db()
    return campaign


def text(response):
    """The page's visible text with tags dropped and whitespace collapsed."""
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", response.content.decode(), flags=re.S)
    return re.sub(r"\s+", " ", html_lib.unescape(re.sub(r"<[^>]+>", " ", body))).strip()


@pytest.fixture
def settling(gateway):
    """Ended, goal met: €50 collected; €10 declined (retrying), €15 waiting for 3-D Secure."""
    campaign = CampaignFactory(live=True, goal_minor=6_000, title="Elm Street garden")
    good = pledge_with_card(gateway, campaign, amount=5_000, public_name="Nora N.")
    declined = pledge_with_card(
        gateway, campaign, card=DECLINES_WHEN_CHARGED, amount=1_000, public_name="Declan D."
    )
    confirm = pledge_with_card(
        gateway, campaign, card=NEEDS_AUTHENTICATION, amount=1_500, anonymous=True
    )
    settle(campaign)
    assert campaign.status == Campaign.Status.SETTLING
    for pledge in (good, declined, confirm):
        pledge.refresh_from_db()
    assert [good.status, declined.status, confirm.status] == [
        Status.COLLECTED,
        Status.RETRYING,
        Status.ACTION_REQUIRED,
    ]
    campaign.pledges_by_name = {"good": good, "declined": declined, "confirm": confirm}
    return campaign


def payments_url(campaign):
    return reverse("campaigns:payments", args=[campaign.pk])


def remind_url(campaign, pledge):
    return reverse("campaigns:send_reminder", args=[campaign.pk, pledge.public_id])


# --- the campaign page ------------------------------------------------------------------------
def test_a_settling_campaign_shows_collected_recovering_and_pledged_at_the_deadline(
    client, settling
):
    response = client.get(settling.get_absolute_url())
    page = text(response)

    assert f"Ended on {deadline_date(settling)} · collecting payments" in page
    assert "€50 collected of €60 goal" in page
    assert "€75 pledged at the deadline" in page
    assert "€50 collected from 1 supporter" in page
    assert "€25 still being collected (2)" in page
    assert "could not be collected" not in page
    # The bar is the money collected (83 %), not the €75 pledged (125 %).
    html = response.content.decode()
    assert 'aria-valuenow="83"' in html and "83% of the goal collected" in html
    assert "83% funded" in page
    assert "pledged of" not in page and "Back this campaign" not in page


def test_a_funded_campaign_with_a_drop_shows_what_could_not_be_collected(client, gateway):
    campaign = CampaignFactory(live=True, goal_minor=5_000)
    pledge_with_card(gateway, campaign, amount=5_000)
    declined = pledge_with_card(gateway, campaign, card=DECLINES_WHEN_CHARGED, amount=1_000)
    settle(campaign)
    time_passes(declined, days=8)  # past the fix window
    settlement.sweep()
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.FUNDED

    page = text(client.get(campaign.get_absolute_url()))

    assert "Funded This campaign ended on" in page
    assert "collected €50 from 1 supporter." in page
    assert "€50 collected of €50 goal" in page
    assert "€60 pledged at the deadline" in page
    assert "€10 could not be collected (1)" in page
    assert "still being collected" not in page
    assert "100% funded" in page


def test_a_failed_all_or_nothing_campaign_says_nobody_was_charged(client, gateway):
    campaign = CampaignFactory(live=True, goal_minor=50_000)
    pledge_with_card(gateway, campaign, amount=2_000)
    pledge_with_card(gateway, campaign, amount=3_000)
    settle(campaign)
    assert campaign.status == Campaign.Status.FAILED
    assert not gateway.payment_intents

    page = text(client.get(campaign.get_absolute_url()))

    assert "Not funded — no one was charged" in page
    assert "below its goal of €500, so every pledge was released" in page
    assert "€50 pledged at the deadline, of a €500 goal" in page
    assert "€50 pledged by 2 supporters" in page
    assert "No one was charged" in page
    assert "10% of the goal pledged" in page
    assert "collected" not in page.replace("could not be collected", "")


def test_cookieless_visitors_see_the_figures_change_when_the_campaign_is_funded(gateway, settling):
    visitor = Client()  # no cookies: served from the page cache
    assert "collecting payments" in text(visitor.get(settling.get_absolute_url()))
    for pledge in (settling.pledges_by_name["declined"], settling.pledges_by_name["confirm"]):
        time_passes(pledge, days=8)
    settlement.sweep()  # both dropped; the campaign is funded, and settlement forgets the page

    page = text(visitor.get(settling.get_absolute_url()))
    assert "Funded" in page and "collecting payments" not in page
    assert "€25 could not be collected (2)" in page


def test_the_settled_page_query_count_does_not_grow(client, gateway):
    def count(campaign):
        url = campaign.get_absolute_url()
        client.get(url)
        from django.core.cache import cache

        cache.clear()
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    small, big = (CampaignFactory(live=True, goal_minor=1_000) for _ in range(2))
    pledge_with_card(gateway, small)
    for card in ["pm_card_visa"] * 3 + [DECLINES_WHEN_CHARGED] * 2:
        pledge_with_card(gateway, big, card=card)
    settle(small), settle(big)
    assert count(small) == count(big)


# --- lists ------------------------------------------------------------------------------------
@pytest.fixture
def funded_with_a_drop(gateway):
    campaign = CampaignFactory(live=True, goal_minor=5_000, title="Repair café on wheels")
    pledge_with_card(gateway, campaign, amount=5_000)
    declined = pledge_with_card(gateway, campaign, card=DECLINES_WHEN_CHARGED, amount=2_500)
    settle(campaign)
    time_passes(declined, days=8)
    settlement.sweep()
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.FUNDED
    return campaign


def test_discover_lists_ended_campaigns_with_what_they_collected(client, funded_with_a_drop):
    live = CampaignFactory(live=True, title="Open orchard")

    open_page = client.get(reverse("campaigns:discover"))
    assert [c.title for c in open_page.context["page"].object_list] == [live.title]

    ended = client.get(reverse("campaigns:discover"), {"show": "ended"})
    assert [c.title for c in ended.context["page"].object_list] == [funded_with_a_drop.title]
    page = text(ended)
    assert "€50 collected 100% funded Funded" in page  # not the €75 pledged at the deadline
    assert "€75" not in page
    assert "1 ended campaign" in page
    assert 'aria-current="page">Ended<' in ended.content.decode()


def test_discover_ended_keeps_the_search_and_offers_its_own_sorts(client, funded_with_a_drop):
    response = client.get(
        reverse("campaigns:discover"), {"show": "ended", "q": "repair", "sort": "ending"}
    )
    assert [c.title for c in response.context["page"].object_list] == [funded_with_a_drop.title]
    html = response.content.decode()
    assert 'name="show" value="ended"' in html
    sorts = [key for key, _label in response.context["form"].fields["sort"].choices]
    assert sorts == ["relevance", "recently_ended", "newest", "most_funded", "closest"]


def test_a_failed_campaign_card_shows_what_was_pledged_at_the_deadline(client, gateway):
    campaign = CampaignFactory(live=True, goal_minor=50_000, title="Quiet choir")
    pledge_with_card(gateway, campaign, amount=4_000)
    settle(campaign)
    page = text(client.get(reverse("campaigns:discover"), {"show": "ended"}))
    assert "€40 pledged 8% funded Not funded no one was charged" in page


def test_a_profile_card_of_a_funded_campaign_shows_what_it_collected(client, funded_with_a_drop):
    organizer = funded_with_a_drop.organizer
    page = text(client.get(reverse("members:profile", args=[organizer.pk])))
    assert "€50 collected" in page and "€75" not in page


def test_discover_ended_query_count_does_not_grow(client, gateway):
    def count():
        url = reverse("campaigns:discover") + "?show=ended"
        client.get(url)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    def funded_campaign():
        campaign = CampaignFactory(live=True, goal_minor=1_000)
        pledge_with_card(gateway, campaign)
        settle(campaign)

    funded_campaign()
    few = count()
    for _ in range(3):
        funded_campaign()
    CampaignFactory(live=True, goal_minor=50_000).pk  # still open: not listed
    assert count() == few <= 4  # count, page, collected for the page, and the session


# --- the payment-recovery page ----------------------------------------------------------------
def test_the_recovery_page_is_for_the_team_only(client, settling):
    url = payments_url(settling)
    assert client.get(url).status_code == 302  # anonymous: log in first
    assert reverse("account_login") in client.get(url)["Location"]

    client.force_login(MemberFactory())
    assert client.get(url).status_code == 404

    invited = MemberFactory()
    Collaborator.objects.create(
        campaign=settling, email=invited.email, member=invited, invited_by=settling.organizer
    )
    client.force_login(invited)
    assert client.get(url).status_code == 404  # invited, not yet accepted

    Collaborator.objects.filter(member=invited).update(accepted_at=timezone.now())
    assert client.get(url).status_code == 200

    client.force_login(settling.organizer)
    assert client.get(url).status_code == 200


def test_the_recovery_page_says_who_is_pending_and_why(client, settling):
    client.force_login(settling.organizer)
    response = client.get(payments_url(settling))
    page = text(response)
    declined = settling.pledges_by_name["declined"]

    assert "Ended on" in page and "collecting payments" in page
    assert "Pledged at the deadline €75 3 supporters" in page
    assert "Collected €50 1 supporter" in page
    assert "Still being collected €25 2 pledges" in page
    assert "Could not be collected €0 0 pledges" in page
    # Declined first (its fix window opened first), then the one waiting for 3-D Secure.
    rows = re.findall(r'<tr id="payment-([0-9a-f-]+)">', response.content.decode())
    assert rows == [
        str(declined.public_id),
        str(settling.pledges_by_name["confirm"].public_id),
    ]
    assert "Declan D. €10.00 Card declined: The bank declined the payment without a reason." in (
        page
    )
    next_try = timezone.localtime(declined.next_attempt_at)
    assert f"{next_try:%-d %b, %H:%M}" in page
    assert "Anonymous €15.00 Waiting for the supporter to confirm the payment" in page
    assert "none — waiting for the supporter" in page
    assert f"{timezone.localtime(declined.fix_window_ends_at):%-d %b %Y}" in page
    assert page.count("never") == 2  # no reminder sent yet
    assert page.count("Send reminder") == 2
    # Organizers see public names, never supporters' emails.
    for pledge in Pledge.objects.filter(campaign=settling).select_related("supporter"):
        assert pledge.supporter.email not in response.content.decode()
    assert "None so far." in page  # nothing dropped yet


def test_a_hard_decline_needs_a_new_card(client, gateway, monkeypatch):
    from payments.gateway import Charge, ChargeStatus
    from pledges import tasks

    monkeypatch.setattr(tasks.charge_pledge, "delay", lambda *args: None)  # held, not run
    campaign = CampaignFactory(live=True, goal_minor=1_000)
    pledge = pledge_with_card(gateway, campaign, amount=2_000)
    settle(campaign)
    attempt, _ = settlement._claim_attempt(pledge.pk, trigger=PaymentAttempt.Trigger.DEADLINE)
    settlement.record_outcome(
        attempt, Charge(id="pi_lost", status=ChargeStatus.FAILED, decline_code="lost_card")
    )

    client.force_login(campaign.organizer)
    page = text(client.get(payments_url(campaign)))
    assert "Card declined: The card was reported lost: a new card is needed." in page
    assert "none — needs a new card" in page


def test_dropped_pledges_are_listed_below(client, gateway, funded_with_a_drop):
    client.force_login(funded_with_a_drop.organizer)
    page = text(client.get(payments_url(funded_with_a_drop)))
    assert "Funded" in page
    assert "Nothing left to collect" in page
    assert "Could not be collected These pledges were dropped" in page
    assert "€25.00 The bank declined the payment without a reason." in page


def test_a_reminder_is_sent_once_a_day(client, settling):
    declined = settling.pledges_by_name["declined"]
    client.force_login(settling.organizer)

    response = client.post(remind_url(settling, declined), follow=True)

    assert response.redirect_chain == [(payments_url(settling), 302)]
    assert "We sent Declan D. a reminder." in text(response)
    email = OutboundEmail.objects.get(template="pledge_payment_reminder")
    assert email.to == declined.supporter.email
    audit = AuditEvent.objects.get(action="payment_reminder")
    assert audit.actor == settling.organizer and audit.target_id == str(declined.pk)
    assert text(response).count("never") == 1  # the other one

    again = client.post(remind_url(settling, declined), follow=True)
    assert "A reminder was sent in the last 24 hours; try again tomorrow." in text(again)
    assert OutboundEmail.objects.filter(template="pledge_payment_reminder").count() == 1
    assert AuditEvent.objects.filter(action="payment_reminder").count() == 1


def test_a_co_organizer_can_send_a_reminder(client, settling):
    helper = MemberFactory()
    Collaborator.objects.create(
        campaign=settling,
        email=helper.email,
        member=helper,
        invited_by=settling.organizer,
        accepted_at=timezone.now(),
    )
    client.force_login(helper)
    confirm = settling.pledges_by_name["confirm"]
    response = client.post(remind_url(settling, confirm), follow=True)
    assert "We sent the anonymous supporter a reminder." in text(response)
    assert AuditEvent.objects.get(action="payment_reminder").actor == helper


def test_reminders_need_a_post_with_csrf_by_the_team(client, settling):
    declined = settling.pledges_by_name["declined"]
    url = remind_url(settling, declined)
    client.force_login(settling.organizer)
    assert client.get(url).status_code == 405

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(settling.organizer)
    assert strict.post(url).status_code == 403

    client.force_login(MemberFactory())
    assert client.post(url).status_code == 404
    other = CampaignFactory(live=True)
    client.force_login(other.organizer)
    # Another campaign's pledge through one's own campaign: not found either.
    assert client.post(remind_url(other, declined)).status_code == 404
    assert not OutboundEmail.objects.filter(template="pledge_payment_reminder").exists()


def test_a_collected_pledge_gets_no_reminder(client, settling):
    client.force_login(settling.organizer)
    response = client.post(remind_url(settling, settling.pledges_by_name["good"]), follow=True)
    assert "This pledge is not waiting for its supporter." in text(response)
    assert not OutboundEmail.objects.filter(template="pledge_payment_reminder").exists()


def test_the_workspace_links_to_the_payments_once_the_campaign_ended(client, gateway):
    campaign = CampaignFactory(live=True, goal_minor=1_000, funding_model=FundingModel.FLEXIBLE)
    pledge_with_card(gateway, campaign)
    client.force_login(campaign.organizer)
    review = reverse("campaigns:review", args=[campaign.pk])
    assert payments_url(campaign) not in client.get(review).content.decode()
    live_page = text(client.get(payments_url(campaign)))
    assert "Cards are charged when the campaign ends" in live_page

    settle(campaign)
    assert payments_url(campaign) in client.get(review).content.decode()
    mine = client.get(reverse("campaigns:mine"))
    assert payments_url(campaign) in mine.content.decode()
    assert "Collected €20" in text(mine)


def test_the_recovery_page_query_count_does_not_grow(client, gateway):
    def count(campaign):
        client.force_login(campaign.organizer)
        url = payments_url(campaign)
        client.get(url)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    # One row of each kind, then many: pending (declined, 3-D Secure), dropped, reminded.
    small, big = (CampaignFactory(live=True, goal_minor=1_000) for _ in range(2))
    for campaign, many in ((small, 1), (big, 4)):
        pledge_with_card(gateway, campaign)
        for card in [DECLINES_WHEN_CHARGED] * (many + 1) + [NEEDS_AUTHENTICATION] * many:
            pledge_with_card(gateway, campaign, card=card)
        settle(campaign)
        retrying = Pledge.objects.filter(campaign=campaign, status=Status.RETRYING)
        time_passes(retrying.first(), days=8)
        settlement.sweep()
        for pledge in Pledge.objects.filter(campaign=campaign, status=Status.RETRYING):
            settlement.send_payment_reminder(pledge, by=campaign.organizer)
    assert Pledge.objects.filter(campaign=big, status=Status.DROPPED).count() == 1
    assert Pledge.objects.filter(campaign=big, status__in=Pledge.SETTLING_STATUSES).count() == 8
    assert count(small) == count(big)
