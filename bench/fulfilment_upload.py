"""Benchmark: the reward fulfilment upload (pledges.fulfilment.bulk_mark_from_csv) on PostgreSQL,
against the first implementation (one locked read, save and audit row a row) in the same run.

    .venv/bin/python bench/fulfilment_upload.py                 # files of 5,000 rows
    .venv/bin/python bench/fulfilment_upload.py --rows 2000 --rounds 5

It creates a throwaway database on 127.0.0.1:5432 (user postgres, trust auth; dropped after),
or uses DATABASE_URL when set (its rows are left there), and seeds one funded campaign with a
reward and the pledges the files name. Three files of N rows each, given to the service by
the baseline and the new implementation, taking turns over several rounds (in "apply" each
run marks N pledges of its own):

- apply:     collected pledges, none marked yet: every row is marked sent (the slow case);
- unchanged: pledges already marked with the same tracking: nothing to write;
- refused:   active pledges (payment not collected): every row is a line of the report.

It prints the median seconds, rows/s and SQL statements a row (BEGIN and COMMIT not
counted) of each, and the ratios baseline/new. Then it posts a file of
UPLOAD_MAX_ROWS rows to mark to the real upload page (Django's test client, the organizer
logged in: form, view, service and the rendered report) and prints its time against
gunicorn's 30 s worker timeout; exits 1 when that takes more than half of it. Not part of
the test run.
"""

import argparse
import contextlib
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_DB = f"groundswell_bench_fulfilment_{os.getpid()}"
WORKER_TIMEOUT_S = 30


def configure_environment():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("GROUNDSWELL_VAR_DIR", tempfile.mkdtemp(prefix="gs-bench-"))
    os.environ.setdefault("DATABASE_URL", f"postgres://postgres@127.0.0.1:5432/{BENCH_DB}")
    os.environ.update(
        EMAIL_URL="dummymail://",
        SECRET_KEY="bench-" + "x" * 50,
        LOG_LEVEL="ERROR",
        DEBUG="false",
        SECURE_SSL_REDIRECT="false",
        ALLOWED_HOSTS="testserver",
        WHITENOISE_USE_FINDERS="true",
    )


def _admin_connection():
    import psycopg2

    conn = psycopg2.connect(host="127.0.0.1", user="postgres", dbname="postgres")
    conn.autocommit = True
    return conn


def create_database():
    conn = _admin_connection()
    conn.cursor().execute(f"CREATE DATABASE {BENCH_DB}")
    conn.close()


def drop_database():
    from django.db import connections

    connections.close_all()
    conn = _admin_connection()
    conn.cursor().execute(f"DROP DATABASE IF EXISTS {BENCH_DB}")
    conn.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
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
        ok = run(args.rows, args.rounds)
    finally:
        if own_database:
            drop_database()
    sys.exit(0 if ok else 1)


def baseline_upload(campaign, *, by, file, now):
    """The first implementation's row loop: every id looked up (any campaign), and per row
    a transaction with a locked read, the save and the audit row, whatever the row's state."""
    from django.db import transaction

    from core.errors import DomainError
    from pledges import fulfilment
    from pledges.models import Pledge

    report = fulfilment.FulfilmentReport()
    rows = fulfilment._rows(fulfilment._read_upload(file))
    ids = {}
    for _line, cells in rows:
        with contextlib.suppress(ValueError):
            ids[uuid.UUID(cells[0].strip())] = None
    known, ids = {}, list(ids)
    for start in range(0, len(ids), 500):
        for public_id, pk, campaign_id in Pledge.objects.filter(
            public_id__in=ids[start : start + 500]
        ).values_list("public_id", "pk", "campaign_id"):
            known[public_id] = (pk, campaign_id)
    for line, cells in rows:
        pk, campaign_id = known[uuid.UUID(cells[0].strip())]
        assert campaign_id == campaign.pk
        try:
            tracking = fulfilment._clean_tracking(cells[1])
            with transaction.atomic():
                locked = Pledge.objects.select_for_update().get(pk=pk)
                changed = fulfilment._mark_locked(locked, by=by, tracking=tracking, now=now)
        except DomainError as error:
            report.problems.append(fulfilment.RowProblem(line, cells[0], error.message))
            continue
        if changed:
            report.applied += 1
        else:
            report.unchanged += 1
    return report


