"""Benchmark: memory of the organizer's supporters CSV, streamed, against a naive export.

    .venv/bin/python bench/supporters_export.py                  # 100,000 pledges
    .venv/bin/python bench/supporters_export.py --pledges 20000
    .venv/bin/python bench/supporters_export.py --smoke          # 2,000 pledges, seconds
    .venv/bin/python bench/supporters_export.py --database-url postgres://...  # a database
                                                  # you made for it (its rows are removed after)

It builds a throwaway SQLite database in a temporary folder (or uses --database-url), seeds
one funded campaign with N pledges (bulk inserts: members with display names, rewards,
anonymous and named supporters, some sharing their email, some rewards sent with a tracking
reference) and a second campaign of 20 pledges for warming up. Then, each in a fresh Python
process so that one's peak cannot hide the other's:

- streaming: GET /campaigns/<pk>/supporters.csv through Django's test client (the real view
  and middleware), reading the StreamingHttpResponse to the end;
- naive: what the export would be without streaming: list() of the pledges (model instances
  with their supporter and reward), every row built, one HttpResponse with the whole text.

Each process first logs in and downloads the small campaign's CSV (imports, templates and
code paths warm), measures its idle RSS, then downloads the big one while a thread samples
RSS every 5 ms. Growth (+MB) is the larger of (peak sampled RSS - idle RSS) and (ru_maxrss
after - ru_maxrss idle, the +maxrss column). It prints MB above idle, rows, seconds and
rows/s for both and their ratio, and exits 1 when streaming grows by 50 MB or more. Not part
of the test run.
"""

import argparse
import gc
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIMIT_MB = 50
WARM_UP_PLEDGES = 20
BENCH_DOMAIN = "export.bench.local"


def configure(var_dir, database_url):
    for name in ("DATABASE_URL", "CACHE_URL", "DEBUG"):
        os.environ.pop(name, None)
    os.environ.update(
        GROUNDSWELL_VAR_DIR=str(var_dir),
        DATABASE_URL=database_url or f"sqlite:///{var_dir / 'bench.sqlite3'}",
        MEDIA_ROOT=str(var_dir / "media"),
        DEBUG="false",
        SECURE_SSL_REDIRECT="false",
        SECRET_KEY="bench-" + "x" * 50,
        ALLOWED_HOSTS="testserver",
        WHITENOISE_USE_FINDERS="true",
        EMAIL_URL="memorymail://",
        LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="config.settings",
    )
    (var_dir / "staticfiles").mkdir(exist_ok=True)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


# --- seeding (the parent process) --------------------------------------------------------------
def seed(pledges, *, batch=5_000):
    """A funded campaign of `pledges` pledges and a small one; returns their pks."""
    import datetime as dt

    from django.db import transaction
    from django.utils import timezone

    from campaigns.models import Campaign, RewardTier
    from members.models import Member
    from pledges.models import Pledge

    now = timezone.now()
    organizer = Member.objects.create_user(
        f"organizer@{BENCH_DOMAIN}", display_name="Olivia Organizer"
    )
    campaigns = []
    for title, size in (("Elm Street garden", pledges), ("Warm-up", WARM_UP_PLEDGES)):
        campaign = Campaign.objects.create(
            organizer=organizer,
            title=title,
            slug=f"{title.lower().replace(' ', '-')}-{os.getpid()}",
            summary="Raised beds and a tool shed.",
            story="A garden for the street.",
            story_html="<p>A garden for the street.</p>",
            goal_minor=100_000,
            currency="EUR",
            duration_days=30,
            status=Campaign.Status.FUNDED,
            launched_at=now - dt.timedelta(days=40),
            deadline=now - dt.timedelta(days=10),
            pledged_at_deadline_minor=0,
            supporters_at_deadline=0,
        )
        rewards = [
            RewardTier.objects.create(
                campaign=campaign, title=f"Reward {n}: a tote bag", minimum_minor=1_000 * n
            )
            for n in range(1, 6)
        ]
        statuses = [
            Pledge.Status.COLLECTED,
            Pledge.Status.COLLECTED,
            Pledge.Status.COLLECTED,
            Pledge.Status.PARTIALLY_REFUNDED,
            Pledge.Status.DROPPED,
        ]
        for start in range(0, size, batch):
            with transaction.atomic():
                members = Member.objects.bulk_create(
                    Member(
                        email=f"s{campaign.pk}-{n}@{BENCH_DOMAIN}",
                        display_name=f"Supporter number {n}",
                        password="!",
                    )
                    for n in range(start, min(start + batch, size))
                )
                Pledge.objects.bulk_create(
                    Pledge(
                        campaign=campaign,
                        supporter=member,
                        reward=rewards[n % 5] if n % 4 else None,
                        amount_minor=1_000 + (n % 50) * 250,
                        currency="EUR",
                        status=statuses[n % 5],
                        public_name="" if n % 3 else f"Neighbour {n}",
                        anonymous=n % 7 == 0,
                        share_email_with_organizer=n % 2 == 0,
                        activated_at=now - dt.timedelta(days=40, seconds=-n),
                        collected_at=now - dt.timedelta(days=10),
                        reward_sent_at=now if n % 4 and n % 3 == 0 else None,
                        reward_tracking=f"PARCEL-{n:08d}" if n % 4 and n % 3 == 0 else "",
                    )
                    for n, member in enumerate(members, start=start)
                )
        campaigns.append(campaign.pk)
    return campaigns


