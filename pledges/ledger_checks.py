"""The pledges app's checks for `manage.py verify_ledger` (found by ledger.verification):
collected pledges and contribution transactions match one for one, PaymentIntents are never
shared, and the provider's succeeded charges are exactly our collected pledges."""

from collections import Counter
from datetime import timedelta

from django.db.models import Count

from ledger import selectors as ledger_selectors
from ledger.models import Transaction
from ledger.verification import register
from pledges.models import PaymentAttempt, Pledge


@register(name="pledges: one contribution per collected pledge, none for any other")
def contributions_match_collected_pledges():
    contributed = ledger_selectors.contributed_pledge_ids()
    missing = Pledge.objects.filter(status__in=Pledge.TAKEN_STATUSES).exclude(pk__in=contributed)
    for pledge in missing.values_list("pk", "status")[:50]:
        yield f"pledge {pledge[0]} is {pledge[1]} but has no contribution transaction"
    taken = Pledge.objects.filter(status__in=Pledge.TAKEN_STATUSES).values_list("pk", flat=True)
    extra = Transaction.objects.filter(kind=Transaction.Kind.CONTRIBUTION).exclude(
        pledge_id__in=taken
    )
    for transaction_id, pledge_id in extra.values_list("pk", "pledge_id")[:50]:
        yield f"contribution {transaction_id} is for pledge {pledge_id}, which is not collected"
    for pledge in (
        Pledge.objects.filter(status__in=Pledge.TAKEN_STATUSES)
        .exclude(attempts__status=PaymentAttempt.Status.SUCCEEDED)
        .values_list("pk", flat=True)[:50]
    ):
        yield f"pledge {pledge} is collected without a succeeded attempt"


@register(name="pledges: PaymentIntent ids are unique")
def payment_intents_unique():
    shared = (
        Transaction.objects.filter(kind=Transaction.Kind.CONTRIBUTION)
        .exclude(provider_object_id="")
        .values("provider_object_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    for row in shared[:50]:
        yield f"{row['provider_object_id']} backs {row['n']} contributions"
    succeeded = (
        PaymentAttempt.objects.filter(status=PaymentAttempt.Status.SUCCEEDED)
        .values("pledge_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    for row in succeeded[:50]:
        yield f"pledge {row['pledge_id']} has {row['n']} succeeded attempts"


@register(name="pledges: the provider's succeeded charges are our collected pledges")
def provider_charges_match():
    """From the provider, where it can list PaymentIntents: each of our pledges (by the
    metadata this installation put on its charges) has at most one succeeded PaymentIntent,
    and the pledges with one are exactly those collected here."""
    from core.install import install_id
    from payments.gateway import PaymentError, get_gateway

    first = PaymentAttempt.objects.order_by("created_at").values_list("created_at", flat=True)
    if not first:
        return  # nothing was ever sent to the provider: nothing to compare
    since = first[0] - timedelta(minutes=5)  # not the account's whole history
    ours = install_id()
    try:
        charges = [
            charge
            for charge in get_gateway().list_payments(created_gte=since)
            if (charge.metadata or {}).get("install") == ours and charge.status == "succeeded"
        ]
    except PaymentError as error:
        yield f"could not list the provider's payments: {error.message}"
        return
    per_pledge = Counter(charge.metadata.get("pledge") for charge in charges)
    for public_id, count in per_pledge.items():
        if count > 1:
            yield f"pledge {public_id} has {count} succeeded PaymentIntents at the provider"
    collected = {
        str(public_id)
        for public_id in Pledge.objects.filter(status__in=Pledge.TAKEN_STATUSES).values_list(
            "public_id", flat=True
        )
    }
    for public_id in sorted(set(per_pledge) - collected)[:50]:
        yield f"pledge {public_id} was charged at the provider but is not collected here"
    for public_id in sorted(collected - set(per_pledge))[:50]:
        yield f"pledge {public_id} is collected here but the provider has no succeeded charge"
