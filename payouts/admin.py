"""Payouts in the Django admin, for the admins who review money: the review queue, a payout's
review page with its decision buttons, and payout accounts. Nothing here is an edit form.

The queue is the Payout list under a status filter that defaults to "In review" (requested
or on hold), oldest first, rather than a proxy model like CampaignInReview: a payout then has
one admin page (the audit log's links and the queue's land on the same one), and a view
needs no model or migration. A payout's page shows every field read-only, with what a
reviewer weighs: the organizer's payout account, the campaign's money from the ledger
(payouts.selectors.payout_breakdown), the budget allocations, the receipts, refunds and
disputes, supporters' concerns and the payout's history.

Every write is a button (Approve, Reject, Hold, Release hold, Waive review window, and for a
claimed bank transfer Record bank transfer and Bank transfer failed) that opens a confirmation
page saying what will happen and asking for what the service needs, then calls
payouts.services with by=request.user; the services check the rules again (four eyes,
two-factor enrolment, the review window) and write the audit rows. The buttons are for
holders of payouts.approve_payout, and approving also needs this session to have passed
two-factor authentication. Every approval the admin refuses before calling the service (no
permission, a payout not in review) is audited like the service's own refusals.

Approving a bank-transfer payout claims it for the approver (services.approve_payout): only
they then see where to send it, on the Record bank transfer page, the one page that shows a
full IBAN (the payout's own, as requested, never the organizer's current one), and record the
bank's reference or say the transfer failed. Other admins see who claimed it.

Refunds are listed read-only too; holders of payouts.refund_pledge refund a collected pledge
from there ("Refund a pledge": find it, then a confirmation page; RefundAdmin).
"""

import dataclasses
import uuid

from django import forms
from django.contrib import admin, messages
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db.models import CharField, OuterRef, Subquery, Sum
from django.db.models.functions import Cast, Coalesce
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django_object_actions import DjangoObjectActions, action

from core.admin import ReadOnlyAdmin
from core.errors import DomainError
from core.models import AuditEvent, record
from core.money import format_money
from ledger.models import Account, Entry
from members.two_factor import is_enrolled, session_passed_two_factor
from payouts import concerns, refunds, selectors, services
from payouts.models import Payout, PayoutAccount, Refund
from payouts.refund_views import (
    RefundForm,
    is_refundable,
    paid_out_consequence,
    refunded_message,
    why_not_refundable,
    with_refund_figures,
)
from pledges.models import Pledge

Status = Payout.Status
Method = PayoutAccount.Method
REVIEW_PERMISSION = "payouts.approve_payout"


def _date_time(value):
    """A date and time in the site's format (config/formats), in the site's time zone."""
    if value is None:
        return "—"
    return formats.date_format(timezone.localtime(value), "DATETIME_FORMAT")


def _payout_account(member):
    """The member's PayoutAccount or None, from select_related when the query had it."""
    try:
        return member.payout_account
    except PayoutAccount.DoesNotExist:
        return None


def grouped_iban(iban):
    """An IBAN in groups of four, as it is printed on cards and typed into banking apps."""
    return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))


def receipt_url(receipt):
    """The receipt's download (payouts.receipt_views), or None while it is not routed."""
    try:
        return reverse("payouts:receipt", args=[receipt.payout.public_id, receipt.pk])
    except NoReverseMatch:
        return None


def with_available(payouts):
    """Payouts annotated with what their campaign can pay them from, in the list's one query:
    `campaign_held_minor`, the campaign ledger account's balance, and `other_requests_minor`,
    the campaign's other requests not in the ledger yet. Their difference is
    payout_breakdown(campaign, exclude_payout=payout).available (below zero shown as zero),
    the figure approving the payout checks; tests/payouts/test_admin.py holds them equal."""
    held = (
        Entry.objects.filter(
            account__kind=Account.Kind.CAMPAIGN,
            account__reference=Cast(OuterRef("campaign_id"), CharField()),
        )
        .order_by()
        .values("account__reference")
        .annotate(total=Sum("amount_minor"))
        .values("total")
    )
    others = (
        Payout.objects.filter(
            campaign=OuterRef("campaign_id"), status__in=selectors.NOT_YET_POSTED_STATUSES
        )
        .exclude(pk=OuterRef("pk"))
        .order_by()
        .values("campaign")
        .annotate(total=Sum("amount_minor"))
        .values("total")
    )
    return payouts.annotate(
        campaign_held_minor=Coalesce(Subquery(held), 0),
        other_requests_minor=Coalesce(Subquery(others), 0),
    )


def _in_queue(request):
    """The list shows the review queue: no other status was chosen."""
    return ReviewStatusFilter.parameter_name not in request.GET


