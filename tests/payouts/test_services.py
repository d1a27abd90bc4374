"""Payout services end to end over the in-process stand-in: fees in the ledger at collection,
requests and their bad input, the four-eyes approval, transfers made exactly once."""

from datetime import timedelta

import pytest
from allauth.mfa.totp.internal.auth import TOTP
from django.contrib.auth.models import Permission
from django.utils import timezone

from campaigns.models import Collaborator
from core.errors import NotPermitted
from core.models import AuditEvent, OutboundEmail
from ledger import selectors as ledger_selectors
from ledger.fees import contribution_fees
from ledger.models import Account
from ledger.models import Transaction as LedgerTransaction
from payouts import services, transfers
from payouts.errors import ApprovalRefused, PayoutError
from payouts.models import Payout, PayoutAccount
from payouts.selectors import payout_breakdown
from pledges import settlement
from tests.factories import BudgetItemFactory, CampaignFactory, MemberFactory
from tests.pledges.conftest import fake_gateway  # noqa: F401  (fixture)
from tests.pledges.test_settlement import deadline_passes, pledge_with_card
from tests.stripe_fixtures import stripe_event

pytestmark = pytest.mark.django_db(transaction=True)
Status = Payout.Status
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@pytest.fixture
def gateway(fake_gateway, celery_eager, settings):  # noqa: F811
    settings.REDIS_URL = ""  # the rate ceiling in a local file
    settings.CHARGE_RATE_PER_SECOND = 1000
    return fake_gateway


@pytest.fixture
def campaign(db, gateway):
    """A funded campaign: three pledges of €25 collected, two budget items."""
    campaign = CampaignFactory(live=True, goal_minor=5_000)
    BudgetItemFactory(campaign=campaign, label="Seeds", amount_minor=3_000)
    BudgetItemFactory(campaign=campaign, label="Tools", amount_minor=2_000)
    for _ in range(3):
        pledge_with_card(gateway, campaign, amount=2_500)
    deadline_passes(campaign)
    settlement.sweep()  # closes and charges
    settlement.sweep()  # every pledge collected: funded
    campaign.refresh_from_db()
    assert campaign.status == campaign.Status.FUNDED
    return campaign


@pytest.fixture
def organizer(campaign, gateway):
    """The organizer, with a verified Connect account made through the stand-in."""
    member = campaign.organizer
    services.start_onboarding(
        member, return_url="http://t/return", refresh_url="http://t/refresh", gateway=gateway
    )
    account = PayoutAccount.objects.get(member=member)
    complete_onboarding(gateway, account.stripe_account_id)
    services.refresh_connected_account(member, gateway=gateway)
    account.refresh_from_db()
    assert account.is_verified
    return member


def complete_onboarding(gateway, account_id, outcome="verified"):
    gateway.complete_onboarding(account_id, outcome=outcome)


def approver(name="treasurer"):
    """Staff holding approve_payout, enrolled in two-factor."""
    member = MemberFactory(email=f"{name}@example.org", is_staff=True)
    member.user_permissions.add(Permission.objects.get(codename="approve_payout"))
    TOTP.activate(member, TOTP_SECRET)
    return type(member).objects.get(pk=member.pk)  # fresh permission cache


def approve_payout(payout, *, by, bank_reference="", **options):
    """What an approver does in the admin, after entering a code: approve; for a bank transfer
    they claimed, make it and record the bank's reference."""
    approved = services.approve_payout(payout, by=by, two_factor_session=True, **options)
    if bank_reference and approved.status == Status.PROCESSING:
        services.record_bank_transfer(approved, by=by, bank_reference=bank_reference)
    return approved


def items(campaign):
    return {item.label: item.pk for item in campaign.budget_items.all()}


