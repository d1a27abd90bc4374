"""Every write to the ledger: balanced, idempotent postings (post, transfer, reverse_transaction).

A posting is identified by its `key`, derived from our own ids ("contribution:pledge:42"):
posting it again returns the transaction already there, so a retried task or a replayed
webhook records money once. The same key with a different posting is a bug in the caller
and is refused. Postings run in a savepoint, so they join the caller's transaction (record
the pledge as collected and its contribution together, or neither).
"""

from collections import Counter
from datetime import datetime

from django.db import IntegrityError
from django.db import transaction as db_transaction
from django.utils import timezone
from django.utils.translation import gettext

from core.money import CURRENCIES, MAX_AMOUNT_MINOR
from ledger.errors import LedgerError
from ledger.models import KEY_MAX_LENGTH, Account, Entry, Transaction

__all__ = ["LedgerError", "post", "reverse_transaction", "transfer"]

PROVIDER_ID_MAX_LENGTH = Transaction._meta.get_field("provider_object_id").max_length


def post(
    kind,
    *,
    key,
    currency,
    movements,
    occurred_at=None,
    memo="",
    is_estimate=False,
    campaign_id=None,
    pledge_id=None,
    attempt_id=None,
    provider_object_id="",
):
    """Record one movement of money; returns (transaction, created).

    `movements` are (Account, amount_minor) pairs: negative amounts leave an account,
    positive ones arrive; they must sum to zero, each a non-zero int in `currency`, on at
    least two accounts. A replay of `key` with the same kind, currency, movements, campaign
    and pledge returns the recorded transaction with created=False (its memo, time, attempt,
    provider id and estimate flag are the first posting's); any other reuse of the key
    raises LedgerError, as does a second contribution for one pledge.
    """
    movements = _checked_movements(movements, currency)
    _check_posting(kind, key, currency, pledge_id, memo, is_estimate, provider_object_id)
    for name, value in (
        ("campaign_id", campaign_id),
        ("pledge_id", pledge_id),
        ("attempt_id", attempt_id),
    ):
        _check_id(name, value)
    if occurred_at is None:
        occurred_at = timezone.now()
    elif not isinstance(occurred_at, datetime) or timezone.is_naive(occurred_at):
        raise LedgerError(gettext("occurred_at must be a timezone-aware datetime."))

    posting = {
        "kind": kind,
        "currency": currency,
        "movements": movements,
        "campaign_id": campaign_id,
        "pledge_id": pledge_id,
    }
    recorded = _recorded(key)
    if recorded is not None:
        return _replayed(recorded, posting), False
    try:
        # A savepoint: a lost race rolls back only this posting, not the caller's work.
        with db_transaction.atomic():
            created = Transaction.objects.create(
                kind=kind,
                currency=currency,
                key=key,
                occurred_at=occurred_at,
                memo=memo,
                is_estimate=is_estimate,
                campaign_id=campaign_id,
                pledge_id=pledge_id,
                attempt_id=attempt_id,
                provider_object_id=provider_object_id,
            )
            Entry.objects.bulk_create(
                Entry(transaction=created, account=account, amount_minor=amount, currency=currency)
                for account, amount in movements
            )
    except IntegrityError:
        # Someone posted the same key (or this pledge's contribution) between our read and
        # our insert: what they recorded decides.
        recorded = _recorded(key)
        if recorded is not None:
            return _replayed(recorded, posting), False
        if kind == Transaction.Kind.CONTRIBUTION:
            other = Transaction.objects.filter(
                kind=Transaction.Kind.CONTRIBUTION, pledge_id=pledge_id
            ).first()
            if other is not None:
                raise LedgerError(
                    gettext("Pledge %(pledge)s already has a contribution (%(key)s).")
                    % {"pledge": pledge_id, "key": other.key}
                ) from None
        raise
    return created, True


def transfer(kind, *, from_account, to_account, amount_minor, key, **details):
    """Move a positive `amount_minor` from one account to another: a two-entry `post`.

    The currency is the accounts' (they must share one); `details` are post's keywords.
    """
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or amount_minor <= 0:
        raise LedgerError(gettext("A transfer moves a positive whole number of minor units."))
    if not isinstance(from_account, Account) or not isinstance(to_account, Account):
        raise LedgerError(gettext("A transfer moves money between two ledger accounts."))
    currency = details.pop("currency", from_account.currency)
    return post(
        kind,
        key=key,
        currency=currency,
        movements=[(from_account, -amount_minor), (to_account, amount_minor)],
        **details,
    )


