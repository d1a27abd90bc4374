"""The demo's campaign that ends two minutes after seeding: live, with three pledges on cards
saved at the stand-in, and settled by the real settlement once its deadline passes (one
collected, one declined and retrying, one waiting for 3-D Secure, each with its email)."""

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from campaigns.models import Campaign
from core.models import OutboundEmail
from demo import browser, seeding
from demo.specs import (
    CARD_DECLINED_WHEN_CHARGED,
    CARD_NEEDS_AUTHENTICATION,
    CARD_OK,
    ENDING_SOON,
    ENDING_SOON_PLEDGES,
)
from ledger import selectors as ledger_selectors
from pledges import settlement
from pledges.models import PaymentAttempt, Pledge

Status = Pledge.Status


def make_ending_soon():
    with seeding.quiet_side_effects():
        members = seeding.ensure_demo_members()
        people = {**seeding.ensure_demo_supporters(), **members}
        report = seeding.Report(members=members)
        campaign, created = seeding.ensure_ending_soon(people, report)
    return campaign, created, report


def pledges_by_card(campaign):
    """{test card: the pledge saved with it} (ENDING_SOON_PLEDGES: supporter key, euros, card)."""
    cards = {f"{key}@groundswell.local": card for key, _euros, card in ENDING_SOON_PLEDGES}
    return {cards[p.supporter.email]: p for p in campaign.pledges.select_related("supporter")}


@pytest.mark.django_db(transaction=True)
def test_it_is_live_for_two_minutes_and_settles_by_itself(standin_settings, celery_eager):
    before = timezone.now()
    campaign, created, report = make_ending_soon()

    assert created and report.pledges == 3
    assert campaign.status == Campaign.Status.LIVE and campaign.is_all_or_nothing
    assert before + dt.timedelta(minutes=2) <= campaign.deadline
    assert campaign.deadline <= timezone.now() + dt.timedelta(minutes=2)
    pledges = pledges_by_card(campaign)
    assert {p.status for p in pledges.values()} == {Status.ACTIVE}
    assert all(p.payment_method_id for p in pledges.values())
    assert sum(p.amount_minor for p in pledges.values()) >= campaign.goal_minor

    # Two minutes later: what beat's sweep and the charges worker do (tasks in-process here).
    Campaign.objects.filter(pk=campaign.pk).update(
        deadline=timezone.now() - dt.timedelta(seconds=1)
    )
    seeded_emails = set(OutboundEmail.objects.values_list("pk", flat=True))  # confirmations
    settlement.sweep()

    for pledge in pledges.values():
        pledge.refresh_from_db()
    assert pledges[CARD_OK].status == Status.COLLECTED
    assert pledges[CARD_OK].pk in set(ledger_selectors.contributed_pledge_ids())
    declined = pledges[CARD_DECLINED_WHEN_CHARGED]
    assert declined.status == Status.RETRYING and declined.next_attempt_at
    assert declined.attempts.get().status == PaymentAttempt.Status.FAILED
    needs_3ds = pledges[CARD_NEEDS_AUTHENTICATION]
    assert needs_3ds.status == Status.ACTION_REQUIRED and needs_3ds.fix_window_ends_at
    assert needs_3ds.attempts.get().status == PaymentAttempt.Status.REQUIRES_ACTION
    emails = dict(OutboundEmail.objects.exclude(pk__in=seeded_emails).values_list("to", "template"))
    assert emails == {
        pledges[CARD_OK].supporter.email: "pledge_collected",
        declined.supporter.email: "pledge_declined",
        # The demo's own supporter login: whoever tries the demo can open the link and pay.
        "supporter@groundswell.local": "pledge_action_required",
    }
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SETTLING  # until the fix window closes
    out = io.StringIO()
    call_command("verify_ledger", stdout=out, stderr=out)
    assert "no violations" in out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_a_run_cut_short_is_finished_by_the_next(standin_settings, monkeypatch):
    saved = []
    real_save_card = browser.save_card

    def save_one_card_then_stop(*args):
        if saved:
            raise KeyboardInterrupt  # Ctrl-C while the second card is being saved
        saved.append(real_save_card(*args))

    monkeypatch.setattr(browser, "save_card", save_one_card_then_stop)
    with pytest.raises(KeyboardInterrupt):
        make_ending_soon()
    monkeypatch.setattr(browser, "save_card", real_save_card)

    campaign, created, report = make_ending_soon()

    assert not created and report.pledges == 2  # the same campaign, its missing pledges
    assert Campaign.objects.filter(slug__startswith=ENDING_SOON.slug).count() == 1
    statuses = list(campaign.pledges.values_list("status", flat=True))
    assert statuses == [Status.ACTIVE] * 3  # the interrupted one was picked up, not doubled


@pytest.mark.django_db(transaction=True)
def test_seeding_again_within_the_two_minutes_keeps_it(standin_settings):
    first, _, _ = make_ending_soon()
    again, created, report = make_ending_soon()
    assert again.pk == first.pk and not created and report.pledges == 0


def test_seed_demo_says_how_to_start_the_stand_in_when_it_is_not_running(settings):
    from devtools.stripe_standin.process import free_port

    settings.STRIPE_API_BASE = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(Exception, match="Stripe stand-in") as failure:
        call_command("seed_demo", stdout=io.StringIO())
    assert type(failure.value).__name__ == "CommandError"
