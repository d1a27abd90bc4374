"""Every write of payouts: payout accounts (Connect onboarding, a bank account), payout
requests and their review (approve, reject, hold, release, waive the review window).

Rules that hold for every path (the admin, the organizer's pages, later the API):
- Only the campaign's organizer requests a payout, of money already collected (the campaign
  is settling or funded), in the campaign's currency, at most what is available, allocated
  to the campaign's budget items, with an optional receipt or invoice per request.
- Approval is a second person's decision (four eyes): the approver holds
  `payouts.approve_payout`, is enrolled in two-factor authentication, organizes none of the
  campaign, and neither requested nor last changed the payout; the public review window
  (PAYOUT_REVIEW_WINDOW_HOURS) has ended or was waived with a reason. A refused approval
  writes an audit event.
- Money moves in the ledger at approval: the payout's amount leaves the campaign's account
  for the organizer-payable account (reserved, so nothing else can use it), and reaches the
  organizer-bank account when the transfer is paid (payouts.transfers), or returns if it
  fails. Requests and approvals of one campaign take its row lock in turn, so two of them
  cannot both spend the same money.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.models import BudgetItem, Campaign, Collaborator
from core.emails import queue_email
from core.errors import NotPermitted, TransitionError
from core.models import record
from core.money import format_money
from core.transitions import transition
from ledger import accounts as ledger_accounts
from ledger import services as ledger
from ledger.models import Transaction as LedgerTransaction
from payments.gateway import get_gateway
from payouts.errors import ApprovalRefused, PayoutError
from payouts.models import Payout, PayoutAccount, PayoutAllocation, PayoutReceipt
from payouts.selectors import payout_breakdown

logger = logging.getLogger(__name__)

# A campaign's money can be requested once its deadline has passed and money was collected;
# recovery of failed cards may still be running while it is settling.
PAYABLE_CAMPAIGN_STATUSES = (Campaign.Status.SETTLING, Campaign.Status.FUNDED)
MAX_NOTE_LENGTH = 2000
# The refusal a co-organizer gets (the request page shows it too).
NOT_ORGANIZER = gettext_lazy(
    "Only the campaign's organizer can request payouts; co-organizers cannot."
)
# A request identical to one the same organizer made this recently is that request again.
DUPLICATE_REQUEST_WINDOW = timedelta(minutes=1)
MAX_REASON_LENGTH = 2000

Status = Payout.Status
# Approved, and whatever an approval leads to before the payout can come back to review.
APPROVED_STATUSES = (Status.APPROVED, Status.PROCESSING, Status.PAID)
Verification = PayoutAccount.Verification


# --- payout accounts -------------------------------------------------------------------------


def payout_account_for(member):
    return PayoutAccount.objects.filter(member=member).first()


def start_onboarding(member, *, return_url, refresh_url, gateway=None):
    """The URL of the provider's hosted onboarding for the member's Connect account, opened
    first if the member has none (idempotently: two clicks open one account)."""
    gateway = gateway or get_gateway()
    account, _created = PayoutAccount.objects.get_or_create(member=member)
    if not account.stripe_account_id:
        # The network call holds no lock; the provider's idempotency key makes a second,
        # concurrent call return the same account.
        connected = gateway.create_connected_account(
            email=member.email, country=settings.PAYOUT_ACCOUNT_COUNTRY, member_id=member.pk
        )
        with transaction.atomic():
            account = PayoutAccount.objects.select_for_update().get(pk=account.pk)
            if not account.stripe_account_id:
                account.stripe_account_id = connected.id
                account.save(update_fields=["stripe_account_id", "updated_at"])
                record(
                    account, action="payout_account:connect_opened", by=member, note=connected.id
                )
        _mirror(account.stripe_account_id, connected, by=member)
        account.refresh_from_db()
    if account.method != PayoutAccount.Method.STRIPE_CONNECT:
        use_stripe_connect(member)
    return gateway.create_account_link(
        account.stripe_account_id, refresh_url=refresh_url, return_url=return_url
    )


def refresh_connected_account(member, *, gateway=None):
    """Ask the provider how the member's Connect account stands (the onboarding return page:
    the webhook may not have arrived yet)."""
    account = payout_account_for(member)
    if account is None or not account.stripe_account_id:
        return account
    connected = (gateway or get_gateway()).retrieve_connected_account(account.stripe_account_id)
    return _mirror(account.stripe_account_id, connected, by=member)


def sync_connected_account(connected):
    """Mirror a provider account (from `account.updated`) onto our PayoutAccount; None when the
    account is not one of ours."""
    return _mirror(connected.id, connected, by=None)


def verification_of(connected):
    if connected.payouts_enabled and connected.details_submitted and not connected.disabled_reason:
        return Verification.VERIFIED
    if connected.details_submitted:
        return Verification.RESTRICTED
    return Verification.PENDING


def _mirror(stripe_account_id, connected, *, by):
    with transaction.atomic():
        account = (
            PayoutAccount.objects.select_for_update()
            .filter(stripe_account_id=stripe_account_id)
            .first()
        )
        if account is None:
            return None
        before = account.verification
        account.charges_enabled = connected.charges_enabled
        account.payouts_enabled = connected.payouts_enabled
        account.details_submitted = connected.details_submitted
        account.requirements_due = list(connected.requirements_due)
        account.disabled_reason = connected.disabled_reason or ""
        account.verification = verification_of(connected)
        account.save()
        if account.verification != before:
            record(
                account,
                action="payout_account:verification",
                by=by,
                from_status=before,
                to_status=account.verification,
            )
            if account.method == PayoutAccount.Method.STRIPE_CONNECT:
                _follow_verification(account)
    return account


def _follow_verification(account):
    """Release the platform's own holds once the account is verified; hold requests whose
    account lost its verification."""
    payouts = Payout.objects.filter(
        campaign__organizer=account.member, method=PayoutAccount.Method.STRIPE_CONNECT
    )
    if account.is_verified:
        release_platform_holds(
            payouts, Payout.HoldKind.ACCOUNT_UNVERIFIED, note=_("The payout account is verified.")
        )
    else:
        for payout in payouts.filter(status=Status.REQUESTED):
            _hold_unverified(payout)


def _hold_unverified(payout):
    platform_hold(
        payout,
        Payout.HoldKind.ACCOUNT_UNVERIFIED,
        note=_("The payout account is not verified."),
        reason=_("The payout account is not verified yet."),
    )


def platform_hold(payout, kind, *, note, reason):
    """requested → on_hold by the platform itself (`kind` says why; the organizer sees
    `reason`); released by release_platform_holds once the cause is gone."""
    return transition(
        payout, Status.ON_HOLD, note=note, updates={"hold_kind": kind, "decision_reason": reason}
    )


def release_platform_holds(payouts, kind, *, note):
    """Back to review: the payouts (a queryset) that the platform held for `kind`."""
    for payout in payouts.filter(status=Status.ON_HOLD, hold_kind=kind):
        transition(
            payout, Status.REQUESTED, note=note, updates={"hold_kind": "", "decision_reason": ""}
        )


def save_bank_account(member, *, iban, account_holder):
    """Payouts by manual bank transfer to this IBAN (validated, kept normalised)."""
    from payouts.banking import validate_account_holder, validate_iban

    iban = validate_iban(iban)
    account_holder = validate_account_holder(account_holder)
    with transaction.atomic():
        account, _created = PayoutAccount.objects.select_for_update().get_or_create(member=member)
        account.method = PayoutAccount.Method.BANK_TRANSFER
        account.iban = iban
        account.account_holder = account_holder
        account.verification = Verification.VERIFIED
        account.save()
        record(account, action="payout_account:bank_account", by=member, note=account.masked_iban)
    return account


def use_stripe_connect(member):
    """Switch future payouts back to the member's Connect account."""
    with transaction.atomic():
        account, _created = PayoutAccount.objects.select_for_update().get_or_create(member=member)
        if account.method == PayoutAccount.Method.STRIPE_CONNECT:
            return account
        account.method = PayoutAccount.Method.STRIPE_CONNECT
        account.verification = (
            verification_of(account) if account.stripe_account_id else (Verification.NOT_STARTED)
        )
        account.save()
        record(account, action="payout_account:stripe_connect", by=member)
    return account


