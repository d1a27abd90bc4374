"""Reads of the ledger: balances and a campaign's figures, in constant queries, opening no
accounts."""

import pytest

from ledger import accounts, selectors, services
from ledger.models import Account, Transaction
from tests.ledger.conftest import CAMPAIGN_ID, contribute

pytestmark = pytest.mark.django_db

KIND = Transaction.Kind


def _move(kind, from_account, to_account, amount, key, **details):
    return services.transfer(
        kind, from_account=from_account, to_account=to_account, amount_minor=amount, key=key,
        **details,
    )[0]  # fmt: skip


@pytest.fixture
def campaign_books(eur):
    """Campaign 12: three contributions (€60), fees, a refund, a payout and its reversal."""
    contribute(1, 1_000)
    contribute(2, 2_000)
    contribute(3, 3_000)
    _move(KIND.PROCESSOR_FEE, eur.campaign, eur.processor, 180, "processor_fee:1")
    _move(KIND.PLATFORM_FEE, eur.campaign, eur.platform, 300, "platform_fee:1")
    _move(KIND.REFUND, eur.campaign, eur.cards, 1_000, "refund:re_1", pledge_id=1)
    _move(KIND.DISPUTE, eur.campaign, eur.cards, 2_000, "dispute:dp_1", pledge_id=2)
    _move(KIND.DISPUTE, eur.cards, eur.campaign, 2_000, "dispute:dp_1:won", pledge_id=2)
    _move(KIND.DISPUTE_FEE, eur.campaign, eur.processor, 1_500, "dispute_fee:dp_1")
    _move(KIND.PAYOUT, eur.campaign, eur.payable, 2_000, "payout:1")
    _move(KIND.PAYOUT_REVERSAL, eur.payable, eur.campaign, 500, "payout:1:reversal")
    _move(KIND.CORRECTION, eur.campaign, eur.platform, 20, "correction:1")
    # Another campaign's money, and this campaign's payable account, are not its figures.
    contribute(4, 9_999, campaign_id=99)
    _move(KIND.PAYOUT, eur.payable, eur.bank, 1_500, "payout:1:paid")
    return eur


def test_balances_are_the_sum_of_entries(campaign_books):
    eur = campaign_books
    assert selectors.balance(eur.processor) == 180 + 1_500
    assert selectors.balance(eur.platform) == 300 + 20
    assert selectors.balance(eur.payable) == 2_000 - 500 - 1_500
    assert selectors.balance(eur.bank) == 1_500
    # Money came from the outside: supporters' cards are below zero by what they gave net.
    assert selectors.balance(eur.cards) == -(6_000 + 9_999 - 1_000)
    assert selectors.balance(accounts.processor_fees("GBP")) == 0


def test_a_campaigns_totals_by_kind(campaign_books):
    assert selectors.campaign_totals(CAMPAIGN_ID) == {
        KIND.CONTRIBUTION: 6_000,
        KIND.PROCESSOR_FEE: 180,
        KIND.PLATFORM_FEE: 300,
        KIND.REFUND: 1_000,
        KIND.DISPUTE: 0,  # lost, then won back
        KIND.DISPUTE_FEE: 1_500,
        KIND.PAYOUT: 2_000,
        KIND.PAYOUT_REVERSAL: 500,
        KIND.CORRECTION: -20,
    }


def test_a_campaigns_figures_add_up(campaign_books):
    totals = selectors.campaign_totals(CAMPAIGN_ID)
    inflows = totals[KIND.CONTRIBUTION] + totals[KIND.PAYOUT_REVERSAL]
    outflows = sum(
        totals[kind]
        for kind in (KIND.PROCESSOR_FEE, KIND.PLATFORM_FEE, KIND.REFUND, KIND.DISPUTE)
        + (KIND.DISPUTE_FEE, KIND.PAYOUT)
    )
    net = 6_000 - 180 - 300 - 1_000 - 1_500 - 2_000 + 500 - 20
    assert selectors.net_minor(CAMPAIGN_ID) == net == inflows - outflows + totals[KIND.CORRECTION]
    assert selectors.net_minor(CAMPAIGN_ID) == selectors.balance(campaign_books.campaign)


def test_collected_is_the_gross_of_contributions(campaign_books):
    assert selectors.collected_minor(CAMPAIGN_ID) == 6_000  # before the refund and fees
    assert selectors.collected_minor(99) == 9_999
    assert selectors.collected_minor(7) == 0


def test_collected_for_many_campaigns_in_one_query(campaign_books, django_assert_num_queries):
    with django_assert_num_queries(1):
        collected = selectors.collected_by_campaign([CAMPAIGN_ID, 99, 7])
    assert collected == {CAMPAIGN_ID: 6_000, 99: 9_999, 7: 0}


def test_collected_for_no_campaigns_asks_nothing(db, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert selectors.collected_by_campaign([]) == {}


def test_reads_open_no_accounts(db):
    assert selectors.collected_minor(5) == 0
    assert selectors.net_minor(5) == 0
    assert set(selectors.campaign_totals(5).values()) == {0}
    assert selectors.collected_by_campaign([5, 6]) == {5: 0, 6: 0}
    assert not Account.objects.exists()


def test_a_campaigns_transactions_newest_first_in_constant_queries(
    campaign_books, django_assert_num_queries
):
    with django_assert_num_queries(3):  # transactions, their entries, the entries' accounts
        rows = [
            (txn.kind, sorted(str(entry.account) for entry in txn.entries.all()))
            for txn in selectors.campaign_transactions(CAMPAIGN_ID)
        ]
    assert len(rows) == 12  # not campaign 99's contribution, nor the payable's payment out
    assert rows[0] == (KIND.CORRECTION, ["Campaign 12 (EUR)", "Platform fees (EUR)"])
    assert rows[-1][0] == KIND.CONTRIBUTION


def test_accounts_with_balances_in_one_query(campaign_books, django_assert_num_queries):
    with django_assert_num_queries(1):
        balances = {str(a): a.balance_minor for a in selectors.accounts_with_balances()}
    assert balances["Campaign 12 (EUR)"] == selectors.net_minor(CAMPAIGN_ID)
    assert balances["Organizer's bank (external) 12 (EUR)"] == 1_500


def test_the_pledges_with_a_contribution(campaign_books):
    assert sorted(selectors.contributed_pledge_ids()) == [1, 2, 3, 4]
