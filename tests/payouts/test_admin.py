"""The payouts admin over HTTP, as the admins reviewing money use it: the review queue, a
payout's read-only review page, the decision buttons and their confirmation pages (through
payouts.services, over the in-process stand-in with eager Celery), two-factor on approval,
every refused approval audited, a bank transfer claimed by its approver and recorded by them
alone, and payout accounts with the IBAN masked."""

import re
import time
from datetime import timedelta

import pytest
from allauth.mfa import app_settings as mfa_settings
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, generate_totp_secret, hotp_value
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from core.models import AuditEvent
from core.money import format_money
from payouts import services
from payouts.admin import receipt_url
from payouts.models import Payout, PayoutAccount, PayoutConcern
from payouts.receipts import check_receipt
from payouts.selectors import payout_breakdown
from tests.core.test_wording import phrases, title_case_words
from tests.factories import BudgetItemFactory, CampaignFactory, MemberFactory
from tests.payouts.conftest import connect_verified, funded
from tests.payouts.test_services import approve_payout
from tests.uploads import image_bytes, upload

pytestmark = pytest.mark.django_db(transaction=True)

Status = Payout.Status
IBAN = "BE68539007547034"
QUEUE = reverse("admin:payouts_payout_changelist")
TWO_FACTOR_MIDDLEWARE = "members.middleware.AdminTwoFactorMiddleware"


# --- fixtures (the stand-in, a funded campaign and its organizer: tests/payouts/conftest.py) --
@pytest.fixture
def campaign(funded_campaign):
    """€75 collected, budget items Seeds €30 and Tools €20."""
    return funded_campaign


def another_funded_campaign(gateway, title):
    campaign = CampaignFactory(live=True, goal_minor=5_000, title=title)
    BudgetItemFactory(campaign=campaign, label="Seeds", amount_minor=3_000)
    BudgetItemFactory(campaign=campaign, label="Tools", amount_minor=2_000)
    return funded(gateway, campaign)


def request_payout(
    campaign, amount=5_000, note="Seeds and tools for the spring planting.", receipts=()
):
    items = {item.label: item.pk for item in campaign.budget_items.all()}
    return services.request_payout(
        campaign,
        by=campaign.organizer,
        amount_minor=amount,
        currency=campaign.currency,
        allocations=[
            services.Allocation(items["Seeds"], amount - 1_000),
            services.Allocation(items["Tools"], 1_000),
        ],
        note=note,
        receipts=receipts,
    )


def after_window(payout):
    """As if the payout's public review window had passed."""
    Payout.objects.filter(pk=payout.pk).update(
        review_window_ends_at=timezone.now() - timedelta(seconds=1)
    )
    payout.refresh_from_db()
    return payout


def grant(member, *codenames):
    member.is_staff = True
    member.save()
    for codename in ("view_payout", "view_payoutaccount", *codenames):
        member.user_permissions.add(Permission.objects.get(codename=codename))
    return type(member).objects.get(pk=member.pk)  # a fresh permission cache


