"""The stand-in's dispatcher (devtools/stripe_standin/api.py), shared by both doors: Stripe's
idempotency rules, the fault switches, retry advice, list order and the control surface."""

from __future__ import annotations

import pytest

from devtools.stripe_standin import api, forms
from devtools.stripe_standin.faults import Faults
from devtools.stripe_standin.state import Standin
from tests.standin.inprocess_api import Clock

SECRET = {"Authorization": "Bearer sk_test_dispatcher"}


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def standin(clock):
    return Standin(clock=clock, seed=7)


def post(standin, path, params=None, *, key=None, headers=None):
    sent = {**SECRET, **(headers or {})}
    if key:
        sent["Idempotency-Key"] = key
    return api.handle(standin, "POST", path, body=forms.encode(params or {}), headers=sent)


def get(standin, path, params=None):
    return api.handle(standin, "GET", path, query=forms.encode(params or {}), headers=SECRET)


def saved_card(standin):
    customer = post(standin, "/v1/customers", {"email": "a@example.org"}).body["id"]
    card = post(standin, "/v1/payment_methods/pm_card_visa/attach", {"customer": customer})
    return customer, card.body["id"]


def charge(standin, customer, card, *, key, pledge="p-1", amount=1_000):
    return post(
        standin,
        "/v1/payment_intents",
        {
            "amount": amount,
            "currency": "eur",
            "customer": customer,
            "payment_method": card,
            "off_session": True,
            "confirm": True,
            "metadata": {"pledge_id": pledge},
        },
        key=key,
    )


def test_a_500_after_the_work_is_kept_for_the_key_and_only_search_finds_the_charge(standin):
    customer, card = saved_card(standin)
    standin.faults_update({"error_after_next": 1})

    first = charge(standin, customer, card, key="attempt-1")
    assert first.status == 500 and first.body["error"]["type"] == "api_error"
    assert first.headers["Stripe-Should-Retry"] == "false"  # a retry would only replay it

    again = charge(standin, customer, card, key="attempt-1")
    assert (again.status, again.headers["Idempotent-Replayed"]) == (500, "true")
    assert again.headers["Stripe-Should-Retry"] == "false"

    found = get(standin, "/v1/payment_intents/search", {"query": "metadata['pledge_id']:'p-1'"})
    assert [pi["status"] for pi in found.body["data"]] == ["succeeded"]
    assert standin.stats_snapshot()["succeeded_payment_intents_by_pledge"] == {"p-1": 1}


def test_an_outage_in_front_of_the_api_is_not_kept_and_is_worth_retrying(standin):
    customer, card = saved_card(standin)
    standin.faults_update({"error_next": 1, "error_status": 503})
    outage = charge(standin, customer, card, key="attempt-1")
    assert (outage.status, outage.headers["Stripe-Should-Retry"]) == (503, "true")
    retried = charge(standin, customer, card, key="attempt-1")
    assert retried.status == 200 and "Idempotent-Replayed" not in retried.headers


def test_a_500_before_the_work_is_kept_for_the_key_and_nothing_was_charged(standin):
    customer, card = saved_card(standin)
    standin.faults_update({"error_next": 1})  # 500 by default
    assert charge(standin, customer, card, key="attempt-1").status == 500
    assert charge(standin, customer, card, key="attempt-1").status == 500  # replayed
    assert standin.stats_snapshot()["succeeded_payment_intents_by_pledge"] == {}
    assert charge(standin, customer, card, key="attempt-2").status == 200


def test_rate_limit_answers_429_with_retry_advice(standin):
    standin.faults_update({"rate_limit": 2})
    statuses = [get(standin, "/v1/customers").status for _ in range(5)]
    assert statuses.count(429) >= 2 and statuses[0] == 200
    limited = next(r for r in (get(standin, "/v1/customers") for _ in range(3)) if r.status == 429)
    assert limited.body["error"]["code"] == "rate_limit"
    assert limited.headers["Stripe-Should-Retry"] == "true"
    assert standin.stats_snapshot()["rate_limited"] >= 3


def test_keys_belong_to_the_account_not_to_the_api_key(standin):
    params = {"email": "same@example.org"}
    first = post(standin, "/v1/customers", params, key="k")
    restricted = api.handle(
        standin,
        "POST",
        "/v1/customers",
        body=forms.encode(params),
        headers={"Authorization": "Bearer rk_test_other", "Idempotency-Key": "k"},
    )
    assert (restricted.body["id"], restricted.headers["Idempotent-Replayed"]) == (
        first.body["id"],
        "true",
    )
    connected = post(
        standin, "/v1/customers", params, key="k", headers={"Stripe-Account": "acct_x"}
    )
    assert connected.body["id"] != first.body["id"]


def test_keys_expire_after_24_hours_or_when_told(standin, clock):
    first = post(standin, "/v1/customers", {"email": "a@example.org"}, key="k")
    clock.now += 24 * 3600 + 1
    later = post(standin, "/v1/customers", {"email": "b@example.org"}, key="k")
    assert later.status == 200 and later.body["id"] != first.body["id"]
    assert standin.expire_idempotency_keys() == 1
    assert post(standin, "/v1/customers", {"email": "c@example.org"}, key="k").status == 200


def test_expired_keys_are_forgotten_as_new_ones_arrive(standin, clock):
    for n in range(5):
        post(standin, "/v1/customers", {"email": f"{n}@example.org"}, key=f"old-{n}")
    clock.now += 24 * 3600 + 1
    post(standin, "/v1/customers", {"email": "new@example.org"}, key="new")
    assert list(standin.idempotency) == [("", "new")]