def clean_up():
    """Remove what seed() made (for a database given with --database-url)."""
    from campaigns.models import Campaign
    from members.models import Member
    from pledges.models import Pledge

    organizer = Member.objects.get(email=f"organizer@{BENCH_DOMAIN}")
    campaigns = Campaign.objects.filter(organizer=organizer)
    Pledge.objects.filter(campaign__in=campaigns).delete()
    campaigns.delete()
    Member.objects.filter(email__endswith=f"@{BENCH_DOMAIN}").delete()


# --- measuring (a child process per way of exporting) -------------------------------------------
def rss_mb():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0  # pragma: no cover - not Linux: ru_maxrss alone


def maxrss_mb():
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


class Sampler(threading.Thread):
    """The highest RSS seen, every 5 ms, until stopped."""

    def __init__(self):
        super().__init__(daemon=True)
        self.peak = rss_mb()
        self.done = threading.Event()

    def run(self):
        while not self.done.wait(0.005):
            self.peak = max(self.peak, rss_mb())

    def stop(self):
        self.done.set()
        self.join()
        self.peak = max(self.peak, rss_mb())
        return self.peak


def streaming_export(client, campaign_pk):
    """The real view through the test client, read to the end; (bytes, lines)."""
    from django.urls import reverse

    response = client.get(reverse("community:supporters_csv", args=[campaign_pk]))
    assert response.status_code == 200, response.status_code
    assert response.streaming, "the export must stream"
    size = lines = 0
    for piece in response.streaming_content:
        size += len(piece)
        lines += piece.count(b"\n")
    response.close()
    return size, lines


def naive_export(client, campaign_pk):
    """Everything in memory: the pledges as model instances, every row, one response body."""
    import csv
    import io

    from django.http import HttpResponse

    from campaigns.models import Campaign
    from pledges import exports

    campaign = Campaign.objects.get(pk=campaign_pk)
    pledges = list(exports.supporters_of(campaign))
    rows = [exports.csv_header()]
    for pledge in pledges:
        rows.append(
            [
                str(pledge.public_id),
                exports.csv_safe(pledge.display_name),
                exports.csv_safe(pledge.shared_email),
                exports.csv_safe(pledge.reward.title if pledge.reward else ""),
                exports._amount(pledge.amount_minor, pledge.currency),
                pledge.currency,
                pledge.get_status_display(),
                exports._iso(pledge.pledged_at),
                exports._iso(pledge.reward_sent_at),
                exports.csv_safe(pledge.reward_tracking),
            ]
        )
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    response = HttpResponse("\ufeff" + buffer.getvalue(), content_type="text/csv; charset=utf-8")
    return len(response.content), response.content.count(b"\n")