def seed(rows, limit, *, rounds, names):
    from datetime import timedelta

    from django.utils import timezone

    from campaigns.models import Campaign, RewardTier
    from members.models import Member
    from pledges.models import Pledge

    now = timezone.now()
    organizer = Member.objects.create(email="organizer@bench.local", display_name="Organizer")
    campaign = Campaign.objects.create(
        organizer=organizer,
        title="Fulfilment bench",
        slug="fulfilment-bench",
        summary="Bench",
        story="Bench",
        location="Ghent",
        goal_minor=1_000_000,
        duration_days=30,
        status=Campaign.Status.FUNDED,
        launched_at=now - timedelta(days=40),
        deadline=now - timedelta(days=10),
    )
    reward = RewardTier.objects.create(campaign=campaign, title="Tote bag", minimum_minor=1_000)
    counter = iter(range(10**9))

    def pledges(count, **fields):
        members = Member.objects.bulk_create(
            Member(email=f"supporter{next(counter)}@bench.local", display_name="Supporter")
            for _ in range(count)
        )
        return Pledge.objects.bulk_create(
            Pledge(
                campaign=campaign,
                supporter=member,
                reward=reward,
                amount_minor=1_000,
                currency=campaign.currency,
                **fields,
            )
            for member in members
        )

    collected = Pledge.Status.COLLECTED
    sets = {
        ("apply", name, round_): pledges(rows, status=collected)
        for name in names
        for round_ in range(rounds)
    }
    sets["unchanged"] = pledges(rows, status=collected, reward_sent_at=now, reward_tracking="T")
    sets["refused"] = pledges(rows, status=Pledge.Status.ACTIVE)
    sets["page"] = pledges(limit, status=collected)
    return campaign, organizer, sets


def csv_of(pledges, tracking):
    lines = "".join(f"{pledge.public_id},{tracking}\n" for pledge in pledges)
    return ("pledge id,tracking\n" + lines).encode()


def run(rows, rounds):
    from statistics import median

    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db import connection
    from django.test import Client
    from django.urls import reverse
    from django.utils import timezone

    from pledges import fulfilment

    limit = fulfilment.UPLOAD_MAX_ROWS
    fulfilment.UPLOAD_MAX_ROWS = max(limit, rows)  # to measure past the limit too
    implementations = {
        "baseline": baseline_upload,
        "new": fulfilment.bulk_mark_from_csv,
    }
    campaign, organizer, sets = seed(rows, limit, rounds=rounds, names=list(implementations))
    statements = [0]

    def count(execute, sql, params, many, context):
        statements[0] += 1
        return execute(sql, params, many, context)

    def measure(upload, pledges, tracking):
        file = SimpleUploadedFile("sent.csv", csv_of(pledges, tracking), content_type="text/csv")
        statements[0] = 0
        with connection.execute_wrapper(count):
            started = time.perf_counter()
            report = upload(campaign, by=organizer, file=file, now=timezone.now())
            elapsed = time.perf_counter() - started
        return elapsed, statements[0], report

    print(
        f"{rows:,} rows a file, {rounds} rounds (medians), on {connection.vendor}; "
        f"UPLOAD_MAX_ROWS = {limit:,}"
    )
    for scenario, tracking, check in (
        ("apply", "PARCEL-1", lambda report: report.applied == rows),
        ("unchanged", "T", lambda report: report.unchanged == rows),
        ("refused", "PARCEL-1", lambda report: len(report.problems) == rows),
    ):
        seconds, executed = {name: [] for name in implementations}, {}
        for round_ in range(rounds):
            names = list(implementations)
            names = names[round_ % len(names) :] + names[: round_ % len(names)]  # take turns
            for name in names:
                pledges = sets.get((scenario, name, round_)) or sets[scenario]
                elapsed, executed[name], report = measure(implementations[name], pledges, tracking)
                assert check(report), (scenario, name, report.applied, report.unchanged)
                seconds[name].append(elapsed)
        for name in implementations:
            elapsed = median(seconds[name])
            print(
                f"{scenario:>9} {name:>20}: {elapsed:6.2f} s {rows / elapsed:8,.0f} rows/s "
                f"{executed[name] / rows:5.2f} statements a row  "
                f"(runs: {', '.join(f'{run:.2f}' for run in seconds[name])})"
            )
        baseline = median(seconds["baseline"])
        print(
            f"{scenario:>9} {'ratio':>20}: baseline/new {baseline / median(seconds['new']):.1f}"
        )

    fulfilment.UPLOAD_MAX_ROWS = limit
    client = Client()
    client.force_login(organizer)
    url = reverse("community:fulfilment_upload", args=[campaign.pk])
    client.get(url)
    upload = SimpleUploadedFile("sent.csv", csv_of(sets["page"], "PARCEL-1"))
    started = time.perf_counter()
    response = client.post(url, {"file": upload})
    elapsed = time.perf_counter() - started
    assert response.status_code == 200 and "not applied" not in response.content.decode()
    share = elapsed / WORKER_TIMEOUT_S
    print(
        f"the upload page, {limit:,} rows to mark: {elapsed:.2f} s "
        f"({share:.0%} of the {WORKER_TIMEOUT_S} s worker timeout; target <= 50%)"
    )
    return share <= 0.5


if __name__ == "__main__":
    main()
