"""Deadline settlement through the services and tasks, against the in-process Stripe stand-in:
closing, all-or-nothing and flexible outcomes, charging, declines, 3-D Secure, retries, drops,
funded campaigns, the ledger, and the sweep's idempotence."""

from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from campaigns import services as campaign_services
from campaigns.models import Campaign, FundingModel
from core.errors import DomainError
from core.models import AuditEvent, OutboundEmail
from core.ratelimit import MemoryBackend, TokenBucket
from ledger import selectors as ledger_selectors
from ledger.models import Transaction as LedgerTransaction
from pledges import services, settlement
from pledges.models import PaymentAttempt, Pledge
from tests.factories import CampaignFactory, MemberFactory

pytestmark = pytest.mark.django_db(transaction=True)

Status = Pledge.Status
DECLINES_WHEN_CHARGED = "pm_card_chargeCustomerFail"
NEEDS_AUTHENTICATION = "pm_card_authenticationRequired"


@pytest.fixture
def gateway(fake_gateway, celery_eager, settings):
    settings.REDIS_URL = ""
    settings.CHARGE_RATE_PER_SECOND = 1000
    return fake_gateway


@pytest.fixture
def bucket():
    return TokenBucket("test-charges", rate=1000, backend=MemoryBackend())


@pytest.fixture
def held_tasks(monkeypatch):
    """Settlement's tasks are sent but no worker runs them (yet): {task name: [args]}."""
    from pledges import tasks

    sent = {}
    for name in (
        "charge_pledge",
        "reconcile_attempt",
        "settle_campaign",
        "release_campaign_pledges",
    ):
        task = getattr(tasks, name)
        monkeypatch.setattr(
            task, "delay", lambda *args, name=name: sent.setdefault(name, []).append(args)
        )
    return sent


def deadline_passes(campaign):
    """The campaign's deadline is now in the past (it ran its course)."""
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


def charging(gateway, campaign, **pledge_options):
    """A pledge queued for charging at the deadline whose charge task has not run yet."""
    pledge = pledge_with_card(gateway, campaign, **pledge_options)
    deadline_passes(campaign)
    settlement.close_campaign(campaign)
    settlement.settle_campaign(campaign)
    pledge.refresh_from_db()
    assert pledge.status == Status.CHARGING
    return pledge


def pledge_with_card(gateway, campaign, *, card="pm_card_visa", amount=2_000):
    """An active pledge whose card was saved on the stand-in, as the card page does it."""
    supporter = MemberFactory()
    pledge = services.start_pledge(
        campaign, supporter=supporter, amount_minor=amount, gateway=gateway
    )
    intent = gateway.confirm_setup_intent(pledge.setup_intent_id, card)
    if intent.status == "requires_action":
        gateway.authenticate_setup_intent(pledge.setup_intent_id)
    return services.confirm_card(pledge, by=supporter, gateway=gateway)


def statuses(campaign):
    return sorted(Pledge.objects.filter(campaign=campaign).values_list("status", flat=True))


def succeeded_at_provider(gateway):
    return [pi for pi in gateway.payment_intents.values() if pi.status == "succeeded"]


@pytest.fixture
def campaign(db):
    return CampaignFactory(live=True, goal_minor=5_000)


# --- closing ----------------------------------------------------------------------------------
def test_a_campaign_closes_only_after_its_deadline(campaign, gateway):
    assert settlement.close_due_campaigns() == []
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.LIVE
    with pytest.raises(DomainError):
        settlement.close_campaign(campaign)


def test_closing_freezes_the_figures_at_the_deadline(campaign, gateway, held_tasks):
    pledge_with_card(gateway, campaign, amount=3_000)
    pledge_with_card(gateway, campaign, amount=2_500)
    services.start_pledge(campaign, supporter=MemberFactory(), amount_minor=9_000, gateway=gateway)
    deadline_passes(campaign)

    closed = settlement.close_campaign(campaign)

    assert closed.moved
    closed.refresh_from_db()
    assert closed.status == Campaign.Status.SETTLING
    assert closed.pledged_at_deadline_minor == 5_500  # active pledges only
    assert closed.supporters_at_deadline == 2
    assert held_tasks["settle_campaign"] == [(campaign.pk,)]
    # A sweep that runs twice closes nothing twice and sends nothing twice.
    assert settlement.close_campaign(campaign).moved is False
    assert settlement.close_due_campaigns() == []
    assert held_tasks["settle_campaign"] == [(campaign.pk,)]