def measure(way, campaign_pk, warm_up_pk):
    """In this (fresh) process: warm up, idle figures, then one export of the big campaign."""
    from django.test import Client

    from members.models import Member

    export = streaming_export if way == "streaming" else naive_export
    client = Client()
    client.force_login(Member.objects.get(email=f"organizer@{BENCH_DOMAIN}"))
    export(client, warm_up_pk)
    export(client, warm_up_pk)
    gc.collect()
    idle_rss, idle_max = rss_mb(), maxrss_mb()
    sampler = Sampler()
    sampler.start()
    started = time.perf_counter()
    size, lines = export(client, campaign_pk)
    seconds = time.perf_counter() - started
    peak = sampler.stop()
    growth = max(peak - idle_rss, maxrss_mb() - idle_max)
    return {
        "way": way,
        "idle_rss_mb": idle_rss,
        "peak_rss_mb": peak,
        "maxrss_growth_mb": maxrss_mb() - idle_max,
        "growth_mb": growth,
        "rows": lines - 1,  # the header
        "megabytes": size / 1e6,
        "seconds": seconds,
    }


def run_child(way, args, var_dir, campaign_pk, warm_up_pk):
    command = [
        sys.executable,
        __file__,
        "--measure",
        way,
        "--var-dir",
        str(var_dir),
        "--campaign",
        str(campaign_pk),
        "--warm-up-campaign",
        str(warm_up_pk),
    ]
    if args.database_url:
        command += ["--database-url", args.database_url]
    output = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if output.returncode != 0:
        raise SystemExit(f"the {way} run failed:\n{output.stderr}")
    return json.loads(output.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pledges", type=int, default=100_000)
    parser.add_argument("--smoke", action="store_true", help="2,000 pledges: does it run")
    parser.add_argument("--database-url", default="", help="default: a throwaway SQLite file")
    parser.add_argument("--measure", choices=["streaming", "naive"], help=argparse.SUPPRESS)
    parser.add_argument("--var-dir", help=argparse.SUPPRESS)
    parser.add_argument("--campaign", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--warm-up-campaign", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.measure:  # a child: one export, figures as JSON on the last line
        configure(Path(args.var_dir), args.database_url)
        print(json.dumps(measure(args.measure, args.campaign, args.warm_up_campaign)))
        return 0

    pledges = 2_000 if args.smoke else args.pledges
    var_dir = Path(tempfile.mkdtemp(prefix="groundswell-bench-"))
    try:
        configure(var_dir, args.database_url)
        from django.core.management import call_command
        from django.db import connections

        call_command("migrate", verbosity=0)
        print(f"Seeding {pledges:,} pledges into {os.environ['DATABASE_URL']} ...", flush=True)
        started = time.perf_counter()
        campaign_pk, warm_up_pk = seed(pledges)
        print(f"  seeded in {time.perf_counter() - started:.1f} s", flush=True)
        connections.close_all()
        try:
            results = [
                run_child(way, args, var_dir, campaign_pk, warm_up_pk)
                for way in ("streaming", "naive")
            ]
        finally:
            if args.database_url:
                clean_up()
    finally:
        shutil.rmtree(var_dir, ignore_errors=True)

    streaming, naive = results
    print()
    print(f"supporters CSV of one campaign, {streaming['rows']:,} rows")
    print(
        f"{'':10} {'idle MB':>8} {'peak MB':>8} {'+maxrss':>8} {'+MB':>7} {'rows':>9} "
        f"{'CSV MB':>7} {'seconds':>8} {'rows/s':>8}"
    )
    for result in results:
        print(
            f"{result['way']:10} {result['idle_rss_mb']:>8.1f} {result['peak_rss_mb']:>8.1f} "
            f"{result['maxrss_growth_mb']:>8.1f} {result['growth_mb']:>7.1f} "
            f"{result['rows']:>9,} {result['megabytes']:>7.1f} {result['seconds']:>8.2f} "
            f"{result['rows'] / result['seconds']:>8,.0f}"
        )
    ratio = naive["growth_mb"] / max(streaming["growth_mb"], 0.1)
    print(
        f"streaming: +{streaming['growth_mb']:.1f} MB vs naive: +{naive['growth_mb']:.1f} MB "
        f"(naive/streaming {ratio:.1f}x)"
    )
    assert streaming["rows"] == naive["rows"] == pledges, (streaming["rows"], pledges)
    ok = streaming["growth_mb"] < LIMIT_MB
    verdict = "meets" if ok else "FAILS"
    growth = streaming["growth_mb"]
    print(f"streaming growth {growth:.1f} MB {verdict} the limit of < {LIMIT_MB} MB")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