class ReviewStatusFilter(admin.SimpleListFilter):
    """Status, "In review" (requested or on hold) unless another is chosen: the queue."""

    title = _("status")
    parameter_name = "status"
    ALL = "all"

    def lookups(self, request, model_admin):
        return [(self.ALL, _("All payouts")), *Status.choices]

    def choices(self, changelist):
        yield {
            "selected": self.value() is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": _("In review (requested or on hold)"),
        }
        for value, label in self.lookup_choices:
            yield {
                "selected": self.value() == str(value),
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset.filter(status__in=Payout.IN_REVIEW_STATUSES)
        if value == self.ALL:
            return queryset
        return queryset.filter(status=value)


# --- the confirmation pages' forms ------------------------------------------------------------
def _text_area(rows=4):
    return forms.Textarea(attrs={"rows": rows, "cols": 60})


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        widget=_text_area(),
        max_length=services.MAX_REASON_LENGTH,
        error_messages={"required": _("Give a reason: the organizer sees it.")},
    )

    def __init__(self, *args, help_text="", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason"].help_text = help_text


class NoteForm(forms.Form):
    """An optional note (approving, releasing a hold)."""

    note = forms.CharField(
        label=_("Note"),
        widget=_text_area(3),
        required=False,
        max_length=services.MAX_REASON_LENGTH,
        help_text=_("Optional. Kept in the payout's history."),
    )


class BankTransferForm(forms.Form):
    bank_reference = forms.CharField(
        label=_("Bank reference of your transfer"),
        max_length=140,
        help_text=_("Make the transfer in the bank's app first, then enter its reference here."),
        error_messages={
            "required": _("Make the bank transfer first, then record its reference here.")
        },
    )


# --- the buttons --------------------------------------------------------------------------------
class PayoutDecisionButtons(DjangoObjectActions):
    """Approve, Record bank transfer, Bank transfer failed, Reject, Hold, Release hold and Waive
    review window on a payout's page.

    A button shows only to holders of payouts.approve_payout and only when the payout's status
    allows it (Record bank transfer and Bank transfer failed only to the approver who claimed
    the transfer); the action checks both again (a URL can be typed) and the service checks
    everything once more. GET shows the confirmation page, POST decides; afterwards the admin
    is back on the payout's page with a message (or, having claimed a bank transfer, on the
    page that records it).
    """

    change_actions = [
        "approve",
        "record_bank_transfer",
        "bank_transfer_failed",
        "reject",
        "hold",
        "release",
        "waive_review_window",
    ]

    # Which payouts each button is for, and for whom (the services refuse the others anyway).
    ALLOWED = {
        "approve": lambda payout, member: payout.status == Status.REQUESTED,
        "record_bank_transfer": lambda payout, member: claimed_by(payout, member),
        "bank_transfer_failed": lambda payout, member: claimed_by(payout, member),
        "reject": lambda payout, member: payout.status in Payout.IN_REVIEW_STATUSES,
        "hold": lambda payout, member: payout.status == Status.REQUESTED,
        "release": lambda payout, member: payout.status == Status.ON_HOLD,
        "waive_review_window": lambda payout, member: (
            payout.status in Payout.IN_REVIEW_STATUSES
            and payout.window_waived_at is None
            and payout.review_window_ends_at > timezone.now()
        ),
    }

    def has_review_permission(self, request):
        return request.user.has_perm(REVIEW_PERMISSION)

    def get_change_actions(self, request, object_id, form_url):
        if not self.has_review_permission(request):
            return []
        payout = self.get_object(request, object_id)  # None for an id that is not one
        if payout is None:
            return []
        return [name for name in self.change_actions if self.ALLOWED[name](payout, request.user)]

    def _payout_for(self, request, obj, name):
        """The payout as stored now, or a redirect back with why this button does not apply.
        A refused approval POST is audited, as the service audits its own refusals."""
        if not (self.has_review_permission(request) and self.has_view_permission(request, obj)):
            if name == "approve" and request.method == "POST":
                refuse_approval(
                    request, obj, gettext("You do not hold the permission to approve payouts.")
                )
            raise PermissionDenied
        payout = Payout.objects.select_related("campaign__organizer", "approved_by").get(pk=obj.pk)
        if not self.ALLOWED[name](payout, request.user):
            if payout.status in Payout.IN_REVIEW_STATUSES and name == "waive_review_window":
                why = gettext("Nothing was changed: the review window has ended or was waived.")
            elif is_claimed_bank_transfer(payout) and name != "approve":
                why = claim_note(payout, request.user)
            else:
                why = gettext("Nothing was changed: the payout is %(status)s.") % {
                    "status": payout.get_status_display().lower()
                }
            if name == "approve" and request.method == "POST":
                refuse_approval(request, payout, why)
            self.message_user(request, why, messages.ERROR)
            return payout, redirect(_change_url(payout))
        return payout, None

    def _decide(self, request, payout, *, form, run, done, page, then=None):
        """POST with a valid form: `run(cleaned_data)`; its DomainError is shown with
        messages.ERROR and nothing changes. Otherwise the confirmation page. After a decision,
        the payout's page, or `then(outcome)` when it names another."""
        if request.method == "POST" and form.is_valid():
            try:
                outcome = run(form.cleaned_data)
            except DomainError as error:
                self.message_user(request, error.message, messages.ERROR)
                if error.field not in form.fields:
                    return redirect(_change_url(payout))
                form.add_error(error.field, error.message)
            else:
                self.message_user(request, done(outcome), messages.SUCCESS)
                return redirect((then and then(outcome)) or _change_url(payout))
        return self._confirmation_page(request, payout, form=form, **page)

    def _confirmation_page(self, request, payout, *, form, template, **context):
        context = {
            **self.admin_site.each_context(request),
            "opts": Payout._meta,
            "payout": payout,
            "form": form,
            "back_url": _change_url(payout),
            "media": self.media + form.media,
            **context,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, template, context)

    @action(
        label=_("Approve"), description=_("Approve this payout and send the money"), button_type="a"
    )
    def approve(self, request, obj):
        payout, refused = self._payout_for(request, obj, "approve")
        if refused:
            return refused
        bank_transfer = payout.method == Method.BANK_TRANSFER
        form = NoteForm(_posted(request))
        # This session's two-factor is passed to the service, which refuses and audits.
        passed_two_factor = session_passed_two_factor(request)

        def run(data):
            return services.approve_payout(
                payout,
                by=request.user,
                note=data.get("note", ""),
                two_factor_session=passed_two_factor,
            )

        def then(approved):
            # A bank transfer just claimed: on to where the approver makes and records it.
            if claimed_by(approved, request.user) and approved.moved:
                return action_url(approved, "record_bank_transfer")
            return None

        account = services.payout_account_for(payout.campaign.organizer)
        problems = services.approval_problems(
            payout, request.user, two_factor_session=passed_two_factor
        )
        if bank_transfer and (changed := services.destination_problem(payout, account)):
            problems.append(changed)
        page = {
            "template": "admin/payouts/approve.html",
            "title": gettext("Approve payout: %(amount)s to %(organizer)s")
            % {"amount": _money(payout), "organizer": payout.campaign.organizer},
            "submit_label": gettext("Approve"),
            "problems": problems,
            "passed_two_factor": passed_two_factor,
            "two_factor_url": two_factor_url(request),
            "account": account,
            "account_warnings": account_warnings(payout, account),
            "available_for_payout": selectors.payout_breakdown(
                payout.campaign, exclude_payout=payout
            ).available,
            "bank_transfer": bank_transfer,
        }
        return self._decide(
            request, payout, form=form, run=run, done=_approved, page=page, then=then
        )

    @action(
        label=_("Record bank transfer"),
        description=_("Make the bank transfer you claimed and record its reference"),
        button_type="a",
    )
    def record_bank_transfer(self, request, obj):
        payout, refused = self._payout_for(request, obj, "record_bank_transfer")
        if refused:
            return refused
        account = services.payout_account_for(payout.campaign.organizer)
        return self._decide(
            request,
            payout,
            form=BankTransferForm(_posted(request)),
            run=lambda data: services.record_bank_transfer(
                payout, by=request.user, bank_reference=data["bank_reference"]
            ),
            done=lambda _payout: (
                gettext("Paid: %(amount)s; the organizer is emailed.") % {"amount": _money(payout)}
            ),
            page={
                "template": "admin/payouts/record_bank_transfer.html",
                "title": gettext("Record bank transfer: %(amount)s") % {"amount": _money(payout)},
                "submit_label": gettext("Record bank transfer"),
                # The one place a full IBAN is shown: the payout's own, as it was requested
                # and checked at approval, never the organizer's account as it is now.
                "full_iban": grouped_iban(payout.bank_iban),
                "account_warnings": account_warnings(payout, account),
                "transfer_description": transfer_description(payout),
                "claimed_at": _date_time(payout.approved_at),
                "failed_url": action_url(payout, "bank_transfer_failed"),
            },
        )

    def _confirmed_decision(self, request, obj, name, *, form, service, done, page):
        """A decision confirmed on admin/payouts/confirm_decision.html: on a valid POST,
        `service(payout, by=, **form.cleaned_data)` (the form's fields are the service's
        arguments) and `done` as the message; `page(payout)` gives the page's title, intro and
        submit label."""
        payout, refused = self._payout_for(request, obj, name)
        if refused:
            return refused
        return self._decide(
            request,
            payout,
            form=form,
            run=lambda data: service(payout, by=request.user, **data),
            done=lambda _payout: done,
            page={"template": "admin/payouts/confirm_decision.html", **page(payout)},
        )

    @action(
        label=_("Bank transfer failed"),
        description=_("The bank transfer you claimed could not be made: back to review"),
        button_type="a",
    )
    def bank_transfer_failed(self, request, obj):
        return self._confirmed_decision(
            request,
            obj,
            "bank_transfer_failed",
            form=ReasonForm(
                _posted(request),
                help_text=_("Emailed to the organizer and kept in the payout's history."),
            ),
            service=services.bank_transfer_failed,
            done=gettext(
                "Recorded as failed: the money is back on the campaign and the payout in review."
            ),
            page=lambda payout: {
                "title": gettext("Bank transfer failed: %(amount)s") % {"amount": _money(payout)},
                "intro": gettext(
                    "Say why the transfer could not be made (the bank refused it, the account "
                    "is closed). The reserved money returns to the campaign and the payout goes "
                    "back to review, where a new approval makes a new transfer."
                ),
                "submit_label": gettext("Bank transfer failed"),
            },
        )

    @action(label=_("Reject"), description=_("Refuse this payout request"), button_type="a")
    def reject(self, request, obj):
        return self._confirmed_decision(
            request,
            obj,
            "reject",
            form=ReasonForm(
                _posted(request),
                help_text=_("Emailed to the organizer and kept in the payout's history."),
            ),
            service=services.reject_payout,
            done=gettext("Rejected; the organizer is emailed your reason."),
            page=lambda payout: {
                "title": gettext("Reject payout: %(amount)s") % {"amount": _money(payout)},
                "intro": gettext(
                    "The request is refused for good: no money moves, and the organizer is "
                    "emailed your reason. They can make a new request."
                ),
                "submit_label": gettext("Reject"),
            },
        )

    @action(
        label=_("Hold"),
        description=_("Keep this payout waiting until it is released"),
        button_type="a",
    )
    def hold(self, request, obj):
        return self._confirmed_decision(
            request,
            obj,
            "hold",
            form=ReasonForm(
                _posted(request),
                help_text=_("Shown to the organizer and kept in the payout's history."),
            ),
            service=services.hold_payout,
            done=gettext("On hold until an admin releases it."),
            page=lambda payout: {
                "title": gettext("Hold payout: %(amount)s") % {"amount": _money(payout)},
                "intro": gettext(
                    "The payout waits, and cannot be approved, until an admin releases the "
                    "hold. The organizer sees your reason. Holding counts as changing the "
                    "payout: you cannot approve it afterwards."
                ),
                "submit_label": gettext("Hold"),
            },
        )

    @action(
        label=_("Release hold"), description=_("Put this payout back in review"), button_type="a"
    )
    def release(self, request, obj):
        return self._confirmed_decision(
            request,
            obj,
            "release",
            form=NoteForm(_posted(request)),
            service=services.release_payout,
            done=gettext("Released: the payout is back in review."),
            page=lambda payout: {
                "title": gettext("Release hold: %(amount)s") % {"amount": _money(payout)},
                "intro": _release_intro(payout),
                "submit_label": gettext("Release hold"),
            },
        )

    @action(
        label=_("Waive review window"),
        description=_("Allow approval before supporters' review window ends"),
        button_type="a",
    )
    def waive_review_window(self, request, obj):
        return self._confirmed_decision(
            request,
            obj,
            "waive_review_window",
            form=ReasonForm(
                _posted(request), help_text=_("Kept in the payout's history, with your name.")
            ),
            service=services.waive_review_window,
            done=gettext("Review window waived: another admin can approve the payout now."),
            page=lambda payout: {
                "title": gettext("Waive review window: %(amount)s") % {"amount": _money(payout)},
                "intro": gettext(
                    "Supporters can raise concerns about a payout until %(ends)s. Waiving the "
                    "window lets it be approved before then. Waiving counts as changing the "
                    "payout: someone other than you must approve it."
                )
                % {"ends": _date_time(payout.review_window_ends_at)},
                "submit_label": gettext("Waive review window"),
            },
        )


def _release_intro(payout):
    intro = gettext(
        "The payout goes back in review and can be approved again. Releasing counts as "
        "changing the payout: you cannot approve it afterwards."
    )
    if payout.hold_kind != Payout.HoldKind.ACCOUNT_UNVERIFIED:
        return intro
    held_by_platform = gettext(
        "The platform held it because the organizer's payout account is not verified; it is "
        "released by itself once the account is, and refused before that."
    )
    return f"{held_by_platform} {intro}"


def _posted(request):
    """The POST data to bind a form to (an empty POST too: it is a submitted form)."""
    return request.POST if request.method == "POST" else None


def _change_url(payout):
    return reverse("admin:payouts_payout_change", args=[payout.pk])


def action_url(payout, name):
    return reverse("admin:payouts_payout_actions", args=[payout.pk, name])


def is_claimed_bank_transfer(payout):
    """A bank transfer its approver claimed and has not recorded yet."""
    return payout.status == Status.PROCESSING and payout.method == Method.BANK_TRANSFER


def claimed_by(payout, member):
    return is_claimed_bank_transfer(payout) and payout.approved_by_id == member.pk


def claim_note(payout, member):
    """Who makes a claimed bank transfer, as a payout's page says it (None if none is)."""
    if not is_claimed_bank_transfer(payout):
        return None
    when = _date_time(payout.approved_at)
    if payout.approved_by_id == member.pk:
        return gettext(
            "You claimed this bank transfer on %(when)s: make it from the platform's bank "
            "account, then record its reference (Record bank transfer)."
        ) % {"when": when}
    return gettext("Claimed by %(member)s on %(when)s: they make the transfer.") % {
        "member": payout.approved_by,
        "when": when,
    }


def transfer_description(payout):
    """What the approver puts on the bank transfer: the payout's short id finds it here."""
    return gettext("Groundswell payout %(id)s") % {"id": payout.short_id}


def refuse_approval(request, payout, reason):
    """The audit row of an approval the admin refused before the service could: the same as
    services.approve_payout writes for its own refusals."""
    record(payout, action="payout:approval_refused", by=request.user, note=reason)


def _money(payout):
    return format_money(payout.amount_minor, payout.currency)


def _approved(payout):
    payout.refresh_from_db()
    if not payout.moved:
        return gettext("It was already approved: nothing was done twice.")
    if payout.status == Status.PAID:
        return gettext("Approved and paid: %(amount)s.") % {"amount": _money(payout)}
    if is_claimed_bank_transfer(payout):
        return gettext(
            "Approved: the bank transfer of %(amount)s is yours to make. Make it from the "
            "platform's bank account, then record its reference here."
        ) % {"amount": _money(payout)}
    return gettext(
        "Approved: %(amount)s is being transferred to %(destination)s; the payout shows paid "
        "once the transfer is made."
    ) % {"amount": _money(payout), "destination": payout.destination}


def two_factor_url(request):
    """Where this session enters a code (or the member sets up an app) and comes back."""
    name = "mfa_reauthenticate" if is_enrolled(request.user) else "mfa_activate_totp"
    try:
        url = reverse(name)
    except NoReverseMatch:  # pragma: no cover - allauth.mfa's URLs are installed
        return None
    return f"{url}?{urlencode({'next': request.get_full_path()})}"


def account_warnings(payout, account):
    """What changed on the organizer's payout account since the request: the payout still
    goes where it was requested to go (its `destination`)."""
    if account is None:
        return [gettext("The organizer has no payout account any more.")]
    warnings = []
    if account.method != payout.method:
        warnings.append(
            gettext(
                "The organizer switched their payout account to %(now)s after requesting "
                "this payout by %(then)s. Check with them before approving."
            )
            % {
                "now": account.get_method_display(),
                "then": Method(payout.method).label,
            }
        )
    elif account.destination_label != payout.destination:
        warnings.append(
            gettext(
                "The organizer's payout account changed after the request: it was "
                "%(then)s, it is now %(now)s. Check with them before approving."
            )
            % {"then": payout.destination or "—", "now": account.destination_label or "—"}
        )
    if payout.method == Method.STRIPE_CONNECT and not account.is_verified:
        warnings.append(
            gettext("The Stripe account is not verified (%(state)s): hold the payout until it is.")
            % {"state": account.get_verification_display().lower()}
        )
    return warnings


# --- payouts --------------------------------------------------------------------------------
@admin.register(Payout)
class PayoutAdmin(PayoutDecisionButtons, ReadOnlyAdmin):
    change_form_template = "admin/payouts/payout/change_form.html"
    list_display = [
        "requested_at",
        "campaign_title",
        "organizer",
        "amount",
        "status_label",
        "method",
        "account_verification",
        "review_window",
        "available",
    ]
    list_filter = [ReviewStatusFilter, "method"]
    # Oldest first: first come, first reviewed. (Not per list: the admin marks the sorted column
    # from this attribute, not from get_ordering.)
    ordering = ["requested_at", "id"]
    # "^public_id": the short id in ledger memos and bank references finds its payout too.
    search_fields = ["campaign__title", "campaign__organizer__email", "^public_id"]
    list_select_related = ["campaign__organizer__payout_account"]
    fieldsets = [
        (
            _("Request"),
            {
                "fields": [
                    "campaign",
                    "requested_by",
                    "amount",
                    "status_summary",
                    "method",
                    "destination",
                    "note",
                    "requested_at",
                    "public_id",
                ]
            },
        ),
        (
            _("Review window"),
            {
                "fields": [
                    "review_window_state",
                    "review_window_ends_at",
                    "window_waived_by",
                    "window_waived_at",
                    "window_waiver_reason",
                ]
            },
        ),
        (
            _("Decision and transfer"),
            {
                "fields": [
                    "status",
                    "hold_kind",
                    "decision_reason",
                    "last_changed_by",
                    "approved_by",
                    "approved_at",
                    "transfer_number",
                    "transfer_started_at",
                    "transfer_id",
                    "bank_reference",
                    "paid_at",
                    "failure_message",
                    "updated_at",
                ]
            },
        ),
    ]
    readonly_fields = [name for _title, options in fieldsets for name in options["fields"]]

    def get_queryset(self, request):
        # The organizer and their payout account: the list's columns and the review page's.
        queryset = super().get_queryset(request).select_related(*self.list_select_related)
        return with_available(queryset)

    def get_fieldsets(self, request, obj=None):
        if obj is None or obj.status not in Payout.IN_REVIEW_STATUSES:
            return self.fieldsets
        # In review, nothing has been decided or transferred yet: folded away.
        *first, (title, options) = self.fieldsets
        return [*first, (title, {**options, "classes": ["collapse"]})]

    def changelist_view(self, request, extra_context=None):
        if _in_queue(request):
            extra_context = {
                **(extra_context or {}),
                "title": gettext("Payouts in review, oldest first"),
            }
        return super().changelist_view(request, extra_context)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        # The payout the admin has just read and allowed this member to view: reading it again
        # in change_view would cost its queries twice.
        in_review = obj.status in Payout.IN_REVIEW_STATUSES
        context = {
            **context,
            "title": gettext("Review payout") if in_review else gettext("Payout"),
            "review": payout_review(obj),
            "claim_note": claim_note(obj, request.user),
        }
        return super().render_change_form(request, context, add, change, form_url, obj)

    # --- columns and read-only displays ---
    @admin.display(description=_("campaign"), ordering="campaign__title")
    def campaign_title(self, payout):
        # Not the "campaign" field itself: the admin keeps a related object's column on one
        # line, and a long title then pushes the list wider than the screen.
        return payout.campaign.title

    @admin.display(description=_("organizer"), ordering="campaign__organizer__email")
    def organizer(self, payout):
        return payout.campaign.organizer

    @admin.display(description=_("amount"), ordering="amount_minor")
    def amount(self, payout):
        return _money(payout)

    @admin.display(description=_("status"), ordering="status")
    def status_label(self, payout):
        if payout.status == Status.ON_HOLD and payout.hold_kind:
            return gettext("%(status)s: %(why)s") % {
                "status": payout.get_status_display(),
                "why": payout.get_hold_kind_display().lower(),
            }
        return payout.get_status_display()

    @admin.display(description=_("account verification"))
    def account_verification(self, payout):
        account = _payout_account(payout.campaign.organizer)
        if account is None:
            return gettext("No payout account")
        return account.get_verification_display()

    @admin.display(description=_("review window ends"), ordering="review_window_ends_at")
    def review_window(self, payout):
        if payout.window_waived_at is not None:
            return gettext("Waived")
        return _date_time(payout.review_window_ends_at)

    @admin.display(description=_("available on the campaign"))
    def available(self, payout):
        if payout.status not in Payout.IN_REVIEW_STATUSES:
            return "—"
        available = max(0, payout.campaign_held_minor - payout.other_requests_minor)
        text = format_money(available, payout.currency)
        explanation = gettext(
            "What the campaign holds in the ledger, less its other open requests: what "
            "approving this payout is checked against."
        )
        if available < payout.amount_minor:
            return format_html(
                '<strong title="{}">{} ({})</strong>', explanation, text, gettext("not enough")
            )
        return format_html('<span title="{}">{}</span>', explanation, text)

    @admin.display(description=_("status"))
    def status_summary(self, payout):
        summary = self.status_label(payout)
        if payout.decision_reason:
            summary = gettext("%(status)s — %(reason)s") % {
                "status": summary,
                "reason": payout.decision_reason,
            }
        if payout.status == Status.REQUESTED and payout.failure_message:
            summary = gettext("%(status)s again after a failed transfer: %(error)s") % {
                "status": summary,
                "error": payout.failure_message,
            }
        return summary

    @admin.display(description=_("review window"))
    def review_window_state(self, payout):
        if payout.window_waived_at is not None:
            return gettext("Waived by %(member)s on %(when)s: %(reason)s") % {
                "member": payout.window_waived_by or gettext("the system"),
                "when": _date_time(payout.window_waived_at),
                "reason": payout.window_waiver_reason,
            }
        ends = _date_time(payout.review_window_ends_at)
        if payout.review_window_ends_at > timezone.now():
            return gettext("Open: supporters can raise concerns until %(ends)s.") % {"ends": ends}
        return gettext("Ended on %(ends)s.") % {"ends": ends}


def available_for(payout, breakdown):
    """payout_breakdown(campaign, exclude_payout=payout).available (what approving the payout
    checks), from the campaign's breakdown without reading it again: an open request's own
    amount is part of `requested`."""
    requested = breakdown.requested
    if payout.status in selectors.NOT_YET_POSTED_STATUSES:
        requested -= payout.amount_minor
    return dataclasses.replace(breakdown, requested=requested).available


def payout_review(payout):
    """What a payout's page shows beside its fields (templates/admin/payouts/payout/)."""
    campaign = payout.campaign
    organizer = campaign.organizer
    account = _payout_account(organizer)
    breakdown = selectors.payout_breakdown(campaign)
    in_review = payout.status in Payout.IN_REVIEW_STATUSES
    receipts = list(payout.receipts.select_related("payout").order_by("id"))
    history = (
        AuditEvent.objects.filter(
            target_type=ContentType.objects.get_for_model(Payout), target_id=str(payout.pk)
        )
        .select_related("actor")
        .order_by("-created_at", "-id")
    )
    return {
        "currency": payout.currency,
        "organizer": organizer,
        "account": account,
        "account_warnings": account_warnings(payout, account) if in_review else [],
        "breakdown": breakdown,
        "available_for_payout": available_for(payout, breakdown) if in_review else None,
        "allocations": list(payout.allocations.select_related("budget_item").order_by("id")),
        "receipts": [(receipt, receipt_url(receipt)) for receipt in receipts],
        "refund_rate": selectors.refund_rate(campaign),
        # A pledge is "disputed" while its dispute is open (won: collected again; lost:
        # charged back), and payouts of the campaign wait meanwhile.
        "disputed_pledges": list(
            Pledge.objects.filter(campaign=campaign, status=Pledge.Status.DISPUTED)
            .select_related("supporter")
            .order_by("id")
        ),
        # Raised by supporters during the review window; hidden ones too, marked.
        "concerns": list(concerns.concerns_for(payout, include_hidden=True)),
        "history": list(history),
    }


# --- payout accounts ------------------------------------------------------------------------
@admin.register(PayoutAccount)
class PayoutAccountAdmin(ReadOnlyAdmin):
    """Where each organizer's payouts go. The IBAN is masked here and in the list; a full one is
    shown only to the approver of a bank-transfer payout, on its Record bank transfer page
    (the payout's own IBAN, as requested)."""

    list_display = [
        "member",
        "method",
        "verification",
        "iban_masked",
        "stripe_account_id",
        "requirements",
        "updated_at",
    ]
    list_filter = ["method", "verification"]
    search_fields = ["member__email", "member__display_name", "=stripe_account_id"]
    list_select_related = ["member"]
    # Never "iban": the full IBAN is not shown here.
    fields = [
        "member",
        "method",
        "verification",
        "iban_masked",
        "account_holder",
        "stripe_account_id",
        "charges_enabled",
        "payouts_enabled",
        "details_submitted",
        "requirements",
        "disabled_reason",
        "created_at",
        "updated_at",
    ]
    readonly_fields = fields

    @admin.display(description=_("IBAN"))
    def iban_masked(self, account):
        return account.masked_iban or "—"

    @admin.display(description=_("requirements due"))
    def requirements(self, account):
        return ", ".join(account.requirements_due) or "—"


# --- refunds --------------------------------------------------------------------------------
REFUND_PERMISSION = "payouts.refund_pledge"
FOUND_PLEDGES_SHOWN = 50


def pledges_matching(query):
    """Pledges whose money was taken, found by their public id or their supporter's email."""
    taken = Pledge.objects.filter(status__in=Pledge.TAKEN_STATUSES)
    try:
        return taken.filter(public_id=uuid.UUID(query))
    except ValueError:
        return taken.filter(supporter__email__iexact=query)


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin):
    """Refunds, read-only, and the one way to make one from the admin: "Refund a pledge" on the
    list finds a pledge (by its public id or its supporter's email) and opens its confirmation
    page, which calls payouts.refunds.refund_pledge with by=request.user.

    Refunding is for holders of payouts.refund_pledge (who may see the refunds too) and needs
    this session to have passed two-factor authentication: the admin's middleware asks holders
    for a code, and the page refuses on its own as well. A view on this admin rather than a
    proxy model of collected pledges: no model, no migration, and pledges.admin stays free of
    payouts (pledges sits below payouts)."""

    change_list_template = "admin/payouts/refund_change_list.html"
    list_display = [
        "created_at",
        "campaign_title",
        "supporter",
        "amount",
        "status",
        "refunded_by",
        "provider_refund_id",
        "reversed",
    ]
    list_filter = ["status", ("pledge__campaign", admin.RelatedOnlyFieldListFilter)]
    search_fields = [
        "^public_id",
        "^pledge__public_id",
        "pledge__supporter__email",
        "=provider_refund_id",
    ]
    list_select_related = ["pledge__campaign", "pledge__supporter", "requested_by"]
    fields = [
        "public_id",
        "pledge_summary",
        "campaign_title",
        "supporter",
        "amount",
        "status",
        "reason",
        "refunded_by",
        "provider_refund_id",
        "failure_message",
        "reversed",
        "created_at",
        "finished_at",
    ]
    readonly_fields = fields

    def has_refund_permission(self, request):
        return request.user.has_perm(REFUND_PERMISSION)

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) or self.has_refund_permission(request)

    def get_urls(self):
        # Before the model's own URLs: "<path:object_id>/" would take these.
        return [
            path(
                "refund_pledge/",
                self.admin_site.admin_view(self.find_pledge_view),
                name="payouts_refund_find_pledge",
            ),
            path(
                "refund_pledge/<uuid:pledge_public_id>/",
                self.admin_site.admin_view(self.refund_pledge_view),
                name="payouts_refund_pledge",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_refund": self.has_refund_permission(request),
        }
        return super().changelist_view(request, extra_context)

    # --- finding a pledge and refunding it ---
    def _refund_page(self, request, template, **context):
        context = {
            **self.admin_site.each_context(request),
            "opts": Refund._meta,
            "changelist_url": reverse("admin:payouts_refund_changelist"),
            "find_url": reverse("admin:payouts_refund_find_pledge"),
            **context,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, template, context)

    def find_pledge_view(self, request):
        """A pledge by its public id or its supporter's email, each with a Refund link."""
        if not self.has_refund_permission(request):
            raise PermissionDenied
        query = request.GET.get("q", "").strip()[:254]
        found = []
        if query:
            pledges = with_refund_figures(
                pledges_matching(query).select_related("campaign", "supporter")
            ).order_by("-collected_at", "-id")
            found = [
                {"pledge": pledge, "can_refund": is_refundable(pledge)}
                for pledge in pledges[:FOUND_PLEDGES_SHOWN]
            ]
        return self._refund_page(
            request,
            "admin/payouts/refund_find_pledge.html",
            title=gettext("Refund a pledge"),
            query=query,
            found=found,
            shown_at_most=FOUND_PLEDGES_SHOWN,
        )

    def refund_pledge_view(self, request, pledge_public_id):
        """The confirmation page of one pledge's refund; POST makes it (refund_pledge)."""
        if not self.has_refund_permission(request):
            raise PermissionDenied
        pledge = get_object_or_404(
            with_refund_figures(
                Pledge.objects.select_related("campaign__organizer", "supporter").filter(
                    status__in=Pledge.TAKEN_STATUSES
                )
            ),
            public_id=pledge_public_id,
        )
        why_not = why_not_refundable(pledge)
        form = RefundForm(
            _posted(request),
            pledge=pledge,
            refundable_minor=pledge.refundable_minor if is_refundable(pledge) else 0,
        )
        passed_two_factor = session_passed_two_factor(request)
        if request.method == "POST":
            if not passed_two_factor:
                self.message_user(
                    request,
                    gettext(
                        "Refunding needs a code from your authenticator app in this session: "
                        "enter one, then submit again. Nothing was refunded."
                    ),
                    messages.ERROR,
                )
            elif why_not:
                self.message_user(request, why_not, messages.ERROR)
            elif form.is_valid():
                try:
                    made = refunds.refund_pledge(
                        pledge,
                        by=request.user,
                        reason=form.cleaned_data["reason"],
                        amount_minor=form.cleaned_data["amount"],
                    )
                except refunds.RefundInterrupted as error:
                    self.message_user(request, error.message, messages.WARNING)
                    pending = pledge.refunds.filter(status=Refund.Status.PENDING).first()
                    if pending is None:  # pragma: no cover - the claim wrote it before the call
                        return redirect("admin:payouts_refund_changelist")
                    return redirect("admin:payouts_refund_change", pending.pk)
                except DomainError as error:
                    self.message_user(request, error.message, messages.ERROR)
                    if error.field not in form.fields:
                        return redirect(request.path)
                    form.add_error(error.field, error.message)
                else:
                    level, text = refunded_message(made, str(pledge.supporter))
                    self.message_user(request, text, level)
                    return redirect("admin:payouts_refund_change", made.pk)
        breakdown = selectors.payout_breakdown(pledge.campaign)
        return self._refund_page(
            request,
            "admin/payouts/refund_pledge.html",
            title=gettext("Refund a pledge: %(amount)s from %(supporter)s")
            % {
                "amount": format_money(pledge.collected_minor, pledge.currency),
                "supporter": pledge.supporter,
            },
            pledge=pledge,
            why_not=why_not,
            form=form,
            media=self.media + form.media,
            passed_two_factor=passed_two_factor,
            two_factor_url=two_factor_url(request),
            breakdown=breakdown,
            paid_out_consequence=paid_out_consequence(breakdown),
            earlier_refunds=list(pledge.refunds.select_related("requested_by").order_by("id")),
            pledge_url=_pledge_admin_url(pledge),
        )

    # --- columns and read-only displays ---
    @admin.display(description=_("campaign"), ordering="pledge__campaign__title")
    def campaign_title(self, refund):
        return refund.pledge.campaign.title

    @admin.display(description=_("supporter"), ordering="pledge__supporter__email")
    def supporter(self, refund):
        supporter = refund.pledge.supporter
        return (
            f"{supporter.display_name} <{supporter.email}>"
            if supporter.display_name
            else (supporter.email)
        )

    @admin.display(description=_("amount"), ordering="amount_minor")
    def amount(self, refund):
        return format_money(refund.amount_minor, refund.currency)

    @admin.display(description=_("refunded by"), ordering="requested_by__email")
    def refunded_by(self, refund):
        return refund.requested_by or gettext("At the payment provider")

    @admin.display(description=_("reversed from payouts"), ordering="reversed_minor")
    def reversed(self, refund):
        if not refund.reversed_minor:
            return "—"
        return format_money(refund.reversed_minor, refund.currency)

    @admin.display(description=_("pledge"))
    def pledge_summary(self, refund):
        pledge = refund.pledge
        label = gettext("%(amount)s, %(status)s (%(id)s)") % {
            "amount": format_money(pledge.amount_minor, pledge.currency),
            "status": pledge.get_status_display().lower(),
            "id": pledge.public_id,
        }
        url = _pledge_admin_url(pledge)
        return format_html('<a href="{}">{}</a>', url, label) if url else label


def _pledge_admin_url(pledge):
    try:
        return reverse("admin:pledges_pledge_change", args=[pledge.pk])
    except NoReverseMatch:  # pragma: no cover - pledges.admin is installed with the site
        return None