# --- requests --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Allocation:
    """Part of a requested amount: for one budget item (by id), or "other costs" (None) with
    a label saying what for."""

    budget_item_id: int | None
    amount_minor: int
    label: str = ""


def can_request_payouts(campaign, member):
    return member.is_authenticated and campaign.organizer_id == member.pk


def request_payout(
    campaign, *, by, amount_minor, currency, allocations, note, receipts=(), now=None
):
    """Ask for `amount_minor` of the campaign's collected money; returns the Payout.

    `allocations` (Allocation rows) say what it pays for and must add up to the amount;
    `receipts` are files checked by payouts.receipts.check_receipt. A request on an account
    that is not verified yet is put on hold until it is (the organizer is told why). The
    result's `created` is False when it is the same request made moments ago (same amount and
    note, within DUPLICATE_REQUEST_WINDOW): two submits of one form make one request, since
    both run under the campaign's lock.
    """
    from payouts.receipts import MAX_RECEIPTS_PER_PAYOUT

    now = now or timezone.now()
    _check_requester(campaign, by)
    amount_minor = _whole_amount(amount_minor)
    note = (note or "").strip()
    if not note:
        raise PayoutError(_("Say what the money is for."), field="note")
    if len(note) > MAX_NOTE_LENGTH:
        raise PayoutError(
            _("Keep the note under %(max)d characters.") % {"max": MAX_NOTE_LENGTH}, field="note"
        )
    receipts = list(receipts)
    if len(receipts) > MAX_RECEIPTS_PER_PAYOUT:
        raise PayoutError(
            _("Attach at most %(max)d files.") % {"max": MAX_RECEIPTS_PER_PAYOUT},
            field="receipts",
        )
    account = payout_account_for(by)
    if account is None or not account.is_set_up:
        raise PayoutError(
            _("Set up your payout account first: that is where the money will go."),
            code="no_payout_account",
        )
    with transaction.atomic():
        locked = _lock_campaign(campaign)
        # The same form sent twice (a double click, a resend): the first request, once.
        duplicate = (
            Payout.objects.filter(
                campaign=locked,
                requested_by=by,
                amount_minor=amount_minor,
                note=note,
                status__in=Payout.IN_REVIEW_STATUSES,
                requested_at__gte=now - DUPLICATE_REQUEST_WINDOW,
            )
            .order_by("-requested_at")
            .first()
        )
        if duplicate is not None:
            duplicate.created = False
            return duplicate
        if locked.status not in PAYABLE_CAMPAIGN_STATUSES:
            raise PayoutError(_campaign_not_payable(locked), code="campaign_not_payable")
        if currency != locked.currency:
            raise PayoutError(
                _("This campaign's money is in %(currency)s; payouts are in the same currency.")
                % {"currency": locked.currency},
                field="currency",
            )
        lines = _checked_allocations(locked, allocations, amount_minor)
        available = payout_breakdown(locked).available
        if amount_minor > available:
            raise PayoutError(
                _("You can request at most %(available)s now.")
                % {"available": format_money(available, locked.currency)},
                field="amount",
                code="above_available",
            )
        payout = Payout.objects.create(
            campaign=locked,
            requested_by=by,
            amount_minor=amount_minor,
            currency=locked.currency,
            method=account.method,
            destination=account.destination_label,
            bank_iban=account.iban if account.method == PayoutAccount.Method.BANK_TRANSFER else "",
            bank_account_holder=(
                account.account_holder
                if account.method == PayoutAccount.Method.BANK_TRANSFER
                else ""
            ),
            note=note,
            review_window_ends_at=now + timedelta(hours=settings.PAYOUT_REVIEW_WINDOW_HOURS),
            last_changed_by=by,
        )
        PayoutAllocation.objects.bulk_create(
            PayoutAllocation(
                payout=payout, budget_item_id=item_id, label=label, amount_minor=amount
            )
            for item_id, label, amount in lines
        )
        for checked in receipts:
            receipt = PayoutReceipt(
                payout=payout,
                original_name=checked.original_name,
                content_type=checked.content_type,
                size=checked.size,
            )
            receipt.file.save(checked.content.name, checked.content, save=True)
        record(
            payout,
            action="payout:requested",
            by=by,
            to_status=Status.REQUESTED,
            note=format_money(amount_minor, locked.currency),
        )
        from payouts.disputes import has_open_dispute, hold_payouts

        if not account.is_verified:
            _hold_unverified(payout)
        elif has_open_dispute(locked.pk):
            hold_payouts(locked.pk)
        payout.refresh_from_db()
    payout.created = True
    return payout


