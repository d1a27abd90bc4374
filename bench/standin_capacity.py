"""Benchmark: the Stripe stand-in's capacity and how it holds up as its store grows.

Starts the stand-in (devtools/stripe_standin) in its own process and measures:

1. PaymentIntent create+confirm (off-session, a saved card) with 8 client threads through
   the official stripe SDK, as StripeGateway sends it: once from one client process (8
   threads) and once from 2 processes x 4 threads (still 8 threads), because on a small
   machine the SDK client itself, not the server, is the first limit; plus the same request
   from 8 threads of a bare HTTP client, the server's own ceiling.
2. Latency (single client, median and p95) and the server's resident memory as the store
   grows to --objects objects (every PaymentIntent stores ~6: the PaymentIntent, its charge,
   balance transaction and three events), as ratios against the empty store.

Target: >= 500 requests/s, and latency and the server's CPU per request at 100,000 objects
within 1.25x of the empty store.

    .venv/bin/python bench/standin_capacity.py [--requests 4000] [--objects 100000]
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import statistics
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import stripe  # noqa: E402

from devtools.stripe_standin import forms, process  # noqa: E402

KEY = "sk_test_bench"
THREADS = 8


def client(base_url):
    return stripe.StripeClient(KEY, base_addresses={"api": base_url}, max_network_retries=0)


def saved_card(base_url):
    sdk = client(base_url)
    customer = sdk.v1.customers.create(params={"email": "bench@example.org"})
    card = sdk.v1.payment_methods.attach("pm_card_visa", params={"customer": customer.id})
    return customer.id, card.id


def charge_params(customer_id, card_id, n):
    return {
        "amount": 1_000,
        "currency": "eur",
        "customer": customer_id,
        "payment_method": card_id,
        "payment_method_types": ["card"],
        "off_session": True,
        "confirm": True,
        "metadata": {"pledge_id": f"bench-{n}", "attempt": "1"},
    }


def sdk_worker(base_url, customer_id, card_id, count, prefix):
    sdk = client(base_url)
    for n in range(count):
        sdk.v1.payment_intents.create(
            params=charge_params(customer_id, card_id, f"{prefix}-{n}"),
            options={"idempotency_key": f"bench-{prefix}-{n}"},
        )


def run_threads(target, threads, *args):
    workers = [
        threading.Thread(target=target, args=(*args, f"{index}-{time.monotonic_ns()}"))
        for index in range(threads)
    ]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return time.perf_counter() - started


def _process_main(base_url, customer_id, card_id, count, threads, queue):
    queue.put(run_threads(sdk_worker, threads, base_url, customer_id, card_id, count))


def sdk_rate(base_url, customer_id, card_id, total, processes):
    threads = THREADS // processes
    count = total // THREADS
    if processes == 1:
        elapsed = run_threads(sdk_worker, threads, base_url, customer_id, card_id, count)
        return total / elapsed
    queue = multiprocessing.get_context("fork").Queue()
    started = time.perf_counter()
    children = [
        multiprocessing.get_context("fork").Process(
            target=_process_main, args=(base_url, customer_id, card_id, count, threads, queue)
        )
        for _ in range(processes)
    ]
    for child in children:
        child.start()
    for child in children:
        child.join()
    return total / (time.perf_counter() - started)


def raw_worker(base_url, customer_id, card_id, count, prefix):
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port)
    for n in range(count):
        body = forms.encode(charge_params(customer_id, card_id, f"raw-{prefix}-{n}"))
        connection.request(
            "POST",
            "/v1/payment_intents",
            body,
            {
                "Authorization": f"Bearer {KEY}",
                "Content-Type": "application/x-www-form-urlencoded",
                "Idempotency-Key": f"raw-{prefix}-{n}",
            },
        )
        response = connection.getresponse()
        response.read()
        assert response.status == 200, response.status


def raw_rate(base_url, customer_id, card_id, total):
    return total / run_threads(
        raw_worker, THREADS, base_url, customer_id, card_id, total // THREADS
    )


def cpu_seconds(pid):
    """User + system CPU time of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds():
    """This process's CPU time plus that of its finished children (the client processes)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def rss_mib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def latency_sample(base_url, customer_id, card_id, samples=300):
    sdk = client(base_url)
    times = []
    for n in range(samples):
        started = time.perf_counter()
        sdk.v1.payment_intents.create(
            params=charge_params(customer_id, card_id, f"lat-{time.monotonic_ns()}-{n}"),
            options={"idempotency_key": f"lat-{time.monotonic_ns()}-{n}"},
        )
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95)]


def object_count(server):
    return sum(server.stats()["objects"].values())


def fill(server, base_url, customer_id, card_id, target):
    """Grow the store to `target` objects with the bare client (fastest)."""
    while (have := object_count(server)) < target:
        per_pi = 6
        needed = max(THREADS, (target - have) // per_pi)
        raw_rate(base_url, customer_id, card_id, min(needed, 8000) // THREADS * THREADS or THREADS)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--objects", type=int, default=100_000)
    args = parser.parse_args()

    server = process.start()
    try:
        base_url = server.base_url
        customer_id, card_id = saved_card(base_url)
        sdk_worker(base_url, customer_id, card_id, 200, "warm-up")

        print(f"Stripe stand-in at {base_url}; PaymentIntent create+confirm, {THREADS} threads")
        print(
            f"{'client':38} {'requests/s':>10} {'server CPU ms/req':>18} {'client CPU ms/req':>18}"
        )
        rates = {}
        phase = (base_url, customer_id, card_id, args.requests)
        for label, run, extra in (
            ("stripe SDK, 1 process x 8 threads", sdk_rate, (1,)),
            ("stripe SDK, 2 processes x 4 threads", sdk_rate, (2,)),
            ("bare HTTP client, 8 threads", raw_rate, ()),
        ):
            server_before, client_before = cpu_seconds(server.process.pid), own_cpu_seconds()
            rates[label] = rate = run(*phase, *extra)
            server_ms = (cpu_seconds(server.process.pid) - server_before) * 1000 / args.requests
            client_ms = (own_cpu_seconds() - client_before) * 1000 / args.requests
            print(f"{label:38} {rate:10.0f} {server_ms:18.2f} {client_ms:18.2f}")
        raw = rates["bare HTTP client, 8 threads"]
        print(f"ratio bare HTTP / target 500           {raw / 500:10.2f}")
        two = rates["stripe SDK, 2 processes x 4 threads"]
        print(f"ratio SDK (2 processes) / target 500   {two / 500:10.2f}")

        server.reset()
        customer_id, card_id = saved_card(base_url)
        print("\nLatency as the store grows (stripe SDK, 1 thread; server RSS)")
        print(
            f"{'objects':>9} {'median ms':>10} {'p95 ms':>8} {'server CPU ms/req':>18} "
            f"{'RSS MiB':>8} {'ratio median':>13} {'ratio CPU':>10}"
        )
        baseline = None
        samples = 300
        for target in sorted({0, args.objects // 10, args.objects // 2, args.objects}):
            fill(server, base_url, customer_id, card_id, target)
            before = cpu_seconds(server.process.pid)
            median, p95 = latency_sample(base_url, customer_id, card_id, samples)
            server_ms = (cpu_seconds(server.process.pid) - before) * 1000 / samples
            baseline = baseline or (median, server_ms)
            print(
                f"{object_count(server):9,} {median:10.2f} {p95:8.2f} {server_ms:18.2f} "
                f"{rss_mib(server.process.pid):8.1f} {median / baseline[0]:13.2f} "
                f"{server_ms / baseline[1]:10.2f}"
            )
        stats = server.stats()
        print(f"\ndouble-charged pledges: {len(stats['double_charged_pledges'])}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
