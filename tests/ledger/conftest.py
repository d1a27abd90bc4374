"""Ledger fixtures: the accounts of a campaign in euros, and a helper that records a pledge's
contribution as the pledges app will."""

from types import SimpleNamespace

import pytest

from ledger import accounts, services
from ledger.models import Transaction

CAMPAIGN_ID = 12


@pytest.fixture
def eur(db):
    """The accounts money moves between for campaign 12, in euros."""
    return SimpleNamespace(
        cards=accounts.external_card("EUR"),
        campaign=accounts.campaign_account(CAMPAIGN_ID, "EUR"),
        processor=accounts.processor_fees("EUR"),
        platform=accounts.platform_fees("EUR"),
        payable=accounts.organizer_payable(CAMPAIGN_ID, "EUR"),
        bank=accounts.organizer_bank(CAMPAIGN_ID, "EUR"),
    )


def contribute(pledge_id, amount_minor, *, campaign_id=CAMPAIGN_ID, currency="EUR", **details):
    """Post pledge `pledge_id`'s contribution from supporters' cards to the campaign."""
    return services.transfer(
        Transaction.Kind.CONTRIBUTION,
        from_account=accounts.external_card(currency),
        to_account=accounts.campaign_account(campaign_id, currency),
        amount_minor=amount_minor,
        key=f"contribution:pledge:{pledge_id}",
        campaign_id=campaign_id,
        pledge_id=pledge_id,
        **details,
    )