def _check_requester(campaign, member):
    if can_request_payouts(campaign, member):
        return
    is_co_organizer = Collaborator.objects.filter(
        campaign=campaign, member=member, accepted_at__isnull=False
    ).exists()
    if is_co_organizer:
        raise PayoutError(
            str(NOT_ORGANIZER),
            code="not_organizer",
        )
    raise NotPermitted(_("No such campaign."))


def _whole_amount(amount_minor):
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or amount_minor <= 0:
        raise PayoutError(_("Enter an amount of more than zero."), field="amount")
    return amount_minor


def _lock_campaign(campaign):
    # FOR NO KEY UPDATE: serialises payout requests and approvals of one campaign without
    # waiting for (or blocking) pledge writes, which take FOR KEY SHARE.
    return Campaign.objects.select_for_update(no_key=True).get(pk=campaign.pk)


def _campaign_not_payable(campaign):
    if campaign.status in (Campaign.Status.CANCELLED, Campaign.Status.FAILED):
        return _("This campaign was not funded: there is no money to pay out.")
    return _("Payouts can be requested once the campaign has ended and its money is collected.")


def _checked_allocations(campaign, allocations, amount_minor):
    """[(budget item id or None, label, amount)] or PayoutError: the campaign's own items,
    each at most once, every line above zero, adding up to the amount."""
    items = {item.pk: item for item in BudgetItem.objects.filter(campaign=campaign)}
    lines, seen = [], set()
    for allocation in allocations:
        amount = allocation.amount_minor
        if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
            raise PayoutError(_("Budget amounts are zero or more."), field="allocations")
        if amount == 0:
            continue
        if allocation.budget_item_id is None:
            label = (allocation.label or "").strip()
            if not label:
                raise PayoutError(
                    _("Say what the amount outside the budget is for."), field="allocations"
                )
            lines.append((None, label[:120], amount))
            continue
        item = items.get(allocation.budget_item_id)
        if item is None:
            raise PayoutError(_("That budget item is not this campaign's."), field="allocations")
        if item.pk in seen:
            raise PayoutError(_("Each budget item appears once."), field="allocations")
        seen.add(item.pk)
        lines.append((item.pk, item.label, amount))
    if not lines:
        raise PayoutError(
            _("Say which budget items the money is for, with an amount for each."),
            field="allocations",
        )
    total = sum(amount for _item, _label, amount in lines)
    if total != amount_minor:
        raise PayoutError(
            _("The budget amounts add up to %(total)s, not %(amount)s.")
            % {
                "total": format_money(total, campaign.currency),
                "amount": format_money(amount_minor, campaign.currency),
            },
            field="allocations",
        )
    return lines