# --- all-or-nothing below goal ----------------------------------------------------------------
def test_below_goal_all_or_nothing_fails_and_releases_every_pledge_uncharged(campaign, gateway):
    kept = pledge_with_card(gateway, campaign, amount=2_000)
    pending = services.start_pledge(
        campaign, supporter=MemberFactory(), amount_minor=1_000, gateway=gateway
    )
    deadline_passes(campaign)

    settlement.sweep()

    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.FAILED
    assert statuses(campaign) == [Status.RELEASED, Status.RELEASED]
    assert not gateway.payment_intents  # no card was charged
    assert not PaymentAttempt.objects.exists()
    keys = set(OutboundEmail.objects.values_list("key", flat=True))
    assert f"pledge:{kept.pk}:released" in keys
    assert f"pledge:{pending.pk}:released" not in keys  # never had a card saved
    assert f"campaign:{campaign.pk}:failed" in keys
    # The page of a failed campaign still says how far it got.
    assert campaign.pledged_at_deadline_minor == 2_000


# --- goal met: charging -----------------------------------------------------------------------
def test_goal_met_charges_every_pledge_once_and_writes_the_ledger(campaign, gateway):
    pledges = [pledge_with_card(gateway, campaign, amount=2_500) for _ in range(3)]
    deadline_passes(campaign)

    report = settlement.sweep()
    assert report["closed"] == 1

    campaign.refresh_from_db()
    assert statuses(campaign) == [Status.COLLECTED] * 3
    assert len(succeeded_at_provider(gateway)) == 3
    for pledge in pledges:
        attempt = PaymentAttempt.objects.get(pledge=pledge)
        assert attempt.status == PaymentAttempt.Status.SUCCEEDED
        assert attempt.payment_intent_id.startswith("pi_")
        assert attempt.idempotency_key.endswith(f"-pledge-{pledge.public_id}-attempt-1")
        intent = gateway.standin.get("payment_intent", attempt.payment_intent_id)
        assert intent["metadata"]["pledge"] == str(pledge.public_id)
        assert intent["metadata"]["attempt"] == "1"
    assert ledger_selectors.collected_minor(campaign.pk) == 7_500
    contributions = LedgerTransaction.objects.filter(kind=LedgerTransaction.Kind.CONTRIBUTION)
    assert contributions.count() == 3
    fees = LedgerTransaction.objects.filter(kind=LedgerTransaction.Kind.PROCESSOR_FEE)
    assert fees.count() == 3 and not fees.filter(is_estimate=True).exists()

    # Nothing left to charge: the campaign is funded, and more sweeps change nothing.
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.FUNDED and campaign.settled_at
    settlement.sweep()
    settlement.sweep()
    assert PaymentAttempt.objects.count() == 3
    assert len(succeeded_at_provider(gateway)) == 3
    assert OutboundEmail.objects.filter(template="pledge_collected").count() == 3


def test_flexible_campaign_below_goal_is_charged(gateway):
    campaign = CampaignFactory(live=True, goal_minor=100_000, funding_model=FundingModel.FLEXIBLE)
    pledge_with_card(gateway, campaign, amount=1_500)
    deadline_passes(campaign)

    settlement.sweep()

    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.FUNDED
    assert statuses(campaign) == [Status.COLLECTED]


def test_flexible_campaign_without_pledges_fails(gateway):
    campaign = CampaignFactory(live=True, funding_model=FundingModel.FLEXIBLE)
    deadline_passes(campaign)
    settlement.sweep()
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.FAILED


def test_the_amount_charged_is_the_one_at_the_deadline(campaign, gateway):
    pledge = pledge_with_card(gateway, campaign, amount=5_000)
    services.change_pledge(pledge, by=pledge.supporter, amount_minor=6_000, reward=None)
    deadline_passes(campaign)

    settlement.sweep()

    attempt = PaymentAttempt.objects.get(pledge=pledge)
    assert attempt.amount_minor == 6_000
    assert gateway.standin.get("payment_intent", attempt.payment_intent_id)["amount"] == 6_000