def request(campaign, organizer, amount=5_000, **options):
    allocations = options.pop("allocations", None)
    if allocations is None:
        ids = items(campaign)
        allocations = [
            services.Allocation(ids["Seeds"], amount - 1_000),
            services.Allocation(ids["Tools"], 1_000),
        ]
    return services.request_payout(
        campaign,
        by=organizer,
        amount_minor=amount,
        currency=options.pop("currency", campaign.currency),
        allocations=allocations,
        note=options.pop("note", "Seeds and tools for the spring planting."),
        **options,
    )


def after_window(payout):
    Payout.objects.filter(pk=payout.pk).update(
        review_window_ends_at=timezone.now() - timedelta(seconds=1)
    )
    payout.refresh_from_db()
    return payout


def transfers_at_provider(gateway):
    return list(gateway.standin.all("transfer"))


# --- fees ------------------------------------------------------------------------------------
def test_each_collected_pledge_posts_its_processor_and_platform_fee(campaign):
    kinds = LedgerTransaction.Kind
    platform = LedgerTransaction.objects.filter(kind=kinds.PLATFORM_FEE, campaign_id=campaign.pk)
    assert platform.count() == 3
    assert {t.entries.get(amount_minor__gt=0).amount_minor for t in platform} == {125}  # 5 %
    totals = ledger_selectors.campaign_totals(campaign.pk)
    assert totals[kinds.CONTRIBUTION] == 7_500
    assert totals[kinds.PLATFORM_FEE] == 375
    processor = totals[kinds.PROCESSOR_FEE]
    assert processor > 0
    breakdown = payout_breakdown(campaign)
    assert breakdown.held == 7_500 - 375 - processor == breakdown.available
    assert breakdown.net_collected == breakdown.held


def test_fees_on_a_tiny_contribution_never_take_more_than_it_holds(settings):
    settings.PLATFORM_FEE_PERCENT = "5"
    fees = contribution_fees(30)  # estimate: 1.5 % + 25 = 25; platform 2 (1.5 rounds up)
    assert (fees.processor_minor, fees.platform_minor, fees.organizer_minor) == (25, 2, 3)
    fees = contribution_fees(20)
    assert fees.processor_minor == 20 and fees.platform_minor == 0 and fees.organizer_minor == 0
    assert fees.processor_estimated
    assert contribution_fees(1_000, 59).processor_estimated is False


# --- payout accounts ------------------------------------------------------------------------
def test_onboarding_opens_one_account_and_mirrors_its_verification(campaign, gateway):
    member = campaign.organizer
    first = services.start_onboarding(member, return_url="http://t/r", refresh_url="http://t/f")
    second = services.start_onboarding(member, return_url="http://t/r", refresh_url="http://t/f")
    assert first != second  # a new link each time, for one account
    assert len(list(gateway.standin.all("account"))) == 1
    account = PayoutAccount.objects.get(member=member)
    assert account.verification == PayoutAccount.Verification.PENDING
    complete_onboarding(gateway, account.stripe_account_id, outcome="restricted")
    services.refresh_connected_account(member)
    account.refresh_from_db()
    assert account.verification == PayoutAccount.Verification.RESTRICTED
    assert account.requirements_due
    assert AuditEvent.objects.filter(
        action="payout_account:verification", to_status="restricted"
    ).exists()


def test_a_request_on_an_unverified_account_waits_on_hold_until_it_is_verified(campaign, gateway):
    member = campaign.organizer
    services.start_onboarding(member, return_url="http://t/r", refresh_url="http://t/f")
    payout = request(campaign, member)
    assert payout.status == Status.ON_HOLD
    assert payout.hold_kind == Payout.HoldKind.ACCOUNT_UNVERIFIED
    with pytest.raises(PayoutError):
        services.release_payout(payout, by=approver())
    complete_onboarding(gateway, PayoutAccount.objects.get(member=member).stripe_account_id)
    services.refresh_connected_account(member)
    payout.refresh_from_db()
    assert payout.status == Status.REQUESTED