# --- review ----------------------------------------------------------------------------------


def approval_problems(payout, member, *, now=None, two_factor_session=None):
    """Why `member` may not approve `payout` now ([] when they may): the permission,
    two-factor (enrolled, and, when the caller knows, this session passed it:
    `two_factor_session`), the four-eyes rule and the review window."""
    from members.two_factor import is_enrolled

    now = now or timezone.now()
    problems = []
    if not member.has_perm("payouts.approve_payout"):
        problems.append(_("You do not hold the permission to approve payouts."))
        return problems
    if not is_enrolled(member):
        problems.append(_("Approving payouts needs two-factor authentication: enrol first."))
    elif two_factor_session is False:
        problems.append(
            _("Enter a code from your authenticator app in this session, then approve.")
        )
    campaign = payout.campaign
    if campaign.organizer_id == member.pk or (
        Collaborator.objects.filter(campaign=campaign, member=member).exists()
    ):
        problems.append(_("You organize this campaign: someone else must approve its payouts."))
    if payout.requested_by_id == member.pk:
        problems.append(_("You requested this payout: someone else must approve it."))
    elif payout.last_changed_by_id == member.pk:
        problems.append(_("You last changed this payout: someone else must approve it."))
    if payout.review_window_ends_at > now and payout.window_waived_at is None:
        problems.append(
            _(
                "Supporters can raise concerns until %(ends)s. Approve after that, or waive "
                "the review window with a reason."
            )
            % {
                "ends": date_format(
                    timezone.localtime(payout.review_window_ends_at), "DATETIME_FORMAT"
                )
            }
        )
    return problems