def test_statement_descriptor_comes_from_the_campaign(gateway):
    campaign = CampaignFactory(live=True, goal_minor=1_000, title="Élm Street — garden 2027")
    pledge = pledge_with_card(gateway, campaign)
    deadline_passes(campaign)
    settlement.sweep()
    attempt = PaymentAttempt.objects.get(pledge=pledge)
    intent = gateway.standin.get("payment_intent", attempt.payment_intent_id)
    assert intent["statement_descriptor_suffix"] == "ELM STREE"  # 22 with "GROUNDSWELL* "


# --- declines, 3-D Secure, retries and drops --------------------------------------------------
def test_a_declined_card_is_retried_and_dropped_after_the_fix_window(campaign, gateway):
    good = pledge_with_card(gateway, campaign, amount=5_000)
    declined = pledge_with_card(gateway, campaign, card=DECLINES_WHEN_CHARGED, amount=1_000)
    deadline_passes(campaign)

    settlement.sweep()

    declined.refresh_from_db()
    assert declined.status == Status.RETRYING
    attempt = declined.attempts.get()
    assert attempt.status == PaymentAttempt.Status.FAILED
    assert attempt.decline_code == "generic_decline"
    now = timezone.now()
    assert declined.next_attempt_at - now == pytest.approx(
        timedelta(hours=48), abs=timedelta(minutes=1)
    )
    assert declined.fix_window_ends_at - now == pytest.approx(
        timedelta(days=7), abs=timedelta(minutes=1)
    )
    assert OutboundEmail.objects.filter(key=f"pledge:{declined.pk}:declined:1").exists()

    # Not due yet: sweeps make no new attempt.
    time_passes(declined, hours=47)
    settlement.sweep()
    assert declined.attempts.count() == 1
    # Due: the automatic retry declines again, and the next one is scheduled.
    time_passes(declined, hours=2)
    settlement.sweep()
    assert declined.attempts.count() == 2
    declined.refresh_from_db()
    assert declined.status == Status.RETRYING and declined.next_attempt_at
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SETTLING  # still recovering

    time_passes(declined, days=8)
    settlement.sweep()
    declined.refresh_from_db()
    assert declined.status == Status.DROPPED
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.FUNDED
    good.refresh_from_db()
    assert good.status == Status.COLLECTED
    assert ledger_selectors.collected_minor(campaign.pk) == 5_000
    keys = set(OutboundEmail.objects.values_list("key", flat=True))
    assert {f"pledge:{declined.pk}:dropped", f"pledge:{declined.pk}:dropped:organizer"} <= keys


def test_a_hard_decline_is_not_retried_on_the_same_card(campaign, gateway, held_tasks):
    from payments.gateway import Charge, ChargeStatus

    pledge = charging(gateway, campaign, amount=5_000)
    attempt, _ = settlement._claim_attempt(pledge.pk, trigger=PaymentAttempt.Trigger.DEADLINE)

    settlement.record_outcome(
        attempt, Charge(id="pi_lost", status=ChargeStatus.FAILED, decline_code="lost_card")
    )

    pledge.refresh_from_db()
    assert pledge.status == Status.RETRYING
    assert pledge.next_attempt_at is None  # only a new card can fix it
    assert pledge.fix_window_ends_at is not None


def test_a_card_that_needs_authentication_waits_for_the_supporter(campaign, gateway):
    pledge = pledge_with_card(gateway, campaign, card=NEEDS_AUTHENTICATION, amount=5_000)
    deadline_passes(campaign)

    settlement.sweep()

    pledge.refresh_from_db()
    assert pledge.status == Status.ACTION_REQUIRED
    attempt = pledge.attempts.get()
    assert attempt.status == PaymentAttempt.Status.REQUIRES_ACTION
    assert OutboundEmail.objects.filter(key=f"pledge:{pledge.pk}:action_required").exists()
    # Automatic retries never charge it behind the supporter's back.
    time_passes(pledge, days=3)
    settlement.sweep()
    assert pledge.attempts.count() == 1

    # The supporter completes 3-D Secure on the same PaymentIntent; the provider's event (or
    # the reconciliation it triggers) records it.
    gateway.authenticate_payment(attempt.payment_intent_id)
    from pledges import reconciliation

    reconciliation.reconcile_attempt(attempt)
    pledge.refresh_from_db()
    assert pledge.status == Status.COLLECTED
    assert len(succeeded_at_provider(gateway)) == 1