# --- requests: bad input ------------------------------------------------------------------
def test_a_request_is_refused_for_anyone_but_the_organizer(campaign, organizer):
    co_organizer = MemberFactory()
    Collaborator.objects.create(
        campaign=campaign,
        email=co_organizer.email,
        member=co_organizer,
        invited_by=organizer,
        accepted_at=timezone.now(),
    )
    with pytest.raises(PayoutError, match="co-organizers cannot"):
        request(campaign, co_organizer)
    with pytest.raises(NotPermitted):
        request(campaign, MemberFactory())
    assert not Payout.objects.exists()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"amount": 999_999}, "at most"),
        ({"currency": "USD"}, "same currency"),
        ({"amount": 0}, "more than zero"),
        ({"amount": -5}, "more than zero"),
        ({"amount": True}, "more than zero"),
        ({"note": "   "}, "what the money is for"),
        ({"allocations": []}, "budget items"),
    ],
)
def test_bad_requests_are_refused_and_change_nothing(campaign, organizer, options, message):
    with pytest.raises(PayoutError, match=message):
        request(campaign, organizer, **options)
    assert not Payout.objects.exists()
    assert not AuditEvent.objects.filter(action="payout:requested").exists()


def test_allocations_must_be_the_campaigns_items_and_add_up(campaign, organizer):
    ids = items(campaign)
    other = BudgetItemFactory()  # another campaign's
    cases = [
        [services.Allocation(ids["Seeds"], 4_000)],  # adds up to 4,000 of 5,000
        [services.Allocation(other.pk, 5_000)],
        [services.Allocation(ids["Seeds"], 2_500), services.Allocation(ids["Seeds"], 2_500)],
        [services.Allocation(None, 5_000, label="")],
        [services.Allocation(ids["Seeds"], -1), services.Allocation(ids["Tools"], 5_001)],
    ]
    for allocations in cases:
        with pytest.raises(PayoutError):
            request(campaign, organizer, allocations=allocations)
    assert not Payout.objects.exists()
    payout = request(
        campaign,
        organizer,
        allocations=[
            services.Allocation(ids["Seeds"], 4_000),
            services.Allocation(None, 1_000, label="Hall rental"),
        ],
    )
    assert sorted(payout.allocations.values_list("label", "amount_minor")) == [
        ("Hall rental", 1_000),
        ("Seeds", 4_000),
    ]


def test_open_requests_count_against_what_is_available(campaign, organizer):
    available = payout_breakdown(campaign).available
    request(campaign, organizer, amount=5_000)
    assert payout_breakdown(campaign).available == available - 5_000
    with pytest.raises(PayoutError, match="at most"):
        request(campaign, organizer, amount=available - 5_000 + 1)
    request(campaign, organizer, amount=available - 5_000)  # partial payouts: the rest
    assert payout_breakdown(campaign).available == 0


def test_no_payout_on_a_campaign_that_is_live_failed_or_cancelled(db, gateway):
    live = CampaignFactory(live=True)
    BudgetItemFactory(campaign=live)
    services.save_bank_account(
        live.organizer, iban="BE68 5390 0754 7034", account_holder="Jo Organizer"
    )
    with pytest.raises(PayoutError, match="once the campaign has ended"):
        request(live, live.organizer, amount=100, allocations=[services.Allocation(None, 100, "x")])
    live.status = live.Status.FAILED
    live.save()
    with pytest.raises(PayoutError, match="not funded"):
        request(live, live.organizer, amount=100, allocations=[services.Allocation(None, 100, "x")])