def destination_problem(payout, account):
    """Why the payout's money cannot go where it was asked to go now (None if it can): the
    organizer's account must still be the one named at the request, and verified."""
    if account is None:
        return _("The organizer has no payout account any more.")
    if payout.method == PayoutAccount.Method.STRIPE_CONNECT:
        if account.stripe_account_id != payout.destination:
            return _("The organizer's Stripe account is not the one this payout was asked for.")
        if verification_of(account) != Verification.VERIFIED:
            return _("The organizer's payout account is not verified: hold the payout until it is.")
        return None
    if account.method != PayoutAccount.Method.BANK_TRANSFER or (
        account.iban != payout.bank_iban or account.account_holder != payout.bank_account_holder
    ):
        return _(
            "The organizer's bank account changed since this request: reject it and ask for a "
            "new request to the new account."
        )
    return None


def approve_payout(payout, *, by, two_factor_session, note="", now=None):
    """Approve the payout: the money is reserved in the ledger and, for Connect, a transfer
    task is sent after commit. A bank transfer is claimed by its approver (processing): they
    alone make it and record its reference (`record_bank_transfer`), so two admins never both
    pay it. Approving twice (a double click, two admins) approves once.
    `two_factor_session`: whether the approver's session passed two-factor — every caller
    says (the admin knows; False refuses, audited like every refusal)."""
    now = now or timezone.now()

    def guard(locked):
        problems = approval_problems(locked, by, now=now, two_factor_session=two_factor_session)
        if problems:
            raise ApprovalRefused(" ".join(problems))
        problem = destination_problem(locked, payout_account_for(locked.campaign.organizer))
        if problem:
            raise ApprovalRefused(problem)
        from payouts.disputes import has_open_dispute

        if has_open_dispute(locked.campaign_id):
            raise ApprovalRefused(
                _("A payment of this campaign is disputed: payouts wait until it is closed.")
            )
        available = payout_breakdown(locked.campaign, exclude_payout=locked).available
        if locked.amount_minor > available:
            raise ApprovalRefused(
                _("Only %(available)s is available to pay out; reject or hold this request.")
                % {"available": format_money(available, locked.currency)}
            )

    try:
        with transaction.atomic():
            _lock_campaign(payout.campaign)
            current = Payout.objects.select_for_update().get(pk=payout.pk)
            if current.status in APPROVED_STATUSES:
                # Approved already (a double click, a second admin, or its transfer ran):
                # nothing to do twice.
                current.moved = False
                return current
            approved = transition(
                payout,
                Status.APPROVED,
                by=by,
                note=note,
                guard=guard,
                updates=lambda locked: {
                    "approved_by": by,
                    "approved_at": now,
                    "transfer_number": locked.transfer_number + 1,
                    "decision_reason": "",
                    "hold_kind": "",
                },
                after_commit=[_email("approved")],
            )
            if not approved.moved:
                return approved
            _reserve(approved, now)
            if approved.method == PayoutAccount.Method.BANK_TRANSFER:
                # Claimed by the approver: the page then shows them, and only them, where to
                # send it and asks for the bank's reference.
                transition(
                    approved,
                    Status.PROCESSING,
                    by=by,
                    note=_("Bank transfer claimed by the approver."),
                    updates={"transfer_started_at": now},
                )
            else:
                from payouts.transfers import dispatch_transfer

                dispatch_transfer(approved, now=now)
    except (ApprovalRefused, TransitionError) as refusal:  # on hold, rejected…: refused too
        record(payout, action="payout:approval_refused", by=by, note=refusal.message)
        raise
    return approved


