"""Domain errors of payouts: messages safe to show to the organizer or the admin."""

from core.errors import DomainError


class PayoutError(DomainError):
    """A payout request, review or transfer that the platform's rules refuse."""

    code = "payout_refused"


class ApprovalRefused(PayoutError):
    """The four-eyes rule, the permission, two-factor or the review window refused an
    approval (an audit event records each refusal)."""

    code = "approval_refused"