# --- exactly once -----------------------------------------------------------------------------
def test_charging_the_same_pledge_twice_makes_one_attempt(campaign, gateway, bucket, held_tasks):
    pledge = charging(gateway, campaign, amount=5_000)
    assert held_tasks["charge_pledge"] == [(pledge.pk, PaymentAttempt.Trigger.DEADLINE)]

    first = settlement.charge_pledge(pledge.pk, bucket=bucket)
    again = settlement.charge_pledge(pledge.pk, bucket=bucket)  # the same task, delivered twice

    assert first.status == PaymentAttempt.Status.SUCCEEDED and again is None
    assert PaymentAttempt.objects.filter(pledge=pledge).count() == 1
    assert len(succeeded_at_provider(gateway)) == 1


def test_a_lost_response_is_recovered_with_the_same_key(campaign, gateway, celery_eager):
    celery_eager.conf.task_eager_propagates = False  # so that the task's retry runs, eagerly
    pledge = pledge_with_card(gateway, campaign, amount=5_000)
    gateway.standin.faults_update({"drop_next": 1})  # the charge succeeds, its answer is lost
    deadline_passes(campaign)

    settlement.sweep()

    pledge.refresh_from_db()
    assert pledge.status == Status.COLLECTED  # the task's retry replayed the stored answer
    attempt = pledge.attempts.get()
    assert attempt.status == PaymentAttempt.Status.SUCCEEDED
    assert len(succeeded_at_provider(gateway)) == 1
    assert LedgerTransaction.objects.filter(pledge_id=pledge.pk, kind="contribution").count() == 1


def test_an_outage_leaves_the_attempt_unknown_then_it_is_resumed(
    campaign, gateway, bucket, held_tasks
):
    pledge = charging(gateway, campaign, amount=5_000)
    gateway.fail_next = 1

    with pytest.raises(settlement.ChargeInterrupted) as interrupted:
        settlement.charge_pledge(pledge.pk, bucket=bucket)
    attempt = PaymentAttempt.objects.get(pk=interrupted.value.attempt_id)
    assert attempt.status == PaymentAttempt.Status.UNKNOWN

    # Another delivery of the task resumes the same attempt, never a new one.
    resumed = settlement.charge_pledge(pledge.pk, bucket=bucket)
    assert resumed.pk == attempt.pk and resumed.status == PaymentAttempt.Status.SUCCEEDED
    assert PaymentAttempt.objects.filter(pledge=pledge).count() == 1
    assert len(succeeded_at_provider(gateway)) == 1


def test_a_young_attempt_in_flight_is_left_to_its_worker(campaign, gateway, bucket, held_tasks):
    pledge = charging(gateway, campaign, amount=5_000)
    settlement._claim_attempt(pledge.pk, trigger=PaymentAttempt.Trigger.DEADLINE)
    assert settlement.charge_pledge(pledge.pk, bucket=bucket) is None
    assert not gateway.payment_intents


def _sent_then_worker_died(gateway, pledge, *, charged, age):
    attempt, _ = settlement._claim_attempt(pledge.pk, trigger=PaymentAttempt.Trigger.DEADLINE)
    if charged:
        gateway.charge_saved_card(**settlement.charge_request(attempt))  # reached the provider
    then = timezone.now() - age
    PaymentAttempt.objects.filter(pk=attempt.pk).update(
        status=PaymentAttempt.Status.SENT, created_at=then, sent_at=then, updated_at=then
    )  # ... and the worker died before recording the answer
    return attempt