def _reserve(payout, now):
    """The payout's amount leaves the campaign's account for the organizer-payable one."""
    ledger.transfer(
        LedgerTransaction.Kind.PAYOUT,
        from_account=ledger_accounts.campaign_account(payout.campaign_id, payout.currency),
        to_account=ledger_accounts.organizer_payable(payout.campaign_id, payout.currency),
        amount_minor=payout.amount_minor,
        key=ledger_key(payout, "approved"),
        campaign_id=payout.campaign_id,
        occurred_at=now,
        memo=f"Payout {payout.short_id} approved",
    )


def ledger_key(payout, step):
    return f"payout:{payout.public_id}:{payout.transfer_number}:{step}"


def record_bank_transfer(payout, *, by, bank_reference, now=None):
    """The approver made the bank transfer of a claimed (processing) bank payout: paid, with
    the bank's reference. Only the approver who claimed it may record it."""
    bank_reference = (bank_reference or "").strip()
    if not bank_reference:
        raise PayoutError(_("Enter the bank's reference for the transfer."), field="bank_reference")
    if len(bank_reference) > 140:
        raise PayoutError(_("Keep the reference under 140 characters."), field="bank_reference")

    def claimed_by_you(locked):
        if locked.method != PayoutAccount.Method.BANK_TRANSFER:
            raise PayoutError(_("Only a bank transfer payout has a bank reference."))
        if locked.approved_by_id != by.pk:
            raise PayoutError(
                _("%(member)s approved this payout: only they make and record its transfer.")
                % {"member": locked.approved_by}
            )

    with transaction.atomic():
        # of=("self",): PostgreSQL locks no row of an outer join's nullable side (approved_by).
        locked = (
            Payout.objects.select_for_update(of=("self",))
            .select_related("approved_by")
            .get(pk=payout.pk)
        )
        if locked.status == Status.PAID:
            return locked
        if locked.status != Status.PROCESSING:
            raise PayoutError(_("This payout is not waiting for a bank transfer."))
        claimed_by_you(locked)
        Payout.objects.filter(pk=locked.pk).update(bank_reference=bank_reference)
        locked.bank_reference = bank_reference
        return record_paid(locked, by=by, now=now, note=bank_reference)


def bank_transfer_failed(payout, *, by, reason):
    """The approver could not make a claimed bank transfer (the bank refused it): the money
    returns to the campaign and the payout to review, with the reason."""
    reason = _required_reason(reason)
    with transaction.atomic():
        locked = Payout.objects.select_for_update().get(pk=payout.pk)
        if locked.status != Status.PROCESSING or (
            locked.method != PayoutAccount.Method.BANK_TRANSFER
        ):
            raise PayoutError(_("This payout is not waiting for a bank transfer."))
        if locked.approved_by_id != by.pk:
            raise PayoutError(_("Only the admin who approved it can say the transfer failed."))
        return record_failed(locked, error=reason)


def record_paid(payout, *, now=None, by=None, transfer_id="", provider_object_id="", note=""):
    """processing → paid: the money reached the organizer (organizer-payable → bank)."""
    now = now or timezone.now()
    with transaction.atomic():
        paid = transition(
            payout,
            Status.PAID,
            by=by,
            note=note or transfer_id,
            updates={"paid_at": now, "transfer_id": transfer_id, "failure_message": ""},
            after_commit=[_email("paid")],
        )
        if paid.moved:
            ledger.transfer(
                LedgerTransaction.Kind.PAYOUT,
                from_account=ledger_accounts.organizer_payable(paid.campaign_id, paid.currency),
                to_account=ledger_accounts.organizer_bank(paid.campaign_id, paid.currency),
                amount_minor=paid.amount_minor,
                key=ledger_key(paid, "paid"),
                campaign_id=paid.campaign_id,
                occurred_at=now,
                memo=f"Payout {paid.short_id} paid"
                + (f" (bank reference {paid.bank_reference})" if paid.bank_reference else ""),
                provider_object_id=provider_object_id or transfer_id,
            )
    return paid