# --- four eyes -------------------------------------------------------------------------------
def test_the_organizer_requester_or_last_changer_cannot_approve(campaign, organizer):
    payout = after_window(request(campaign, organizer))
    organizer.is_staff = True
    organizer.save()
    organizer.user_permissions.add(Permission.objects.get(codename="approve_payout"))
    TOTP.activate(organizer, TOTP_SECRET)
    organizer = type(organizer).objects.get(pk=organizer.pk)
    co_organizer = approver("co")
    Collaborator.objects.create(
        campaign=campaign, email=co_organizer.email, member=co_organizer, invited_by=organizer
    )
    holder = approver("holder")
    services.hold_payout(payout, by=holder, reason="Checking the invoice")
    services.release_payout(payout, by=holder)
    not_enrolled = MemberFactory(is_staff=True)
    not_enrolled.user_permissions.add(Permission.objects.get(codename="approve_payout"))
    not_enrolled = type(not_enrolled).objects.get(pk=not_enrolled.pk)
    no_permission = MemberFactory(is_staff=True)

    for member, message in [
        (organizer, "You organize this campaign"),
        (co_organizer, "You organize this campaign"),
        (holder, "You last changed this payout"),
        (not_enrolled, "two-factor"),
        (no_permission, "permission"),
    ]:
        with pytest.raises(ApprovalRefused, match=message):
            approve_payout(payout, by=member)
    payout.refresh_from_db()
    assert payout.status == Status.REQUESTED
    refusals = AuditEvent.objects.filter(action="payout:approval_refused", target_id=payout.pk)
    assert refusals.count() == 5
    assert not LedgerTransaction.objects.filter(kind=LedgerTransaction.Kind.PAYOUT).exists()


def test_the_review_window_blocks_approval_until_it_ends_or_is_waived(campaign, organizer):
    payout = request(campaign, organizer)
    treasurer, waiver = approver("t1"), approver("t2")
    with pytest.raises(ApprovalRefused, match="raise concerns until"):
        approve_payout(payout, by=treasurer)
    with pytest.raises(PayoutError, match="reason"):
        services.waive_review_window(payout, by=waiver, reason=" ")
    services.waive_review_window(payout, by=waiver, reason="Rent is due tomorrow")
    assert AuditEvent.objects.filter(action="payout:window_waived", actor=waiver).exists()
    with pytest.raises(ApprovalRefused, match="last changed"):
        approve_payout(payout, by=waiver)  # the waiver is a change: four eyes
    assert approve_payout(payout, by=treasurer).moved


# --- approval and transfer -----------------------------------------------------------------
def test_approval_reserves_the_money_and_one_transfer_pays_it(campaign, organizer, gateway):
    payout = after_window(request(campaign, organizer))
    held_before = payout_breakdown(campaign).held
    treasurer = approver()

    approve_payout(payout, by=treasurer)
    approve_payout(payout, by=treasurer)  # a double click
    approve_payout(payout, by=approver("other"))  # a second admin at once

    payout.refresh_from_db()
    assert payout.status == Status.PAID
    assert payout.transfer_id.startswith("tr_")
    assert payout.approved_by == treasurer
    made = transfers_at_provider(gateway)
    assert len(made) == 1
    assert made[0]["amount"] == 5_000
    assert made[0]["destination"] == PayoutAccount.objects.get(member=organizer).stripe_account_id
    assert made[0]["metadata"]["payout_id"] == str(payout.public_id)
    breakdown = payout_breakdown(campaign)
    assert breakdown.paid_out == 5_000
    assert breakdown.in_transfer == 0
    assert breakdown.held == held_before - 5_000
    assert AuditEvent.objects.filter(target_id=payout.pk, to_status=Status.APPROVED).count() == 1
    emails = set(
        OutboundEmail.objects.filter(key__startswith=f"payout:{payout.pk}:").values_list(
            "template", flat=True
        )
    )
    assert emails == {"payout_approved", "payout_paid"}


def test_a_lost_transfer_response_is_found_not_repeated(campaign, organizer, gateway, monkeypatch):
    payout = after_window(request(campaign, organizer))
    sent = []
    monkeypatch.setattr("payouts.tasks.transfer_payout.delay", lambda *args: sent.append(args))
    approve_payout(payout, by=approver())
    assert sent == [(payout.pk,)]
    # The provider makes the transfer but the answer never arrives.
    real_create = gateway.create_transfer

    def lost(**kwargs):
        real_create(**kwargs)
        from payments.gateway import PaymentProviderError

        raise PaymentProviderError("lost", retryable=True)

    monkeypatch.setattr(gateway, "create_transfer", lost)
    with pytest.raises(transfers.TransferInterrupted):
        transfers.send_transfer(payout.pk)
    payout.refresh_from_db()
    assert payout.status == Status.PROCESSING
    monkeypatch.setattr(gateway, "create_transfer", real_create)

    transfers.send_transfer(payout.pk)  # the retry finds it by its transfer group

    payout.refresh_from_db()
    assert payout.status == Status.PAID
    assert len(transfers_at_provider(gateway)) == 1