def test_a_worker_killed_after_sending_is_reconciled_by_the_sweep(campaign, gateway, held_tasks):
    pledge = charging(gateway, campaign, amount=5_000)
    _sent_then_worker_died(gateway, pledge, charged=True, age=timedelta(minutes=5))

    settlement.sweep()
    [(attempt_id,)] = held_tasks["reconcile_attempt"]
    from pledges import tasks

    tasks.reconcile_attempt(attempt_id)  # what the charge worker does with it

    pledge.refresh_from_db()
    assert pledge.status == Status.COLLECTED
    assert PaymentAttempt.objects.filter(pledge=pledge).count() == 1
    assert len(succeeded_at_provider(gateway)) == 1


def test_past_the_key_window_a_search_finds_the_charge(campaign, gateway, held_tasks):
    from pledges import reconciliation

    pledge = charging(gateway, campaign, amount=5_000)
    attempt = _sent_then_worker_died(gateway, pledge, charged=True, age=timedelta(hours=30))

    reconciliation.reconcile_attempt(attempt)

    attempt.refresh_from_db()
    assert attempt.status == PaymentAttempt.Status.SUCCEEDED and attempt.payment_intent_id
    assert len(succeeded_at_provider(gateway)) == 1  # found, not charged again


def test_nothing_found_after_the_search_lag_means_a_new_attempt(campaign, gateway, held_tasks):
    from pledges import reconciliation

    pledge = charging(gateway, campaign, amount=5_000)
    attempt = _sent_then_worker_died(gateway, pledge, charged=False, age=timedelta(hours=30))

    reconciliation.reconcile_attempt(attempt)  # nothing at the provider: abandoned
    settlement.dispatch_charges()
    settlement.charge_pledge(pledge.pk)  # a new attempt with a new key

    attempts = list(PaymentAttempt.objects.filter(pledge=pledge).order_by("number"))
    assert [a.status for a in attempts] == ["failed", "succeeded"]
    assert attempts[0].decline_code == settlement.NOT_CHARGED
    assert attempts[0].idempotency_key != attempts[1].idempotency_key
    pledge.refresh_from_db()
    assert pledge.status == Status.COLLECTED


def test_an_empty_search_proves_nothing_during_the_search_lag(
    campaign, gateway, settings, held_tasks
):
    from pledges import reconciliation

    settings.CHARGE_IDEMPOTENCY_WINDOW_HOURS = 0  # force the search path
    pledge = charging(gateway, campaign, amount=5_000)
    attempt = _sent_then_worker_died(gateway, pledge, charged=False, age=timedelta(seconds=5))

    assert reconciliation.reconcile_attempt(attempt).status == PaymentAttempt.Status.SENT


# --- pledge writes around the deadline --------------------------------------------------------
def test_pledge_writes_after_the_campaign_closed_are_refused(campaign, gateway, held_tasks):
    pledge = pledge_with_card(gateway, campaign, amount=5_000)
    pending = services.start_pledge(
        campaign, supporter=MemberFactory(), amount_minor=1_000, gateway=gateway
    )
    gateway.confirm_setup_intent(pending.setup_intent_id)
    deadline_passes(campaign)
    settlement.close_campaign(campaign)
    # The deadline is decided by the status: closed even if the clock said otherwise.
    Campaign.objects.filter(pk=campaign.pk).update(deadline=timezone.now() + timedelta(days=1))

    with pytest.raises(DomainError):
        services.change_pledge(pledge, by=pledge.supporter, amount_minor=9_000, reward=None)
    with pytest.raises(DomainError):
        services.cancel_pledge(pledge, by=pledge.supporter)
    with pytest.raises(DomainError):
        services.confirm_card(pending, by=pending.supporter, gateway=gateway)
    with pytest.raises(DomainError):
        services.start_pledge(
            campaign, supporter=MemberFactory(), amount_minor=1_000, gateway=gateway
        )
    pledge.refresh_from_db()
    assert (pledge.status, pledge.amount_minor) == (Status.ACTIVE, 5_000)


def test_cancelling_a_campaign_releases_its_pledges_in_batches(gateway):
    campaign = CampaignFactory(live=True)
    pledges = [pledge_with_card(gateway, campaign) for _ in range(5)]

    campaign_services.cancel(campaign, by=campaign.organizer, reason="Venue fell through")

    assert statuses(campaign) == [Status.RELEASED] * 5
    audit = AuditEvent.objects.filter(
        action="status:released", target_id__in=[str(p.pk) for p in pledges]
    )
    assert audit.count() == 5