def record_failed(payout, *, error, now=None):
    """processing → failed → back in review with the error: the reserved money returns to
    the campaign's account, the organizer is told; a new approval makes a new transfer."""
    now = now or timezone.now()
    with transaction.atomic():
        failed = transition(
            payout,
            Status.FAILED,
            note=error,
            updates={"failure_message": error[:2000]},
            after_commit=[_email("failed")],
        )
        if not failed.moved:
            return failed
        ledger.transfer(
            LedgerTransaction.Kind.PAYOUT_REVERSAL,
            from_account=ledger_accounts.organizer_payable(failed.campaign_id, failed.currency),
            to_account=ledger_accounts.campaign_account(failed.campaign_id, failed.currency),
            amount_minor=failed.amount_minor,
            key=ledger_key(failed, "returned"),
            campaign_id=failed.campaign_id,
            occurred_at=now,
            memo=f"Payout {failed.short_id} failed: returned to the campaign",
        )
        return transition(
            failed,
            Status.REQUESTED,
            note=_("Back in review after a failed transfer."),
            updates={"approved_by": None, "approved_at": None},
        )


def reject_payout(payout, *, by, reason):
    """Refuse the request with a reason the organizer is emailed."""
    reason = _required_reason(reason)
    _check_reviewer(by)
    return transition(
        payout,
        Status.REJECTED,
        by=by,
        note=reason,
        updates={"decision_reason": reason, "last_changed_by": by, "hold_kind": ""},
        after_commit=[_email("rejected")],
    )


def hold_payout(payout, *, by, reason):
    """Put the request on hold (an admin's hold: only an admin releases it)."""
    reason = _required_reason(reason)
    _check_reviewer(by)
    return transition(
        payout,
        Status.ON_HOLD,
        by=by,
        note=reason,
        updates={
            "decision_reason": reason,
            "hold_kind": Payout.HoldKind.ADMIN,
            "last_changed_by": by,
        },
    )


def release_payout(payout, *, by, note=""):
    """Back to review from a hold; a hold for an unverified account lasts until it is."""
    _check_reviewer(by)

    def guard(locked):
        if locked.hold_kind == Payout.HoldKind.ACCOUNT_UNVERIFIED:
            problem = destination_problem(locked, payout_account_for(locked.campaign.organizer))
            if problem:
                raise PayoutError(problem)

    return transition(
        payout,
        Status.REQUESTED,
        by=by,
        note=note,
        guard=guard,
        updates={"hold_kind": "", "decision_reason": "", "last_changed_by": by},
    )


def waive_review_window(payout, *, by, reason, now=None):
    """Let the payout be approved before its review window ends (by someone else: waiving
    counts as changing it), with the reason on the audit log."""
    reason = _required_reason(reason)
    _check_reviewer(by)
    now = now or timezone.now()
    with transaction.atomic():
        locked = Payout.objects.select_for_update().get(pk=payout.pk)
        if locked.status not in Payout.IN_REVIEW_STATUSES:
            raise PayoutError(_("Only a payout in review has a review window to waive."))
        if locked.window_waived_at is not None:
            return locked
        locked.window_waived_by = by
        locked.window_waived_at = now
        locked.window_waiver_reason = reason
        locked.last_changed_by = by
        locked.save(
            update_fields=[
                "window_waived_by",
                "window_waived_at",
                "window_waiver_reason",
                "last_changed_by",
                "updated_at",
            ]
        )
        record(locked, action="payout:window_waived", by=by, note=reason)
    payout.refresh_from_db()
    return locked


def _check_reviewer(member):
    from members.two_factor import is_enrolled

    if not member.has_perm("payouts.approve_payout"):
        raise PayoutError(_("You do not hold the permission to review payouts."))
    if not is_enrolled(member):
        raise PayoutError(_("Reviewing payouts needs two-factor authentication: enrol first."))


def _required_reason(reason):
    reason = (reason or "").strip()
    if not reason:
        raise PayoutError(_("Give a reason: the organizer sees it."), field="reason")
    if len(reason) > MAX_REASON_LENGTH:
        raise PayoutError(
            _("Keep the reason under %(max)d characters.") % {"max": MAX_REASON_LENGTH},
            field="reason",
        )
    return reason


def _email(event):
    def send(payout):
        organizer = payout.campaign.organizer
        queue_email(
            f"payout:{payout.pk}:{event}:{payout.transfer_number}",
            organizer.email,
            f"payout_{event}",
            {"payout": payout, "campaign": payout.campaign, "organizer": organizer},
        )

    return send
