"""The ledger in the admin: read-only pages that render with formatted amounts, and whose
query count does not grow with the number of rows."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse, reverse_lazy

from ledger import accounts
from ledger.models import Transaction
from tests.ledger.conftest import contribute

pytestmark = pytest.mark.django_db

TRANSACTIONS = reverse_lazy("admin:ledger_transaction_changelist")
ACCOUNTS = reverse_lazy("admin:ledger_account_changelist")


def _queries(client, url):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries), response.content.decode()


def _contributions(first, count, campaign_id=12):
    for pledge_id in range(first, first + count):
        contribute(
            pledge_id,
            1_000 + pledge_id,
            campaign_id=campaign_id,
            provider_object_id=f"pi_{pledge_id}",
        )


def test_the_transactions_list_shows_amounts_in_constant_queries(admin_client, eur):
    _contributions(1, 2)
    few, page = _queries(admin_client, TRANSACTIONS)
    _contributions(3, 6)
    many, page = _queries(admin_client, TRANSACTIONS)

    assert many == few
    assert "€10.08" in page and "pi_8" in page and "Contribution" in page
    assert "Amount moved" in page


def test_a_transactions_page_shows_its_entries_read_only(admin_client, eur):
    txn, _ = contribute(42, 2_500, provider_object_id="pi_42", memo="Pledge 42, attempt 1")

    response = admin_client.get(reverse("admin:ledger_transaction_change", args=[txn.pk]))

    page = response.content.decode()
    assert response.status_code == 200
    assert "contribution:pledge:42" in page and "Pledge 42, attempt 1" in page
    assert "Campaign 12 (EUR)" in page and "Supporters&#x27; cards (external) (EUR)" in page
    assert "€25.00" in page and "-€25.00" in page
    assert 'name="_save"' not in page and "deletelink" not in page


def test_a_transactions_page_costs_the_same_however_many_entries(admin_client, eur):
    from ledger import services

    two, _ = contribute(1, 1_000)
    payees = [accounts.organizer_payable(n, "EUR") for n in range(1, 6)]
    five, _ = services.post(
        Transaction.Kind.PAYOUT,
        key="payout:split",
        currency="EUR",
        movements=[(eur.campaign, -500)] + [(payee, 100) for payee in payees],
    )
    small, _ = _queries(admin_client, reverse("admin:ledger_transaction_change", args=[two.pk]))
    large, _ = _queries(admin_client, reverse("admin:ledger_transaction_change", args=[five.pk]))
    assert large == small


def test_the_transactions_list_filters_and_searches(admin_client, eur):
    _contributions(1, 3)
    _contributions(4, 1, campaign_id=99)
    other = accounts.campaign_account(99, "EUR")

    _, by_account = _queries(admin_client, f"{TRANSACTIONS}?account={other.pk}")
    _, by_provider = _queries(admin_client, f"{TRANSACTIONS}?q=pi_2")
    _, by_kind = _queries(admin_client, f"{TRANSACTIONS}?kind__exact=refund")

    assert "pi_4" in by_account and "pi_1" not in by_account
    assert "Campaign 99 (EUR)" in by_account  # the filter says which account
    assert "pi_2" in by_provider and "pi_3" not in by_provider
    assert "pi_1" not in by_kind


def test_the_accounts_list_shows_balances_in_constant_queries(admin_client, eur):
    _contributions(1, 2)
    few, _ = _queries(admin_client, ACCOUNTS)
    _contributions(3, 3, campaign_id=99)
    _contributions(6, 3, campaign_id=100)
    many, page = _queries(admin_client, ACCOUNTS)

    assert many == few
    assert "Campaign 12 (EUR)" in page and "€20.03" in page  # 10.01 + 10.02
    assert "Campaign 100 (EUR)" in page and "€30.21" in page  # 10.06 + 10.07 + 10.08
    assert "Balance (in minus out)" in page


def test_an_accounts_page_links_to_its_transactions(admin_client, eur):
    contribute(1, 1_000)

    response = admin_client.get(reverse("admin:ledger_account_change", args=[eur.campaign.pk]))

    page = response.content.decode()
    assert response.status_code == 200
    assert "€10.00" in page and f"{TRANSACTIONS}?account={eur.campaign.pk}" in page


@pytest.mark.parametrize("model", ["transaction", "account", "entry"])
def test_nobody_adds_or_deletes_ledger_rows_in_the_admin(admin_client, eur, model):
    txn, _ = contribute(1, 1_000)
    if model == "entry":  # entries are shown inside their transaction only
        with pytest.raises(Exception):  # noqa: B017
            reverse("admin:ledger_entry_changelist")
        return
    row = txn if model == "transaction" else eur.campaign
    assert admin_client.get(reverse(f"admin:ledger_{model}_add")).status_code == 403
    delete = reverse(f"admin:ledger_{model}_delete", args=[row.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert Transaction.objects.count() == 1