def code_for(secret):
    """The code an authenticator app shows now for this key (allauth's own TOTP helpers)."""
    return format_hotp_value(hotp_value(secret, int(time.time()) // mfa_settings.TOTP_PERIOD))


def log_in(member, *, two_factor):
    """A client logged in as `member`; with two_factor, enrolled with an authenticator app and
    having entered its code in this session (allauth's "confirm it is you" page)."""
    client = Client()
    client.force_login(member)
    if two_factor:
        secret = generate_totp_secret()
        TOTP.activate(member, secret)
        response = client.post(
            reverse("mfa_reauthenticate"), {"code": code_for(secret), "next": "/admin/"}
        )
        assert response.status_code == 302, response.content.decode()[:500]
    return client


def approver(**options):
    """Staff holding payouts.approve_payout, enrolled, this session past two-factor."""
    member = grant(MemberFactory(**options), "approve_payout")
    return member, log_in(member, two_factor=True)


def viewer():
    """Staff who may look at payouts and nothing more."""
    member = grant(MemberFactory())
    return member, log_in(member, two_factor=False)


def change_url(payout):
    return reverse("admin:payouts_payout_change", args=[payout.pk])


def action_url(payout, name):
    return reverse("admin:payouts_payout_actions", args=[payout.pk, name])


def payout_events(payout, action):
    return AuditEvent.objects.filter(
        target_type=ContentType.objects.get_for_model(Payout),
        target_id=str(payout.pk),
        action=action,
    )


def messages_of(response):
    return [str(message) for message in get_messages(response.wsgi_request)]


def page(client, url):
    response = client.get(url)
    assert response.status_code == 200, response
    return response.content.decode()


# --- the queue --------------------------------------------------------------------------------
def test_the_queue_lists_payouts_in_review_oldest_first_and_not_settled_ones(gateway):
    first = another_funded_campaign(gateway, "Orchard on the hill")
    second = another_funded_campaign(gateway, "Repair café")
    connect_verified(gateway, first.organizer)
    services.save_bank_account(second.organizer, iban=IBAN, account_holder="Jo Organizer")
    older = request_payout(second, amount=2_000)
    newer = request_payout(first, amount=3_000)
    Payout.objects.filter(pk=older.pk).update(requested_at=timezone.now() - timedelta(days=2))
    paid = after_window(request_payout(second, amount=1_500))
    treasurer, _client = approver()
    approve_payout(paid, by=treasurer, bank_reference="SEPA-1")
    paid.refresh_from_db()
    assert paid.status == Status.PAID

    _, client = viewer()
    queue = page(client, QUEUE)
    assert "Payouts in review, oldest first" in queue
    assert queue.index("Repair café") < queue.index("Orchard on the hill")  # oldest first
    assert change_url(older) in queue and change_url(newer) in queue
    assert change_url(paid) not in queue
    assert "€15.00" not in queue
    # Every payout when asked for.
    everything = page(client, f"{QUEUE}?status=all")
    assert change_url(paid) in everything and change_url(older) in everything
    assert change_url(paid) in page(client, f"{QUEUE}?status=paid")
    assert change_url(older) not in page(client, f"{QUEUE}?status=paid")
    bank_only = page(client, f"{QUEUE}?method__exact=bank_transfer")
    assert change_url(older) in bank_only and change_url(newer) not in bank_only
    # Search by campaign title, organizer email and (short) public id.
    assert change_url(newer) in page(client, f"{QUEUE}?q=Orchard")
    assert change_url(older) not in page(client, f"{QUEUE}?q=Orchard")
    assert change_url(older) in page(client, f"{QUEUE}?q={second.organizer.email}")
    assert change_url(newer) in page(client, f"{QUEUE}?q={newer.short_id}")
    assert change_url(older) not in page(client, f"{QUEUE}?q={newer.short_id}")


def test_the_queue_shows_who_how_verified_the_window_and_what_is_available(campaign, organizer):
    payout = request_payout(campaign, amount=4_000)
    other = request_payout(campaign, amount=1_000)
    _, client = viewer()
    queue = page(client, QUEUE)
    assert str(organizer) in queue and "€40.00" in queue
    assert "Stripe Connect" in queue and "Verified" in queue
    # Available for each row: the campaign's money less its *other* open requests, the figure
    # approval checks (the selector's, with the payout left out).
    for row in (payout, other):
        available = payout_breakdown(campaign, exclude_payout=row).available
        assert available >= row.amount_minor
        assert f">{format_money(available, campaign.currency)}</span>" in queue

    treasurer, _ = approver()
    services.waive_review_window(payout, by=treasurer, reason="Seeds must be sown this week.")
    assert "Waived" in page(client, QUEUE)


def test_the_queue_reads_a_fixed_number_of_queries_however_many_rows(campaign, organizer):
    _, client = viewer()
    request_payout(campaign, amount=1_000)
    client.get(QUEUE)  # warm up (content types, sessions)
    with CaptureQueriesContext(connection) as one_row:
        assert client.get(QUEUE).status_code == 200
    for number in range(4):  # four different requests (the same one twice is one request)
        request_payout(campaign, amount=1_000, note=f"Request {number}")
    with CaptureQueriesContext(connection) as five_rows:
        response = client.get(QUEUE)
    assert response.content.decode().count("/change/") >= 5
    assert len(five_rows) == len(one_row)


# --- the review page ----------------------------------------------------------------------------
def test_the_review_page_shows_the_money_allocations_and_history_read_only(campaign, organizer):
    invoice = check_receipt(upload("Seed invoice.png", image_bytes(size=(400, 300))))
    payout = request_payout(campaign, amount=5_000, receipts=[invoice])
    [receipt] = payout.receipts.all()
    breakdown = payout_breakdown(campaign)
    _, client = viewer()
    review = page(client, change_url(payout))
    assert "Review payout" in review
    # The campaign's money from the ledger: collected €75, each fee, what is left.
    assert "Collected from supporters" in review and "€75.00" in review
    assert breakdown.platform_fees == 375 and "€3.75" in review
    assert f"€{breakdown.processor_fees / 100:.2f}" in review
    assert f"€{breakdown.held / 100:.2f}" in review
    assert f"€{breakdown.available / 100:.2f}" in review
    available = payout_breakdown(campaign, exclude_payout=payout).available
    assert f"€{available / 100:.2f}" in review
    # What it pays for: each budget line, its budget and this payout's part.
    assert "Seeds" in review and "€40.00" in review and "€30.00" in review
    assert "Tools" in review and "€10.00" in review and "€20.00" in review
    assert "Seeds and tools for the spring planting." in review
    assert "Seed invoice.png" in review and "image/png" in review
    if receipt_url(receipt):  # once payouts.urls is mounted: the download is linked
        assert f'href="{receipt_url(receipt)}"' in review
    # Refunds and disputes, supporters' concerns (later parts of the issue fill them).
    assert "0% of the campaign's collected pledges were refunded or disputed." in review
    assert "No open disputes." in review
    assert "Supporters' concerns" in review and "No concerns raised." in review
    # The organizer's account and the review window.
    assert PayoutAccount.objects.get(member=organizer).stripe_account_id in review
    assert "Open: supporters can raise concerns until" in review
    # The history, newest first.
    assert "payout:requested" in review
    # Read-only: no form to save, no delete, no add.
    assert 'name="_save"' not in review and "/delete/" not in review
    assert client.get(reverse("admin:payouts_payout_add")).status_code == 403
    assert client.post(change_url(payout), {"note": "changed"}).status_code == 403
    payout.refresh_from_db()
    assert payout.note == "Seeds and tools for the spring planting."


def test_the_review_page_shows_open_disputes_and_supporters_concerns(campaign, organizer):
    from pledges.models import Pledge

    payout = request_payout(campaign, amount=1_000)
    supporter_pledge = Pledge.objects.filter(campaign=campaign).select_related("supporter")[0]
    # Arranged in the database: the dispute and concern services are part 2's (payouts.disputes,
    # payouts.concerns); this is what they leave behind for the admin to read.
    Pledge.objects.filter(pk=supporter_pledge.pk).update(status=Pledge.Status.DISPUTED)
    PayoutConcern.objects.create(
        payout=payout, author=supporter_pledge.supporter, text="Were the seeds not donated?"
    )
    _, client = viewer()
    review = page(client, change_url(payout))
    assert reverse("admin:pledges_pledge_change", args=[supporter_pledge.pk]) in review
    assert "its payouts wait until the disputes are closed" in review
    assert "33% of the campaign's collected pledges were refunded or disputed." in review
    assert "Were the seeds not donated?" in review and str(supporter_pledge.supporter) in review
    assert "No concerns raised." not in review


# --- approval: four eyes, two-factor, the window ------------------------------------------------
def test_the_organizer_and_a_co_organizer_are_refused_with_an_audit_row_and_nothing_moves(
    campaign, organizer, co_organizer, gateway
):
    payout = after_window(request_payout(campaign))
    for member, problem in [
        (organizer, "You organize this campaign"),
        (co_organizer, "You organize this campaign"),
    ]:
        member = grant(member, "approve_payout")
        client = log_in(member, two_factor=True)
        confirm = page(client, action_url(payout, "approve"))
        assert "You cannot approve this payout now:" in confirm and problem in confirm
        response = client.post(action_url(payout, "approve"))
        assert response.status_code == 302 and response["Location"] == change_url(payout)
        assert any(problem in message for message in messages_of(response))
        assert payout_events(payout, "payout:approval_refused").filter(actor=member).exists()
    payout.refresh_from_db()
    assert payout.status == Status.REQUESTED and payout.approved_by is None
    breakdown = payout_breakdown(campaign)
    assert breakdown.in_transfer == 0 and breakdown.paid_out == 0
    assert len(gateway.transfers) == 0


def test_a_second_admin_with_two_factor_approves_after_the_window_and_one_transfer_pays_it(
    campaign, organizer, gateway
):
    payout = after_window(request_payout(campaign))
    treasurer, client = approver()
    confirm = page(client, action_url(payout, "approve"))
    assert "You cannot approve this payout now:" not in confirm
    assert payout.destination in confirm and "Verified" in confirm
    assert 'value="Approve"' in confirm

    response = client.post(action_url(payout, "approve"), {"note": "Invoices checked."})
    assert response.status_code == 302 and response["Location"] == change_url(payout)
    assert any("Approved and paid: €50.00." in m for m in messages_of(response))
    # A double click: the second POST finds it paid and changes nothing.
    again = client.post(action_url(payout, "approve"), {"note": "Invoices checked."})
    assert any("Nothing was changed: the payout is paid." in m for m in messages_of(again))

    payout.refresh_from_db()
    assert payout.status == Status.PAID and payout.approved_by == treasurer
    assert (
        AuditEvent.objects.filter(action="status:approved", target_id=str(payout.pk)).count() == 1
    )
    [transfer] = gateway.transfers.values()
    assert transfer.amount_minor == 5_000 and transfer.destination == payout.destination
    assert payout.transfer_id == transfer.id
    assert payout_breakdown(campaign).paid_out == 5_000
    # The paid payout is out of the queue and its page has no buttons left.
    assert change_url(payout) not in page(client, QUEUE)
    assert action_url(payout, "approve") not in page(client, change_url(payout))


def test_a_waiver_by_a_third_admin_lets_a_second_approve_before_the_window_ends(
    campaign, organizer, gateway
):
    payout = request_payout(campaign)
    treasurer, client = approver()
    confirm = page(client, action_url(payout, "approve"))
    assert "Supporters can raise concerns until" in confirm  # the window is still open
    refused = client.post(action_url(payout, "approve"))
    assert any("waive the review window" in m for m in messages_of(refused))
    assert Payout.objects.get(pk=payout.pk).status == Status.REQUESTED

    chair, chair_client = approver()
    waive = action_url(payout, "waive_review_window")
    assert waive in page(chair_client, change_url(payout))
    assert "Give a reason" in chair_client.post(waive, {"reason": "  "}).content.decode()
    response = chair_client.post(waive, {"reason": "The seeds must be sown this week."})
    assert any("Review window waived" in m for m in messages_of(response))
    payout.refresh_from_db()
    assert payout.window_waived_by == chair
    assert payout.window_waiver_reason == "The seeds must be sown this week."
    review = page(client, change_url(payout))
    assert "Waived by" in review and "The seeds must be sown this week." in review
    assert waive not in review  # waived once

    # The one who waived changed it: not them.
    chair_refused = chair_client.post(action_url(payout, "approve"))
    assert any("You last changed this payout" in m for m in messages_of(chair_refused))
    response = client.post(action_url(payout, "approve"))
    assert any("Approved" in m for m in messages_of(response))
    payout.refresh_from_db()
    assert payout.status == Status.PAID and payout.approved_by == treasurer
    assert len(gateway.transfers) == 1


def test_approving_needs_this_session_to_have_passed_two_factor(
    campaign, organizer, gateway, settings
):
    # The admin's middleware would send this session to enter a code before any admin page;
    # without it, the approve page still refuses on its own.
    settings.MIDDLEWARE = [name for name in settings.MIDDLEWARE if name != TWO_FACTOR_MIDDLEWARE]
    payout = after_window(request_payout(campaign))
    member = grant(MemberFactory(), "approve_payout")
    TOTP.activate(member, generate_totp_secret())  # enrolled, but no code in this session
    client = log_in(member, two_factor=False)
    confirm = page(client, action_url(payout, "approve"))
    assert "Approving needs a code from your authenticator app in this session." in confirm
    assert reverse("mfa_reauthenticate") in confirm
    assert 'value="Approve"' not in confirm
    response = client.post(action_url(payout, "approve"))
    assert response.status_code == 302  # back to the payout, the service's refusal shown
    assert any("Enter a code from your authenticator app" in m for m in messages_of(response))
    assert AuditEvent.objects.filter(
        action="payout:approval_refused", target_id=payout.pk, actor=member
    ).exists()
    payout.refresh_from_db()
    assert payout.status == Status.REQUESTED and len(gateway.transfers) == 0


# --- reject, hold, release --------------------------------------------------------------------
def test_reject_needs_a_reason_then_refuses_the_request(campaign, organizer):
    payout = request_payout(campaign)
    _, client = approver()
    reject = action_url(payout, "reject")
    confirm = page(client, reject)
    assert "The request is refused for good" in confirm and "€50.00" in confirm
    response = client.post(reject, {"reason": ""})
    assert response.status_code == 200 and "Give a reason" in response.content.decode()
    assert Payout.objects.get(pk=payout.pk).status == Status.REQUESTED
    response = client.post(reject, {"reason": "The invoice is for another project."})
    assert response["Location"] == change_url(payout)
    payout.refresh_from_db()
    assert payout.status == Status.REJECTED
    assert payout.decision_reason == "The invoice is for another project."
    assert change_url(payout) not in page(client, QUEUE)


def test_hold_then_release_and_who_may_approve_afterwards(campaign, organizer):
    payout = after_window(request_payout(campaign))
    holder, client = approver()
    assert "Give a reason" in client.post(action_url(payout, "hold")).content.decode()
    response = client.post(action_url(payout, "hold"), {"reason": "Which invoice is this?"})
    assert any("On hold" in m for m in messages_of(response))
    payout.refresh_from_db()
    assert payout.status == Status.ON_HOLD and payout.hold_kind == Payout.HoldKind.ADMIN
    review = page(client, change_url(payout))
    assert action_url(payout, "release") in review and action_url(payout, "approve") not in review
    assert change_url(payout) in page(client, QUEUE)  # held payouts stay in the queue
    # Approving a held payout (a typed URL: its button is not shown) is refused before the
    # service, and audited like the service's refusals; only looking writes nothing.
    looked = client.get(action_url(payout, "approve"))
    assert looked.status_code == 302 and looked["Location"] == change_url(payout)
    assert not payout_events(payout, "payout:approval_refused").exists()
    refused = client.post(action_url(payout, "approve"))
    assert any("the payout is on hold" in m for m in messages_of(refused))
    [audit] = payout_events(payout, "payout:approval_refused")
    assert audit.actor == holder and "the payout is on hold" in audit.note
    assert Payout.objects.get(pk=payout.pk).status == Status.ON_HOLD

    response = client.post(action_url(payout, "release"), {"note": "Invoice found."})
    assert any("back in review" in m for m in messages_of(response))
    payout.refresh_from_db()
    assert payout.status == Status.REQUESTED and payout.last_changed_by == holder
    refused = client.post(action_url(payout, "approve"))
    assert any("You last changed this payout" in m for m in messages_of(refused))
    assert Payout.objects.get(pk=payout.pk).status == Status.REQUESTED


def test_view_only_staff_see_no_buttons_and_cannot_post_to_them(campaign, organizer, gateway):
    payout = after_window(request_payout(campaign))
    member, client = viewer()
    review = page(client, change_url(payout))
    assert "Collected from supporters" in review
    assert "/actions/" not in review
    buttons = [
        ("approve", {}),
        ("reject", {"reason": "No."}),
        ("hold", {"reason": "Wait."}),
        ("release", {}),
        ("waive_review_window", {"reason": "Now."}),
        ("record_bank_transfer", {"bank_reference": "SEPA-1"}),
        ("bank_transfer_failed", {"reason": "Refused."}),
    ]
    for name, _data in buttons:
        assert client.get(action_url(payout, name)).status_code == 403
    assert not payout_events(payout, "payout:approval_refused").exists()  # only looked
    for name, data in buttons:
        assert client.post(action_url(payout, name), data).status_code == 403
    payout.refresh_from_db()
    assert payout.status == Status.REQUESTED and payout.window_waived_at is None
    assert len(gateway.transfers) == 0
    # The one refused approval, audited with why.
    [audit] = payout_events(payout, "payout:approval_refused")
    assert audit.actor == member and "permission to approve payouts" in audit.note


# --- bank transfers and payout accounts ---------------------------------------------------------
def bank_payout(campaign, iban="be68 5390 0754 7034"):
    """A bank-transfer payout past its review window, and the organizer's account."""
    account = services.save_bank_account(
        campaign.organizer, iban=iban, account_holder="Jo Organizer"
    )
    payout = after_window(request_payout(campaign))
    assert payout.method == PayoutAccount.Method.BANK_TRANSFER
    return payout, account


def test_approving_a_bank_payout_claims_it_and_its_approver_records_the_transfer(campaign, gateway):
    payout, account = bank_payout(campaign)
    treasurer, client = approver()
    review = page(client, change_url(payout))
    accounts_list = page(client, reverse("admin:payouts_payoutaccount_changelist"))
    account_page = page(client, reverse("admin:payouts_payoutaccount_change", args=[account.pk]))
    confirm = page(client, action_url(payout, "approve"))
    # Before approval the IBAN is masked everywhere, the approve page included.
    for shown in (review, accounts_list, account_page, confirm):
        assert "BE68 •••• 7034" in shown
        assert IBAN not in shown and "5390 0754" not in shown
    assert (
        "Approving claims this bank transfer for you: you then make it from the platform's "
        "bank account and record its reference here. Nobody else can."
    ) in confirm
    assert 'name="bank_reference"' not in confirm and "Jo Organizer" in confirm
    assert action_url(payout, "record_bank_transfer") not in review  # nothing claimed yet

    # Approving claims it: processing, the money reserved, and on to the record page.
    response = client.post(action_url(payout, "approve"), {"note": "Invoices checked."})
    record_url = action_url(payout, "record_bank_transfer")
    assert response.status_code == 302 and response["Location"] == record_url
    assert any("the bank transfer of €50.00 is yours to make" in m for m in messages_of(response))
    payout.refresh_from_db()
    assert payout.status == Status.PROCESSING and payout.approved_by == treasurer
    breakdown = payout_breakdown(campaign)
    assert breakdown.in_transfer == 5_000 and breakdown.paid_out == 0
    assert len(gateway.transfers) == 0  # the approver makes the transfer, not the provider

    # The record page: the payout's own IBAN grouped in fours, its holder, amount, description.
    recording = page(client, record_url)
    assert "BE68 5390 0754 7034" in recording and "Jo Organizer" in recording
    assert "€50.00" in recording and f"Groundswell payout {payout.short_id}" in recording
    assert 'name="bank_reference"' in recording
    assert action_url(payout, "bank_transfer_failed") in recording
    mine = page(client, change_url(payout))
    assert record_url in mine and "You claimed this bank transfer on" in mine
    assert IBAN not in mine and "5390 0754" not in mine  # the change page stays masked

    missing = client.post(record_url, {"bank_reference": "  "})
    assert missing.status_code == 200
    assert "Make the bank transfer first" in missing.content.decode()
    assert Payout.objects.get(pk=payout.pk).status == Status.PROCESSING

    response = client.post(record_url, {"bank_reference": "SEPA-2026-12-001"})
    assert response["Location"] == change_url(payout)
    assert any("Paid: €50.00" in m for m in messages_of(response))
    payout.refresh_from_db()
    assert payout.status == Status.PAID and payout.bank_reference == "SEPA-2026-12-001"
    assert payout_breakdown(campaign).paid_out == 5_000
    # Recorded once: a second submit changes nothing, and the page has no buttons left.
    again = client.post(record_url, {"bank_reference": "SEPA-2026-12-002"})
    assert any("Nothing was changed: the payout is paid." in m for m in messages_of(again))
    assert Payout.objects.get(pk=payout.pk).bank_reference == "SEPA-2026-12-001"
    assert record_url not in page(client, change_url(payout))


def test_only_the_approver_sees_where_to_send_a_claimed_bank_transfer_and_records_it(
    campaign, gateway
):
    payout, _account = bank_payout(campaign)
    treasurer, treasurer_client = approver()
    approve_payout(payout, by=treasurer)
    payout.refresh_from_db()
    assert payout.status == Status.PROCESSING

    other, client = approver()
    review = page(client, change_url(payout))
    assert f"Claimed by {treasurer} on " in review and "they make the transfer." in review
    record_url = action_url(payout, "record_bank_transfer")
    failed_url = action_url(payout, "bank_transfer_failed")
    assert record_url not in review and failed_url not in review
    assert action_url(payout, "approve") not in review
    # A typed URL: refused, the IBAN not shown, nothing recorded.
    for response in (
        client.get(record_url),
        client.post(record_url, {"bank_reference": "SEPA-3"}),
        client.get(failed_url),
        client.post(failed_url, {"reason": "I could not."}),
    ):
        assert response.status_code == 302 and response["Location"] == change_url(payout)
        assert any(f"Claimed by {treasurer}" in m for m in messages_of(response))
        assert IBAN not in response.content.decode()
    payout.refresh_from_db()
    assert payout.status == Status.PROCESSING and payout.bank_reference == ""
    # Approving again is no way around it: refused, and audited.
    again = client.post(action_url(payout, "approve"))
    assert any("is being transferred" in m for m in messages_of(again))
    assert payout_events(payout, "payout:approval_refused").filter(actor=other).exists()
    assert Payout.objects.get(pk=payout.pk).approved_by == treasurer
    # The approver still can.
    assert "BE68 5390 0754 7034" in page(treasurer_client, record_url)


def test_a_failed_bank_transfer_goes_back_to_review_with_the_money(campaign, gateway):
    payout, _account = bank_payout(campaign)
    treasurer, client = approver()
    client.post(action_url(payout, "approve"))
    assert Payout.objects.get(pk=payout.pk).status == Status.PROCESSING
    failed_url = action_url(payout, "bank_transfer_failed")
    assert failed_url in page(client, change_url(payout))
    confirm = page(client, failed_url)
    assert "The reserved money returns to the campaign" in confirm
    assert IBAN not in confirm and "5390 0754" not in confirm
    missing = client.post(failed_url, {"reason": ""})
    assert missing.status_code == 200 and "Give a reason" in missing.content.decode()
    assert Payout.objects.get(pk=payout.pk).status == Status.PROCESSING

    response = client.post(failed_url, {"reason": "The bank says the account is closed."})
    assert response["Location"] == change_url(payout)
    assert any("back on the campaign" in m for m in messages_of(response))
    payout.refresh_from_db()
    assert payout.status == Status.REQUESTED and payout.approved_by is None
    assert payout.failure_message == "The bank says the account is closed."
    breakdown = payout_breakdown(campaign)
    assert breakdown.in_transfer == 0 and breakdown.paid_out == 0
    review = page(client, change_url(payout))
    assert "again after a failed transfer: The bank says the account is closed." in review
    assert action_url(payout, "approve") in review and change_url(payout) in page(client, QUEUE)


def test_approval_is_refused_when_the_bank_account_changed_after_the_request(campaign, gateway):
    payout, _account = bank_payout(campaign, iban=IBAN)
    services.save_bank_account(
        campaign.organizer, iban="DE89 3704 0044 0532 0130 00", account_holder="Jo Organizer"
    )
    treasurer, client = approver()
    confirm = page(client, action_url(payout, "approve"))
    assert "changed after the request: it was BE68 •••• 7034, it is now DE89 •••• 3000" in confirm
    assert "bank account changed since this request" in confirm
    assert "DE89 3704 0044 0532 0130 00" not in confirm and "370400440532013000" not in confirm
    assert "it is now DE89 •••• 3000. Check with them" in page(client, change_url(payout))

    response = client.post(action_url(payout, "approve"))
    assert any("bank account changed since this request" in m for m in messages_of(response))
    assert payout_events(payout, "payout:approval_refused").filter(actor=treasurer).exists()
    payout.refresh_from_db()
    assert payout.status == Status.REQUESTED and payout.approved_by is None
    assert payout_breakdown(campaign).in_transfer == 0


def test_payout_accounts_are_read_only(campaign, organizer):
    _, client = viewer()
    account = PayoutAccount.objects.get(member=organizer)
    listing = page(client, reverse("admin:payouts_payoutaccount_changelist"))
    assert account.stripe_account_id in listing and "Verified" in listing
    detail = page(client, reverse("admin:payouts_payoutaccount_change", args=[account.pk]))
    assert 'name="_save"' not in detail and "/delete/" not in detail
    assert client.get(reverse("admin:payouts_payoutaccount_add")).status_code == 403


def test_the_payout_pages_are_in_sentence_case(campaign, organizer, gateway):
    # Lower-case names: the pages name the organizer and the admin ("Welcome, ada.").
    type(organizer).objects.filter(pk=organizer.pk).update(display_name="jo")
    type(campaign).objects.filter(pk=campaign.pk).update(title="Our garden")
    payout = request_payout(campaign)
    admin, client = approver(display_name="ada")
    for url in [
        QUEUE,  # (not a filtered list: Django's own "✖ Clear all filters" would count)
        change_url(payout),
        *(
            action_url(payout, name)
            for name in ("approve", "reject", "hold", "waive_review_window")
        ),
        reverse("admin:payouts_payoutaccount_changelist"),
        *bank_transfer_pages(gateway, admin),
    ]:
        html = page(client, url)
        # The window title is Django's "<object> | <page> | <site>": each part starts with a
        # capital by design.
        html = re.sub(r"<title>.*?</title>", "", html, flags=re.S)
        offending = {p: words for p in phrases(html) if (words := title_case_words(p))}
        assert offending == {}, url


def bank_transfer_pages(gateway, admin):
    """A bank payout `admin` claimed: its page, and the record and failed pages."""
    other = another_funded_campaign(gateway, "Our orchard")
    type(other.organizer).objects.filter(pk=other.organizer.pk).update(display_name="kim")
    payout, _account = bank_payout(other)
    approve_payout(payout, by=admin)
    assert Payout.objects.get(pk=payout.pk).status == Status.PROCESSING
    return [
        change_url(payout),
        action_url(payout, "record_bank_transfer"),
        action_url(payout, "bank_transfer_failed"),
    ]