def reverse_transaction(original, *, key, memo, occurred_at=None, kind=Transaction.Kind.CORRECTION):
    """Undo a recorded transaction with a new one that moves the same money back.

    The ledger never edits a row: a wrong posting stays, and this correction (kind
    CORRECTION unless given, e.g. PAYOUT_REVERSAL) cancels it, with the same source links.
    """
    movements = [
        (entry.account, -entry.amount_minor)
        for entry in original.entries.select_related("account").order_by("id")
    ]
    return post(
        kind,
        key=key,
        currency=original.currency,
        movements=movements,
        occurred_at=occurred_at,
        memo=memo,
        is_estimate=original.is_estimate,
        campaign_id=original.campaign_id,
        pledge_id=original.pledge_id,
        attempt_id=original.attempt_id,
        provider_object_id=original.provider_object_id,
    )


def _checked_movements(movements, currency):
    """The movements as a list of (Account, int), or LedgerError for the first bad one."""
    if currency not in CURRENCIES:
        raise LedgerError(gettext("Unknown currency %(currency)r.") % {"currency": currency})
    try:
        pairs = [tuple(pair) for pair in movements]
    except TypeError:
        raise LedgerError(gettext("Movements are (account, amount_minor) pairs.")) from None
    checked = []
    for pair in pairs:
        if len(pair) != 2:
            raise LedgerError(gettext("Movements are (account, amount_minor) pairs."))
        account, amount = pair
        if not isinstance(account, Account) or account.pk is None:
            raise LedgerError(gettext("A movement's account must be a saved ledger account."))
        # bool is an int subclass, and Decimal, float and numeric strings are refused: the
        # ledger takes minor units as computed by core.money, never a fraction of one.
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise LedgerError(
                gettext("Amounts are whole numbers of minor units, not %(type)s.")
                % {"type": type(amount).__name__}
            )
        if amount == 0:
            raise LedgerError(gettext("A ledger entry cannot be zero."))
        if abs(amount) > MAX_AMOUNT_MINOR:
            raise LedgerError(gettext("That amount is too large."))
        if account.currency != currency:
            raise LedgerError(
                gettext("%(account)s is not in %(currency)s.")
                % {"account": account, "currency": currency}
            )
        checked.append((account, int(amount)))
    if len({account.pk for account, _ in checked}) < 2:
        raise LedgerError(gettext("A posting moves money between at least two accounts."))
    total = sum(amount for _, amount in checked)
    if total != 0:
        raise LedgerError(
            gettext("The entries must sum to zero; they sum to %(total)d.") % {"total": total}
        )
    return checked


def _check_posting(kind, key, currency, pledge_id, memo, is_estimate, provider_object_id):
    if kind not in Transaction.Kind.values:
        raise LedgerError(gettext("Unknown transaction kind %(kind)r.") % {"kind": kind})
    if not isinstance(key, str) or not key.strip() or len(key) > KEY_MAX_LENGTH:
        raise LedgerError(
            gettext("A posting needs a key of at most %(max)d characters.")
            % {"max": KEY_MAX_LENGTH}
        )
    if kind == Transaction.Kind.CONTRIBUTION and pledge_id is None:
        raise LedgerError(gettext("A contribution names the pledge it collected."))
    if not isinstance(memo, str):
        raise LedgerError(gettext("A memo is text."))
    if not isinstance(is_estimate, bool):
        raise LedgerError(gettext("is_estimate is True or False."))
    if not isinstance(provider_object_id, str) or len(provider_object_id) > PROVIDER_ID_MAX_LENGTH:
        raise LedgerError(gettext("A provider object id is text of at most 255 characters."))


def _check_id(name, value):
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise LedgerError(gettext("%(name)s is a positive integer.") % {"name": name})


def _recorded(key):
    return Transaction.objects.filter(key=key).first()


def _replayed(recorded, posting):
    """The recorded transaction if `posting` is the same one again, else LedgerError."""
    same = (
        recorded.kind == posting["kind"]
        and recorded.currency == posting["currency"]
        and recorded.campaign_id == posting["campaign_id"]
        and recorded.pledge_id == posting["pledge_id"]
        and Counter(recorded.entries.values_list("account_id", "amount_minor"))
        == Counter((account.pk, amount) for account, amount in posting["movements"])
    )
    if not same:
        raise LedgerError(
            gettext(
                "The posting key %(key)s was already used for a different transaction "
                "(#%(id)s); a correction needs a new key."
            )
            % {"key": recorded.key, "id": recorded.pk}
        )
    return recorded