def test_a_lost_release_task_is_caught_up_by_the_sweep(gateway, held_tasks):
    campaign = CampaignFactory(live=True)
    pledge_with_card(gateway, campaign)
    campaign_services.cancel(campaign, by=campaign.organizer)
    assert statuses(campaign) == [Status.ACTIVE]  # the task was lost

    settlement.sweep()

    assert statuses(campaign) == [Status.RELEASED]


# --- admin's manual actions -------------------------------------------------------------------
def test_manual_retry_is_refused_for_collected_and_in_flight_pledges(campaign, gateway):
    pledge = pledge_with_card(gateway, campaign, amount=5_000)
    deadline_passes(campaign)
    settlement.sweep()
    pledge.refresh_from_db()
    admin = MemberFactory(is_staff=True)
    with pytest.raises(settlement.ChargeRefused, match="already been collected"):
        settlement.retry_now(pledge, by=admin)


def test_manual_retry_while_an_attempt_is_in_flight_is_refused(campaign, gateway, held_tasks):
    pledge = charging(gateway, campaign, amount=5_000)
    settlement._claim_attempt(pledge.pk, trigger=PaymentAttempt.Trigger.DEADLINE)
    with pytest.raises(settlement.ChargeRefused, match="in flight"):
        settlement.retry_now(pledge, by=MemberFactory(is_staff=True))
    assert PaymentAttempt.objects.filter(pledge=pledge).count() == 1


# --- verify_ledger and emails -----------------------------------------------------------------
def test_verify_ledger_is_clean_after_settlement(campaign, gateway, capsys):
    pledge_with_card(gateway, campaign, amount=5_000)
    pledge_with_card(gateway, campaign, card=DECLINES_WHEN_CHARGED, amount=1_000)
    deadline_passes(campaign)
    settlement.sweep()
    call_command("verify_ledger")
    assert "no violations" in capsys.readouterr().out


def test_no_email_is_sent_twice_when_sweeps_repeat(campaign, gateway):
    pledge_with_card(gateway, campaign, card=DECLINES_WHEN_CHARGED, amount=5_000)
    deadline_passes(campaign)
    for _ in range(3):
        settlement.sweep()
    # The confirmation when the card was saved, then one email per event, all from the outbox.
    assert OutboundEmail.objects.filter(template="pledge_confirmed").count() == 1
    assert OutboundEmail.objects.filter(template="pledge_declined").count() == 1
    assert len(mail.outbox) == OutboundEmail.objects.count()


def test_a_500_kept_under_the_key_is_given_up_once_the_search_lag_has_passed(
    campaign, gateway, bucket, held_tasks
):
    """Stripe keeps a 500 under the idempotency key and a resend only replays it: the replay is
    not a new send, so once the search lag has passed with nothing found the attempt is given
    up (nothing was charged) and the next one sent at once, with a new key."""
    from pledges import reconciliation

    pledge = charging(gateway, campaign, amount=5_000)
    gateway.standin.faults_update({"error_next": 1})  # a 500 before any work, kept for the key
    with pytest.raises(settlement.ChargeInterrupted):
        settlement.charge_pledge(pledge.pk, bucket=bucket)
    attempt = pledge.attempts.get()
    then = timezone.now() - timedelta(minutes=10)  # longer ago than the search lag
    PaymentAttempt.objects.filter(pk=attempt.pk).update(
        created_at=then, sent_at=then, updated_at=then
    )

    reconciliation.reconcile_attempt(attempt, bucket=bucket)  # resends: the 500 is replayed

    attempt.refresh_from_db()
    assert (attempt.status, attempt.decline_code) == ("failed", settlement.NOT_CHARGED)
    assert held_tasks["charge_pledge"][-1] == (pledge.pk, PaymentAttempt.Trigger.DEADLINE)
    assert len(held_tasks["charge_pledge"]) == 2  # the deadline's, and the new attempt's now
    settlement.charge_pledge(pledge.pk, bucket=bucket)
    pledge.refresh_from_db()
    assert pledge.status == Status.COLLECTED
    assert [a.status for a in pledge.attempts.order_by("number")] == ["failed", "succeeded"]
    assert len(succeeded_at_provider(gateway)) == 1
