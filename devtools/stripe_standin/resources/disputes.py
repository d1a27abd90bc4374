"""Disputes (chargebacks): opened at once on a charge made with Stripe's dispute test card
(4000 0000 0000 0259, `pm_card_createDispute`), answered with evidence, won or lost.

Opening a dispute takes the amount and Stripe's dispute fee from the balance (one balance
transaction, as on Stripe); winning returns both. Stripe's test triggers decide the outcome of
submitted evidence: `uncategorized_text` "winning_evidence" wins, "losing_evidence" loses,
anything else leaves the dispute under review. Closing a dispute accepts it (lost).
Events: charge.dispute.created, charge.dispute.funds_withdrawn, charge.dispute.updated,
charge.dispute.funds_reinstated, charge.dispute.closed.
"""

from __future__ import annotations

from ..api import route
from ..errors import invalid
from ..params import METADATA, take
from ..state import new_id
from . import balance
from .common import list_answer, take_list

DISPUTE_FEE_MINOR = 1500
EVIDENCE_DUE_S = 7 * 24 * 3600
WINNING_EVIDENCE, LOSING_EVIDENCE = "winning_evidence", "losing_evidence"
CLOSED = ("won", "lost")
EVIDENCE_FIELDS = (
    "access_activity_log",
    "billing_address",
    "cancellation_policy",
    "cancellation_policy_disclosure",
    "cancellation_rebuttal",
    "customer_communication",
    "customer_email_address",
    "customer_name",
    "customer_purchase_ip",
    "customer_signature",
    "duplicate_charge_documentation",
    "duplicate_charge_explanation",
    "duplicate_charge_id",
    "product_description",
    "receipt",
    "refund_policy",
    "refund_policy_disclosure",
    "refund_refusal_explanation",
    "service_date",
    "service_documentation",
    "shipping_address",
    "shipping_carrier",
    "shipping_date",
    "shipping_documentation",
    "shipping_tracking_number",
    "uncategorized_file",
    "uncategorized_text",
)


def open_dispute(call, charge: dict) -> dict:
    """The cardholder disputes the charge as fraudulent: the funds and the fee are withdrawn."""
    standin = call.standin
    dispute_id = new_id("dp")
    transaction = balance.record(
        call,
        type="adjustment",
        amount=-charge["amount"],
        currency=charge["currency"],
        source=dispute_id,
        fee=DISPUTE_FEE_MINOR,
        fee_description="Dispute fee",
        description=f"Chargeback withdrawal for {charge['id']}",
        reporting_category="dispute",
    )
    now = standin.now()
    card = charge["payment_method_details"]["card"]
    dispute = {
        "id": dispute_id,
        "object": "dispute",
        "amount": charge["amount"],
        "balance_transactions": [transaction],
        "charge": charge["id"],
        "created": now,
        "currency": charge["currency"],
        "enhanced_eligibility_types": [],
        "evidence": {**dict.fromkeys(EVIDENCE_FIELDS), "enhanced_evidence": {}},
        "evidence_details": {
            "due_by": now + EVIDENCE_DUE_S,
            "enhanced_eligibility": {},
            "has_evidence": False,
            "past_due": False,
            "submission_count": 0,
        },
        "is_charge_refundable": False,
        "livemode": False,
        "metadata": {},
        "payment_intent": charge["payment_intent"],
        "payment_method_details": {
            "card": {
                "brand": card["brand"],
                "case_type": "chargeback",
                "network": card["network"],
                "network_reason_code": "10.4",
            },
            "type": "card",
        },
        "reason": "fraudulent",
        "status": "needs_response",
    }
    standin.add(dispute, created_at=standin.clock())
    standin.private[charge["id"]]["dispute"] = dispute_id
    charge["disputed"] = True
    standin.emit("charge.dispute.created", dispute, request=call.request)
    standin.emit("charge.dispute.funds_withdrawn", dispute, request=call.request)
    return dispute


def dispute_of(standin, charge: dict) -> dict | None:
    dispute_id = standin.private[charge["id"]].get("dispute")
    return standin.objects["dispute"].get(dispute_id) if dispute_id else None


@route("GET", "/v1/disputes/{dispute_id}")
def retrieve(call, dispute_id):
    take(call.params, {})
    return call.standin.get("dispute", dispute_id)


@route("POST", "/v1/disputes/{dispute_id}")
def update(call, dispute_id):
    values = take(
        call.params,
        {"evidence": dict.fromkeys(EVIDENCE_FIELDS, str), "metadata": METADATA, "submit": bool},
    )
    standin = call.standin
    dispute = standin.get("dispute", dispute_id)
    evidence = values.get("evidence") or {}
    # Evidence is submitted at once unless submit=false; metadata alone submits nothing.
    submitting = values.get("submit", bool(evidence))
    if evidence or submitting:
        _still_open(dispute)
    if "metadata" in values:
        standin.update_metadata(dispute, values["metadata"])
    previous = {"evidence": dict(dispute["evidence"]), "status": dispute["status"]}
    for key, value in evidence.items():
        dispute["evidence"][key] = value or None
    details = dispute["evidence_details"]
    details["has_evidence"] = any(dispute["evidence"][key] for key in EVIDENCE_FIELDS)
    outcome = None
    if submitting:
        details["submission_count"] += 1
        text = dispute["evidence"]["uncategorized_text"]
        outcome = {WINNING_EVIDENCE: "won", LOSING_EVIDENCE: "lost"}.get(text)
        dispute["status"] = "under_review"
    changed = {key: value for key, value in previous.items() if dispute[key] != value}
    standin.emit(
        "charge.dispute.updated", dispute, previous_attributes=changed, request=call.request
    )
    if outcome:
        _close(call, dispute, outcome)
    return dispute


@route("POST", "/v1/disputes/{dispute_id}/close")
def close(call, dispute_id):
    take(call.params, {})
    dispute = call.standin.get("dispute", dispute_id)
    _still_open(dispute)
    return _close(call, dispute, "lost")


@route("GET", "/v1/disputes")
def list_disputes(call):
    values = take_list(call, {"charge": str, "payment_intent": str})
    items = call.standin.all("dispute")
    for key in ("charge", "payment_intent"):
        if key in values:
            items = [item for item in items if item[key] == values[key]]
    return list_answer("/v1/disputes", items, values)


def _still_open(dispute: dict) -> None:
    if dispute["status"] in CLOSED:
        raise invalid(
            f"This dispute is already closed (status {dispute['status']}): it takes no more "
            "evidence.",
        )


def _close(call, dispute: dict, status: str) -> dict:
    standin = call.standin
    dispute["status"] = status
    if status == "won":
        transaction = balance.record(
            call,
            type="adjustment",
            amount=dispute["amount"],
            currency=dispute["currency"],
            source=dispute["id"],
            fee=-DISPUTE_FEE_MINOR,
            fee_description="Dispute fee refund",
            description=f"Chargeback reversal for {dispute['charge']}",
            reporting_category="dispute_reversal",
            immediately_available=True,
        )
        dispute["balance_transactions"].append(transaction)
        standin.emit("charge.dispute.funds_reinstated", dispute, request=call.request)
    standin.emit("charge.dispute.closed", dispute, request=call.request)
    return dispute
