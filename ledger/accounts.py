"""The ledger's accounts, opened on first use: one per kind, currency and campaign."""

from django.utils.translation import gettext

from core.money import CURRENCIES
from ledger.errors import LedgerError
from ledger.models import Account


def account(kind, currency, reference=""):
    """The account of this kind, currency and reference, opened if it does not exist yet.

    Race-safe: get_or_create retries the read when a concurrent opening wins the unique
    (kind, reference, currency) constraint.
    """
    if kind not in Account.Kind.values:
        raise LedgerError(gettext("Unknown ledger account kind %(kind)r.") % {"kind": kind})
    _check_currency(currency)
    if not isinstance(reference, str):
        raise LedgerError(gettext("An account reference is text, e.g. a campaign's id."))
    if (kind in Account.PER_CAMPAIGN_KINDS) != bool(reference):
        raise LedgerError(
            gettext("A campaign's accounts need the campaign's id; platform accounts take none.")
        )
    found, _created = Account.objects.get_or_create(
        kind=kind, reference=reference, currency=currency
    )
    return found


def campaign_reference(campaign_id):
    """A campaign's id as the text its accounts carry as `reference`."""
    if isinstance(campaign_id, bool) or not isinstance(campaign_id, int) or campaign_id <= 0:
        raise LedgerError(gettext("A campaign id is a positive integer."))
    return str(campaign_id)


def campaign_account(campaign_id, currency):
    """The money a campaign holds: contributions in; fees, refunds and payouts out."""
    return account(Account.Kind.CAMPAIGN, currency, campaign_reference(campaign_id))


def organizer_payable(campaign_id, currency):
    """What the platform owes a campaign's organizer and has not paid out yet."""
    return account(Account.Kind.ORGANIZER_PAYABLE, currency, campaign_reference(campaign_id))


def organizer_bank(campaign_id, currency):
    """Money paid out to a campaign's organizer: outside the platform."""
    return account(Account.Kind.ORGANIZER_BANK, currency, campaign_reference(campaign_id))


def external_card(currency):
    """Supporters' cards: where contributions come from and refunds go (outside)."""
    return account(Account.Kind.EXTERNAL_CARD, currency)


def processor_fees(currency):
    """What the payment provider kept (processing and dispute fees)."""
    return account(Account.Kind.PROCESSOR_FEES, currency)


def platform_fees(currency):
    """What the platform kept as its own fee."""
    return account(Account.Kind.PLATFORM_FEES, currency)


def _check_currency(currency):
    if currency not in CURRENCIES:
        raise LedgerError(gettext("Unknown currency %(currency)r.") % {"currency": currency})
