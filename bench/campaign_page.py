"""Benchmark: requests/s of the public campaign page against a trivial view, same server, same run.

    .venv/bin/python bench/campaign_page.py [--duration 10] [--connections 8] [--workers 2]

It builds a throwaway SQLite database in a temporary folder, seeds one live campaign through
the real services (20 reward tiers, 20 budget items, 5 stretch goals, ~500 active pledges,
a cover image), starts gunicorn with DEBUG off, and loads each URL with `wrk` (or, when wrk
is not installed, a small threaded Python client). The trivial view is /robots.txt: a
constant text response that goes through the same middleware stack. It prints requests/s of
both and their ratio (target: campaign page / trivial >= 0.5). Not part of the test run.
"""

import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = ROOT / ".venv" / "bin"
TARGET_RATIO = 0.5
TRIVIAL = "trivial (/robots.txt)"
CACHED = "campaign page"
FRESH = "campaign page, uncached"


def bench_environment(var_dir):
    env = dict(os.environ)
    for name in ("DATABASE_URL", "CACHE_URL", "DEBUG"):
        env.pop(name, None)
    env.update(
        GROUNDSWELL_VAR_DIR=str(var_dir),
        DATABASE_URL=f"sqlite:///{var_dir / 'bench.sqlite3'}",
        MEDIA_ROOT=str(var_dir / "media"),
        DEBUG="false",
        SECURE_SSL_REDIRECT="false",
        SECRET_KEY="bench-" + "x" * 50,
        ALLOWED_HOSTS="127.0.0.1",
        WHITENOISE_USE_FINDERS="true",
        EMAIL_URL="memorymail://",
        LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="config.settings",
    )
    return env


# --- seeding (runs inside this process once the environment is set) ---------------------------
def seed(pledges=500):
    """One live campaign, built through the services an organizer and an admin would use."""
    import datetime as dt
    from io import BytesIO

    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db import transaction
    from PIL import Image

    from campaigns import services
    from campaigns.models import Category, FundingModel
    from members.models import Member
    from pledges.models import Pledge

    staff = Member.objects.create_user("admin@bench.local", display_name="Admin", is_staff=True)
    organizer = Member.objects.create_user("org@bench.local", display_name="Olivia Organizer")
    campaign = services.start_campaign(organizer=organizer, title="Elm Street community garden")
    services.update_basics(
        campaign,
        by=organizer,
        title=campaign.title,
        summary="Raised beds, a tool shed and a rain tank for an empty lot.",
        category=Category.FOOD,
        location="Ghent",
    )
    buffer = BytesIO()
    Image.new("RGB", (1600, 900), (92, 150, 84)).save(buffer, "JPEG")
    services.update_story(
        campaign,
        by=organizer,
        story="\n\n".join(
            f"## Part {n}\n\nWe want to turn the empty lot on **Elm Street** into a garden "
            "where neighbours grow food together. Your pledge buys soil, seeds and a shed."
            for n in range(1, 9)
        ),
        cover=SimpleUploadedFile("cover.jpg", buffer.getvalue(), content_type="image/jpeg"),
    )
    services.update_funding(
        campaign,
        by=organizer,
        goal_minor=5_000_000,
        currency="EUR",
        funding_model=FundingModel.ALL_OR_NOTHING,
        duration_days=30,
        end_date=None,
    )
    rewards = [
        services.save_reward(
            campaign,
            by=organizer,
            title=f"Reward tier {n}",
            description="A thank-you from the gardeners, and something from the garden. " * 3,
            minimum_minor=1_000 * n,
            quantity_limit=100 if n % 2 else None,
            estimated_delivery=dt.date.today().replace(day=1) + dt.timedelta(days=120),
        )
        for n in range(1, 21)
    ]
    for n in range(1, 21):
        services.save_budget_item(
            campaign,
            by=organizer,
            label=f"Budget item {n}: timber, soil and tools",
            amount_minor=100_000,
            required=n <= 15,
        )
    for n in range(1, 6):
        services.save_stretch_goal(
            campaign,
            by=organizer,
            amount_minor=5_000_000 + n * 1_000_000,
            description=f"Stretch goal {n}: a greenhouse, beehives and more",
        )
    services.submit_for_review(campaign, by=organizer)
    services.approve(campaign, by=staff)
    campaign = services.launch(campaign, by=organizer)
    with transaction.atomic():
        supporters = Member.objects.bulk_create(
            Member(email=f"s{n}@bench.local", display_name=f"Supporter {n}", password="!")
            for n in range(pledges)
        )
        Pledge.objects.bulk_create(
            Pledge(
                campaign=campaign,
                supporter=supporter,
                reward=rewards[n % len(rewards)] if n % 3 else None,
                amount_minor=2_500 + (n % 7) * 500,
                currency="EUR",
                status=Pledge.Status.ACTIVE,
            )
            for n, supporter in enumerate(supporters)
        )
    return campaign


