"""Benchmark: pledge creation into one hot campaign vs the same load over 1,000 campaigns.

Each pledge is the whole server-side flow (start_pledge → card confirmed → confirm_card →
active) against our in-memory FakeGateway, from several threads at once, on PostgreSQL
(DATABASE_URL, default: a throwaway database on 127.0.0.1). Prints pledges/s for both and
the ratio hot/spread: a ratio near 1 means no single row (e.g. a campaign total) serializes
pledging. Target ≥ 0.8.

    .venv/bin/python bench/pledge_throughput.py [--pledges 1200] [--threads 8]
"""

import argparse
import os
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_DB = f"groundswell_bench_{os.getpid()}"


def configure_environment():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("GROUNDSWELL_VAR_DIR", tempfile.mkdtemp(prefix="gs-bench-"))
    os.environ.setdefault("DATABASE_URL", f"postgres://postgres@127.0.0.1:5432/{BENCH_DB}")
    os.environ.setdefault("EMAIL_URL", "dummymail://")
    os.environ.setdefault("SECRET_KEY", "bench-" + "x" * 50)
    os.environ.setdefault("LOG_LEVEL", "ERROR")
    os.environ.setdefault("CONN_MAX_AGE", "0")


def create_database():
    import psycopg2

    conn = psycopg2.connect(host="127.0.0.1", user="postgres", dbname="postgres")
    conn.autocommit = True
    conn.cursor().execute(f"CREATE DATABASE {BENCH_DB}")
    conn.close()


def drop_database():
    import psycopg2
    from django.db import connections

    connections.close_all()
    conn = psycopg2.connect(host="127.0.0.1", user="postgres", dbname="postgres")
    conn.autocommit = True
    conn.cursor().execute(f"DROP DATABASE IF EXISTS {BENCH_DB}")
    conn.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--pledges", type=int, default=1200)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--campaigns", type=int, default=1000)
    args = parser.parse_args()

    configure_environment()
    own_database = os.environ["DATABASE_URL"].endswith(BENCH_DB)
    if own_database:
        create_database()
    import django

    django.setup()
    from django.core.management import call_command

    try:
        call_command("migrate", verbosity=0)
        run(args)
    finally:
        if own_database:
            drop_database()


def run(args):
    from datetime import timedelta

    from django.db import connection
    from django.utils import timezone

    from campaigns.models import Campaign
    from devtools.stripe_standin.inprocess import FakeGateway
    from members.models import Member
    from pledges import services

    now = timezone.now()
    organizer = Member.objects.create(email="organizer@bench.local", display_name="Organizer")
    campaigns = Campaign.objects.bulk_create(
        Campaign(
            organizer=organizer,
            title=f"Campaign {i}",
            slug=f"bench-{i}",
            summary="Bench",
            story="Bench",
            location="Ghent",
            goal_minor=1_000_000,
            duration_days=30,
            status=Campaign.Status.LIVE,
            launched_at=now,
            deadline=now + timedelta(days=30),
        )
        for i in range(args.campaigns)
    )
    gateway = FakeGateway()

    def make_supporters(tag):
        return Member.objects.bulk_create(
            Member(email=f"{tag}{i}@bench.local", display_name=f"Supporter {i}")
            for i in range(args.pledges)
        )

    def pledge(job):
        supporter, campaign = job
        try:
            pledge = services.start_pledge(
                campaign,
                supporter=supporter,
                amount_minor=1_000,
                idempotency_key=uuid.uuid4().hex,
                gateway=gateway,
            )
            gateway.confirm_setup_intent(pledge.setup_intent_id)
            services.confirm_card(pledge, gateway=gateway)
        finally:
            connection.close()

    def measure(label, jobs):
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.threads) as pool:
            list(pool.map(pledge, jobs))
        elapsed = time.perf_counter() - started
        rate = len(jobs) / elapsed
        print(f"{label:>28}: {len(jobs)} pledges in {elapsed:.2f} s = {rate:.0f} pledges/s")
        return rate

    from pledges.models import Pledge

    # Warm up (connections, caches, imports) with a small spread run.
    warm = [(m, campaigns[i % len(campaigns)]) for i, m in enumerate(make_supporters("warm")[:100])]
    measure("warm-up", warm)

    spread_jobs = [
        (m, campaigns[i % len(campaigns)]) for i, m in enumerate(make_supporters("spread"))
    ]
    hot_jobs = [(m, campaigns[0]) for m in make_supporters("hot")]
    spread = measure(f"spread over {len(campaigns)} campaigns", spread_jobs)
    hot = measure("one hot campaign", hot_jobs)
    active = Pledge.objects.filter(status=Pledge.Status.ACTIVE).count()
    assert active == len(warm) + len(spread_jobs) + len(hot_jobs), active
    print(f"{'ratio hot/spread':>28}: {hot / spread:.2f}  (target >= 0.8)")


if __name__ == "__main__":
    threading.stack_size(2 * 1024 * 1024)
    main()