def test_a_refused_transfer_returns_the_money_and_the_payout_to_review(
    campaign, organizer, gateway, monkeypatch
):
    payout = after_window(request(campaign, organizer))
    held_before = payout_breakdown(campaign).held
    # The platform's balance at the provider is short (the money is not there yet).
    from payments.gateway import PaymentProviderError

    def refused(**kwargs):
        raise PaymentProviderError(
            "Your balance is too low for this transfer.", code="balance_insufficient"
        )

    real_create = gateway.create_transfer
    monkeypatch.setattr(gateway, "create_transfer", refused)
    approve_payout(payout, by=approver())

    payout.refresh_from_db()
    assert payout.status == Status.REQUESTED
    assert "balance_insufficient" in payout.failure_message
    assert payout_breakdown(campaign).held == held_before
    kinds = LedgerTransaction.Kind
    assert LedgerTransaction.objects.filter(kind=kinds.PAYOUT_REVERSAL).count() == 1
    assert OutboundEmail.objects.filter(template="payout_failed").count() == 1
    # Approved again, it is a new attempt with a new key, and it is paid.
    monkeypatch.setattr(gateway, "create_transfer", real_create)
    payout = after_window(payout)
    approve_payout(payout, by=approver("second"))
    payout.refresh_from_db()
    assert payout.status == Status.PAID
    assert payout.transfer_number == 2
    assert len(transfers_at_provider(gateway)) == 1


def test_the_transfer_webhook_records_a_payout_whose_worker_died(
    campaign, organizer, gateway, monkeypatch, post_stripe_webhook
):
    payout = after_window(request(campaign, organizer))
    monkeypatch.setattr("payouts.tasks.transfer_payout.delay", lambda *args: None)
    approve_payout(payout, by=approver())
    payout.refresh_from_db()
    # The worker claimed it and made the transfer, then died before recording it.
    transfers._claim(payout.pk)
    made = gateway.create_transfer(
        amount_minor=payout.amount_minor,
        currency=payout.currency,
        destination=payout.destination,
        idempotency_key=transfers.transfer_key(payout),
        transfer_group=transfers.transfer_group(payout),
        metadata=transfers.transfer_metadata(payout),
    )
    transfer = gateway.standin.get("transfer", made.id)
    response = post_stripe_webhook(stripe_event("transfer.created", transfer))
    assert response.status_code == 200
    payout.refresh_from_db()
    assert payout.status == Status.PAID
    assert payout.transfer_id == made.id


def test_the_sweep_resends_a_lost_task_message(campaign, organizer, gateway, monkeypatch):
    payout = after_window(request(campaign, organizer))
    from payouts.tasks import transfer_payout

    lost, real_delay = [], transfer_payout.delay
    monkeypatch.setattr(transfer_payout, "delay", lambda *args: lost.append(args))
    approve_payout(payout, by=approver())
    assert transfers.sweep() == 0  # sent moments ago: still queued
    Payout.objects.filter(pk=payout.pk).update(
        transfer_enqueued_at=timezone.now() - timedelta(hours=1)
    )
    monkeypatch.setattr(transfer_payout, "delay", real_delay)
    assert transfers.sweep() == 1
    payout.refresh_from_db()
    assert payout.status == Status.PAID
    assert len(transfers_at_provider(gateway)) == 1


