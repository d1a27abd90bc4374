"""Benchmark: settling one campaign against the Stripe stand-in at a rate ceiling R.

For each (N pledges, R charges/s, W charge workers): the stand-in is started with its rate
limit at R and our shared ceiling (CHARGE_RATE_PER_SECOND, in Redis) at R; W Celery worker
processes consume the `charges` queue; this process plays beat (the settlement sweep every
SWEEP seconds). Prints, per run: achieved charges/s ÷ R (target ≥ 0.9), wall time ÷ (N/R)
(target ≤ 1.15), 429s the stand-in answered, and the workers' peak RSS. First it measures the
stand-in's raw capacity for PaymentIntent create+confirm with no limit, so the figures are
known not to be bounded by it.

Setup (not measured) makes the supporters, their Stripe customers and saved cards at the
stand-in over HTTP, and bulk-inserts members and active pledges: the benchmark is about
settlement, not about pledging (bench/pledge_throughput.py measures that).

    .venv/bin/python bench/settlement.py            # N=4000 @ 20/s and N=20000 @ 100/s, W=1,2
    .venv/bin/python bench/settlement.py --quick    # a tenth of the pledges
    .venv/bin/python bench/settlement.py --runs 4000:20:1

Needs PostgreSQL (a throwaway database on 127.0.0.1) and Redis (127.0.0.1:6379, dbs 6 and 7).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_DB = f"groundswell_bench_settle_{os.getpid()}"
REDIS = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379")
SECRET_KEY = "sk_test_groundswell_bench"
SWEEP_SECONDS = 5
WORKER_THREADS = 8


def environment(rate, api_base):
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{BENCH_DB}",
        "CELERY_BROKER_URL": f"{REDIS}/6",
        "REDIS_URL": f"{REDIS}/7",
        "CACHE_URL": f"rediscache://{REDIS.split('://', 1)[1]}/7",
        "STRIPE_API_BASE": api_base,
        "STRIPE_SECRET_KEY": SECRET_KEY,
        "CHARGE_RATE_PER_SECOND": str(rate),
        "SETTLEMENT_SWEEP_SECONDS": str(SWEEP_SECONDS),
        "EMAIL_URL": "dummymail://",
        "LOG_LEVEL": "WARNING",
        "SECRET_KEY": "bench-" + "x" * 50,
        "GROUNDSWELL_VAR_DIR": os.environ.get("GROUNDSWELL_VAR_DIR")
        or tempfile.mkdtemp(prefix="gs-bench-settle-"),
        "CONN_MAX_AGE": "60",
    }


def psql(sql):
    import psycopg2

    conn = psycopg2.connect(host="127.0.0.1", user="postgres", dbname="postgres")
    conn.autocommit = True
    conn.cursor().execute(sql)
    conn.close()


def flush_redis():
    import redis

    for db in (6, 7):
        redis.Redis.from_url(f"{REDIS}/{db}").flushdb()


# --- the stand-in over HTTP ---------------------------------------------------------------------
def api(base, method, path, params=None):
    from urllib.parse import urlencode

    data = urlencode(params or {}, doseq=True).encode() if params is not None else None
    request = urllib.request.Request(
        f"{base}{path}",
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {SECRET_KEY}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def saved_card(base, n):
    customer = api(base, "POST", "/v1/customers", {"email": f"s{n}@bench.local"})
    card = api(
        base, "POST", "/v1/payment_methods/pm_card_visa/attach", {"customer": customer["id"]}
    )
    return customer["id"], card["id"]


def raw_capacity(base, seconds=3.0, threads=8):
    """PaymentIntent create+confirm requests/s the stand-in answers with no limit."""
    customer, card = saved_card(base, "raw")
    stop = time.monotonic() + seconds
    counts = []

    def hammer():
        n = 0
        while time.monotonic() < stop:
            api(
                base,
                "POST",
                "/v1/payment_intents",
                {
                    "amount": 1000,
                    "currency": "eur",
                    "customer": customer,
                    "payment_method": card,
                    "confirm": "true",
                    "off_session": "true",
                },
            )
            n += 1
        counts.append(n)

    pool = [threading.Thread(target=hammer) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return sum(counts) / seconds


# --- one run ---------------------------------------------------------------------------------
def seed(n_pledges, base):
    """A live campaign past its deadline with n active pledges on cards saved at the stand-in."""
    from datetime import timedelta

    from django.utils import timezone

    from campaigns.models import Campaign
    from members.models import Member
    from payments.models import StripeCustomer
    from pledges.models import Pledge

    with ThreadPoolExecutor(max_workers=16) as pool:
        cards = list(pool.map(lambda n: saved_card(base, n), range(n_pledges)))
    now = timezone.now()
    tag = f"{n_pledges}-{int(time.time())}"
    organizer = Member.objects.create(email=f"organizer-{tag}@bench.local", display_name="Org")
    campaign = Campaign.objects.create(
        organizer=organizer,
        title=f"Bench settlement {tag}",
        slug=f"bench-settle-{tag}",
        goal_minor=1_000,
        status=Campaign.Status.LIVE,
        launched_at=now - timedelta(days=2),
        deadline=now - timedelta(seconds=1),
    )
    members = Member.objects.bulk_create(
        Member(email=f"s{i}-{tag}@bench.local", display_name=f"Supporter {i}")
        for i in range(n_pledges)
    )
    StripeCustomer.objects.bulk_create(
        StripeCustomer(member=member, customer_id=customer)
        for member, (customer, _card) in zip(members, cards, strict=True)
    )
    Pledge.objects.bulk_create(
        Pledge(
            campaign=campaign,
            supporter=member,
            amount_minor=1_000,
            currency="EUR",
            status=Pledge.Status.ACTIVE,
            payment_method_id=card,
            activated_at=now,
        )
        for member, (_customer, card) in zip(members, cards, strict=True)
    )
    return campaign


def peak_rss_mb(pid):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def run_one(n_pledges, rate, workers, env):
    from django.conf import settings
    from django.db import connection

    from devtools.stripe_standin import process
    from pledges import settlement
    from pledges.models import Pledge

    flush_redis()
    standin = process.start(["--rate-limit", "0"])
    base = standin.base_url
    env = {**env, "STRIPE_API_BASE": base}
    settings.STRIPE_API_BASE = base
    try:
        raw = raw_capacity(base)
        campaign = seed(n_pledges, base)
        standin.set_faults(rate_limit=rate)
        before = standin.stats().get("rate_limited", 0)
        procs = [
            subprocess.Popen(
                [
                    str(ROOT / ".venv/bin/celery"),
                    "-A",
                    "config",
                    "worker",
                    "-Q",
                    "charges",
                    "--pool=threads",
                    f"--concurrency={WORKER_THREADS}",
                    f"--hostname=bench{i}@%h",
                    "--without-gossip",
                    "--without-mingle",
                    "--loglevel=WARNING",
                ],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for i in range(workers)
        ]
        time.sleep(3)  # workers connect to the broker before the clock starts
        started = time.monotonic()
        settlement.close_campaign(campaign)  # → settle_campaign and the first dispatch
        settlement.settle_campaign(campaign)
        next_sweep = started + SWEEP_SECONDS
        deadline = started + 4 * n_pledges / rate + 120
        peaks = {}
        while time.monotonic() < deadline:
            for proc in procs:
                peaks[proc.pid] = max(peaks.get(proc.pid, 0), peak_rss_mb(proc.pid))
            left = Pledge.objects.filter(campaign=campaign).exclude(status=Pledge.Status.COLLECTED)
            if not left.exists():
                break
            if time.monotonic() >= next_sweep:
                settlement.sweep()
                next_sweep += SWEEP_SECONDS
            time.sleep(0.25)
        wall = time.monotonic() - started
        connection.close()
        collected = Pledge.objects.filter(campaign=campaign, status=Pledge.Status.COLLECTED)
        count = collected.count()
        limited = standin.stats().get("rate_limited", 0) - before
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(30)
        achieved = count / wall
        return {
            "N": n_pledges,
            "R": rate,
            "workers": workers,
            "raw_capacity": raw,
            "collected": count,
            "wall_s": wall,
            "achieved_per_s": achieved,
            "achieved_over_R": achieved / rate,
            "wall_over_N_per_R": wall / (n_pledges / rate),
            "rate_limited_429": limited,
            "worker_peak_rss_mb": max(peaks.values() or [0]),
        }
    finally:
        standin.stop()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="a tenth of the pledges")
    parser.add_argument("--runs", nargs="*", help="N:R:W triples (default: the issue's four)")
    args = parser.parse_args()
    runs = [tuple(int(x) for x in run.split(":")) for run in args.runs or []] or [
        (4000, 20, 1),
        (4000, 20, 2),
        (20000, 100, 1),
        (20000, 100, 2),
    ]
    if args.quick:
        runs = [(max(n // 10, 1), r, w) for n, r, w in runs]
    env = environment(20, "http://127.0.0.1:1")
    os.environ.update(env)
    psql(f"CREATE DATABASE {BENCH_DB}")
    try:
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        print(
            f"{'N':>6} {'R':>4} {'W':>2} {'raw/s':>7} {'wall s':>7} {'got/s':>6} "
            f"{'got/R':>6} {'wall/(N/R)':>10} {'429s':>5} {'RSS MB':>7}"
        )
        for n, rate, workers in runs:
            from django.conf import settings

            settings.CHARGE_RATE_PER_SECOND = rate
            result = run_one(n, rate, workers, {**env, "CHARGE_RATE_PER_SECOND": str(rate)})
            print(
                f"{result['N']:>6} {rate:>4} {workers:>2} {result['raw_capacity']:>7.0f} "
                f"{result['wall_s']:>7.1f} {result['achieved_per_s']:>6.1f} "
                f"{result['achieved_over_R']:>6.2f} {result['wall_over_N_per_R']:>10.2f} "
                f"{result['rate_limited_429']:>5} {result['worker_peak_rss_mb']:>7.0f}"
                + ("" if result["collected"] == n else f"  (collected {result['collected']})"),
                flush=True,
            )
    finally:
        from django.db import connections

        connections.close_all()
        psql(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")


if __name__ == "__main__":
    main()
