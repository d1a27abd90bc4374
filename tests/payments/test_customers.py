"""ensure_customer: one Stripe customer per member, also when two requests race (localstripe)."""

import threading

import pytest
from django.db import connection

from payments.gateway import get_gateway
from payments.models import StripeCustomer
from payments.services import ensure_customer
from tests import localstripe_server
from tests.factories import MemberFactory

pytestmark = pytest.mark.localstripe


class CountingGateway:
    """The real gateway, with create_customer counted and optionally interleaved (transport)."""

    def __init__(self, gateway, *, after_create=None):
        self._gateway = gateway
        self._after_create = after_create
        self.created = []

    def __getattr__(self, name):
        return getattr(self._gateway, name)

    def create_customer(self, email, name, member_id):
        customer = self._gateway.create_customer(email=email, name=name, member_id=member_id)
        self.created.append(customer.id)
        if self._after_create is not None:
            self._after_create(customer)
        return customer


def customer_exists(base_url, customer_id):
    status, body = localstripe_server.api(base_url, "GET", f"/v1/customers/{customer_id}")
    return status == 200 and not (body or {}).get("deleted")


@pytest.mark.django_db
def test_first_call_creates_the_customer_later_calls_reuse_it(localstripe_settings):
    member = MemberFactory(email="ada@example.org", display_name="Ada")
    gateway = CountingGateway(get_gateway())

    first = ensure_customer(member, gateway=gateway)
    second = ensure_customer(member, gateway=gateway)

    assert first == second and first.customer_id.startswith("cus_")
    assert gateway.created == [first.customer_id]
    status, body = localstripe_server.api(
        localstripe_settings, "GET", f"/v1/customers/{first.customer_id}"
    )
    assert status == 200
    assert (body["email"], body["name"]) == ("ada@example.org", "Ada")
    assert body["metadata"] == {"member_id": str(member.pk)}


@pytest.mark.django_db
def test_losing_a_race_keeps_the_winner_and_deletes_the_extra_customer(localstripe_settings):
    member = MemberFactory()

    def another_request_wins(_customer):
        # Simulates a concurrent request that saved its customer first.
        StripeCustomer.objects.create(member=member, customer_id="cus_from_the_other_request")

    gateway = CountingGateway(get_gateway(), after_create=another_request_wins)
    result = ensure_customer(member, gateway=gateway)

    assert result.customer_id == "cus_from_the_other_request"
    assert StripeCustomer.objects.get(member=member).customer_id == "cus_from_the_other_request"
    (extra,) = gateway.created
    assert not customer_exists(localstripe_settings, extra), "the surplus customer is deleted"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_first_calls_make_one_customer_row(localstripe_settings):
    member = MemberFactory()
    racers = 4
    all_created = threading.Barrier(racers, timeout=20)
    gateway = CountingGateway(get_gateway(), after_create=lambda _customer: all_created.wait())
    results, errors = [], []

    def race():
        try:
            results.append(ensure_customer(member, gateway=gateway).customer_id)
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=race) for _ in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    (row,) = StripeCustomer.objects.filter(member=member)
    assert results == [row.customer_id] * racers
    assert len(gateway.created) == racers
    surplus = [c for c in gateway.created if c != row.customer_id]
    assert not any(customer_exists(localstripe_settings, c) for c in surplus)
    assert customer_exists(localstripe_settings, row.customer_id)