def test_lists_are_newest_first_within_one_second(standin):
    made = [post(standin, "/v1/customers", {"email": f"{n}@example.org"}).body["id"] for n in "abc"]
    listed = get(standin, "/v1/customers", {"limit": 2})
    assert [c["id"] for c in listed.body["data"]] == made[::-1][:2] and listed.body["has_more"]
    rest = get(standin, "/v1/customers", {"starting_after": made[1]})
    assert [c["id"] for c in rest.body["data"]] == [made[0]]


def test_search_counts_only_when_asked(standin):
    customer, card = saved_card(standin)
    charge(standin, customer, card, key="k1")
    query = {"query": "status:'succeeded'"}
    assert "total_count" not in get(standin, "/v1/payment_intents/search", query).body
    counted = get(standin, "/v1/payment_intents/search", {**query, "expand": ["total_count"]})
    assert counted.body["total_count"] == 1


def test_a_declined_card_error_replays_exactly_as_first_sent(standin):
    customer = post(standin, "/v1/customers", {"email": "a@example.org"}).body["id"]
    setup = post(standin, "/v1/setup_intents", {"customer": customer}).body["id"]
    params = {"payment_method": "pm_card_visa_chargeDeclined"}
    first = post(standin, f"/v1/setup_intents/{setup}/confirm", params, key="confirm-1")
    refused_card = first.body["error"]["payment_method"]["id"]
    post(standin, f"/v1/payment_methods/{refused_card}", {"metadata": {"later": "change"}})
    again = post(standin, f"/v1/setup_intents/{setup}/confirm", params, key="confirm-1")
    assert again.status == 402 and again.body == first.body


def test_fault_switches_are_checked_all_or_nothing():
    faults = Faults()
    with pytest.raises(ValueError):
        faults.update({"latency_ms": "50", "drop_rate": "2"})
    assert faults.latency_ms == 0, "a refused update changes nothing"
    with pytest.raises(ValueError, match="unknown fault switch"):
        faults.update({"nonsense": 1})
    faults.update({"latency_ms": "50", "webhook_shuffle": "true", "drop_next": "2"})
    assert (faults.latency_ms, faults.webhook_shuffle, faults.drop_next) == (50.0, True, 2)


def test_reset_forgets_objects_keys_faults_and_counters(standin):
    post(standin, "/v1/customers", {"email": "a@example.org"}, key="k")
    standin.faults_update({"latency_ms": 10})
    standin.reset()
    snapshot = standin.stats_snapshot()
    assert snapshot["requests_total"] == 0 and snapshot["idempotency_keys"] == 0
    assert sum(snapshot["objects"].values()) == 0
    assert standin.faults.switches == Faults()


def test_unknown_endpoints_parameters_and_keys_are_refused_by_name(standin):
    unknown = post(standin, "/v1/invoices")
    assert unknown.status == 400 and "POST: /v1/invoices" in unknown.body["error"]["message"]
    refused = post(standin, "/v1/customers", {"email": "a@example.org", "tax_exempt": "none"})
    assert refused.body["error"]["param"] == "tax_exempt"
    live = api.handle(
        standin, "GET", "/v1/customers", headers={"Authorization": "Bearer sk_live_x"}
    )
    assert live.status == 401
    assert api.handle(standin, "GET", "/v1/customers").status == 401


def test_the_store_survives_a_restart_through_its_state_file(standin, tmp_path):
    customer, card = saved_card(standin)
    post(standin, "/v1/customers", {"email": "k@example.org"}, key="kept")
    state_file = tmp_path / "standin.pickle"
    standin.save(state_file)

    restarted = Standin()
    assert restarted.load(state_file)
    assert get(restarted, f"/v1/customers/{customer}").status == 200
    assert charge(restarted, customer, card, key="after-restart").status == 200  # card kept
    assert (
        post(restarted, "/v1/customers", {"email": "k@example.org"}, key="kept").headers[
            "Idempotent-Replayed"
        ]
        == "true"
    )
    assert not Standin().load(tmp_path / "missing.pickle")


def test_the_http_door_saves_its_store_at_shutdown(tmp_path):
    from devtools.stripe_standin import process

    state_file = tmp_path / "standin.pickle"
    server = process.start(["--state-file", str(state_file)])
    try:
        status, body = _raw(server.base_url, "POST", "/v1/customers", {"email": "s@example.org"})
        assert status == 200
    finally:
        server.stop()  # SIGTERM: uvicorn shuts down and the store is written
    again = process.start(["--state-file", str(state_file)])
    try:
        assert _raw(again.base_url, "GET", f"/v1/customers/{body['id']}")[0] == 200
    finally:
        again.stop()


def _raw(base_url, method, path, params=None):
    from tests.localstripe_server import api as raw_api

    return raw_api(base_url, method, path, params, secret_key="sk_test_dispatcher")


def test_paging_backwards_says_whether_newer_objects_remain(standin):
    made = [
        post(standin, "/v1/customers", {"email": f"{n}@example.org"}).body["id"] for n in "abcd"
    ]
    # Newest first: d c b a. Before a: d c b, the two just before a are c b.
    page = get(standin, "/v1/customers", {"ending_before": made[0], "limit": 2}).body
    assert [c["id"] for c in page["data"]] == [made[2], made[1]] and page["has_more"]
    page = get(standin, "/v1/customers", {"ending_before": made[2], "limit": 2}).body
    assert [c["id"] for c in page["data"]] == [made[3]] and not page["has_more"]