# --- bank transfer ---------------------------------------------------------------------------
def test_a_bank_payout_is_claimed_by_its_approver_who_records_the_transfer(campaign, gateway):
    member = campaign.organizer
    services.save_bank_account(member, iban="BE68 5390 0754 7034", account_holder="Jo Organizer")
    payout = after_window(request(campaign, member))
    assert payout.destination == "BE68 •••• 7034"
    assert payout.bank_iban == "BE68539007547034"  # what the approver pays, kept private
    treasurer, other = approver(), approver("other")

    claimed = approve_payout(payout, by=treasurer)
    assert claimed.status == Status.PROCESSING  # claimed: nobody else pays it
    approve_payout(payout, by=other)  # a second admin at the same time: nothing twice
    with pytest.raises(PayoutError, match="only they make and record"):
        services.record_bank_transfer(payout, by=other, bank_reference="SEPA-X")
    with pytest.raises(PayoutError, match="reference"):
        services.record_bank_transfer(payout, by=treasurer, bank_reference=" ")
    services.record_bank_transfer(payout, by=treasurer, bank_reference="SEPA-2026-12-001")
    payout.refresh_from_db()
    assert payout.status == Status.PAID
    assert payout.bank_reference == "SEPA-2026-12-001"
    assert not transfers_at_provider(gateway)
    assert payout_breakdown(campaign).paid_out == 5_000
    bank = Account.objects.get(kind=Account.Kind.ORGANIZER_BANK, reference=str(campaign.pk))
    assert ledger_selectors.balance(bank) == 5_000


def test_a_bank_account_changed_after_the_request_is_refused(campaign, gateway):
    member = campaign.organizer
    services.save_bank_account(member, iban="BE68539007547034", account_holder="Jo Organizer")
    payout = after_window(request(campaign, member))
    # Another IBAN that masks the same way (same country, check digits and last four).
    services.save_bank_account(member, iban="BE68000000857034", account_holder="Someone Else")
    assert PayoutAccount.objects.get(member=member).masked_iban == payout.destination
    with pytest.raises(ApprovalRefused, match="bank account changed"):
        approve_payout(payout, by=approver())
    assert not LedgerTransaction.objects.filter(kind=LedgerTransaction.Kind.PAYOUT).exists()


def test_a_failed_bank_transfer_returns_to_review(campaign, gateway):
    member = campaign.organizer
    services.save_bank_account(member, iban="BE68539007547034", account_holder="Jo Organizer")
    payout = after_window(request(campaign, member))
    treasurer = approver()
    approve_payout(payout, by=treasurer)
    held = payout_breakdown(campaign).held
    services.bank_transfer_failed(payout, by=treasurer, reason="The bank refused the IBAN.")
    payout.refresh_from_db()
    assert payout.status == Status.REQUESTED
    assert payout_breakdown(campaign).held == held + 5_000


def test_approving_needs_the_session_to_have_passed_two_factor(campaign, organizer):
    payout = after_window(request(campaign, organizer))
    treasurer = approver()
    with pytest.raises(ApprovalRefused, match="Enter a code"):
        services.approve_payout(payout, by=treasurer, two_factor_session=False)
    assert AuditEvent.objects.filter(action="payout:approval_refused", actor=treasurer).exists()


def test_reject_and_hold_need_a_reason_and_email_the_organizer(campaign, organizer):
    payout = request(campaign, organizer)
    treasurer = approver()
    with pytest.raises(PayoutError, match="reason"):
        services.reject_payout(payout, by=treasurer, reason="")
    services.hold_payout(payout, by=treasurer, reason="Which invoice is this?")
    payout.refresh_from_db()
    assert payout.status == Status.ON_HOLD and payout.hold_kind == Payout.HoldKind.ADMIN
    services.reject_payout(payout, by=treasurer, reason="The invoice is for another project.")
    payout.refresh_from_db()
    assert payout.status == Status.REJECTED
    email = OutboundEmail.objects.get(template="payout_rejected")
    assert "The invoice is for another project." in email.body_text
    assert payout_breakdown(campaign).requested == 0  # its money is available again