def count_queries(path):
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="127.0.0.1")
    client.get(path)
    cache.clear()  # a fresh render, not the page cache
    with CaptureQueriesContext(connection) as queries:
        status = client.get(path).status_code
    return status, len(queries)


# --- load ---------------------------------------------------------------------------------------
def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"gunicorn did not answer {url} within {timeout}s")


def run_wrk(url, *, duration, connections, threads=2):
    output = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if errors:
        raise SystemExit(f"{url} answered {errors.group(1)} error responses:\n{output}")
    return rate


def run_python_client(url, *, duration, connections):
    """A fallback load generator: `connections` threads requesting in a loop."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    done, failures = [0] * connections, []
    stop = time.monotonic() + duration

    def worker(index):
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        while time.monotonic() < stop:
            conn.request("GET", parts.path)
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                failures.append(response.status)
            done[index] += 1
            if response.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)

    started = time.monotonic()
    workers = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    if failures:
        raise SystemExit(f"{url} answered {len(failures)} error responses")
    return sum(done) / (time.monotonic() - started)


def measure(args, var_dir):
    """Seed, start gunicorn, load every URL; returns ({name: [req/s per round]}, path, queries)."""
    (var_dir / "staticfiles").mkdir()  # whitenoise warns when STATIC_ROOT is missing
    env = bench_environment(var_dir)
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django
    from django.core.management import call_command

    django.setup()
    print(f"Seeding a throwaway database in {var_dir} ...", flush=True)
    call_command("migrate", verbosity=0)
    campaign = seed(pledges=args.pledges)
    campaign_path = campaign.get_absolute_url()
    status, queries = count_queries(campaign_path)
    assert status == 200, status
    from django.db import connections

    connections.close_all()

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [
            str(VENV_BIN / "gunicorn"),
            "config.wsgi",
            "-w",
            str(args.workers),
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        wait_until_up(base + "/robots.txt")
        load = run_wrk if shutil.which("wrk") else run_python_client
        tool = "wrk" if load is run_wrk else "a threaded Python client (wrk not found)"
        urls = {
            TRIVIAL: base + "/robots.txt",
            CACHED: base + campaign_path,
            # A query string bypasses the page cache: what a logged-in member gets.
            FRESH: base + campaign_path + "?fresh=1",
        }
        print(f"gunicorn -w {args.workers} on {base}; load: {tool}, {args.connections} connections")
        for url in urls.values():  # warm up: imports, template loading, the page cache
            load(url, duration=2, connections=args.connections)
        rates = {name: [] for name in urls}
        for _ in range(args.rounds):
            for name, url in urls.items():
                rates[name].append(load(url, duration=args.duration, connections=args.connections))
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    return rates, campaign_path, queries


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (median)")
    parser.add_argument("--pledges", type=int, default=500)
    args = parser.parse_args()

    var_dir = Path(tempfile.mkdtemp(prefix="groundswell-bench-"))
    try:
        rates, campaign_path, queries = measure(args, var_dir)
    finally:
        shutil.rmtree(var_dir, ignore_errors=True)

    trivial = statistics.median(rates[TRIVIAL])
    ratio = statistics.median(rates[CACHED]) / trivial
    fresh_ratio = statistics.median(rates[FRESH]) / trivial
    print()
    print(f"campaign page: {campaign_path} (20 rewards, 20 budget items, 5 stretch goals,")
    print(f"               {args.pledges} pledges; {queries} SQL queries when rendered fresh)")
    for name, values in rates.items():
        runs = ", ".join(f"{v:,.0f}" for v in values)
        print(f"{name:26} {statistics.median(values):>9,.0f} req/s   (runs: {runs})")
    verdict = "meets" if ratio >= TARGET_RATIO else "is BELOW"
    print(f"{'ratio campaign/trivial':26} {ratio:>9.2f}   {verdict} the target of {TARGET_RATIO}")
    print(f"{'ratio uncached/trivial':26} {fresh_ratio:>9.2f}   (logged-in members; no target)")
    return 0 if ratio >= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
