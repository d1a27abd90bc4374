"""Benchmark: Discover's word search on SQLite, an eight-word query against a one-word one.

    .venv/bin/python bench/search.py [--campaigns 200] [--rounds 7]
    .venv/bin/python bench/search.py --postgres postgres://postgres@127.0.0.1:5432/postgres

It builds a throwaway SQLite database in a temporary folder (or, with --postgres, a throwaway
database `gs_bench_search_<pid>` on that server, dropped afterwards), seeds live campaigns
whose stories
are ~4.5 KB of the demo campaigns' text (English, Dutch and French words, accents included),
and times anonymous GET /discover/ requests in-process (Django's test client, DEBUG off: the
middleware, both queries the page runs — count and one page of cards — and the template),
alternating the URLs over several rounds and taking the median:

- browse: /discover/ without a search, the baseline for what the page costs anyway;
- one word: ?q=garden;
- eight words: ?q=the a to and of in is for (common words: nearly every campaign matches, so
  every row is scored, the worst case);
- eight words, no match: eight words no campaign has (every row is read, none is listed).

Each search is also run through `legacy_search`, a copy of the first implementation (on
SQLite one folding call per word per field for the filter and again for the rank; on
PostgreSQL one tsvector per word per field), so the old cost is measured in the same run. It
prints milliseconds per request, on SQLite how many times the Python function folded a row's
texts per campaign, and the ratios; it exits non-zero when eight words cost more
than twice one word, or more than 0.5 s. Not part of the test run.
"""

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_RATIO = 2.0
TARGET_SECONDS = 0.5
QUERIES = {
    "one word": "garden",
    "eight words": "the a to and of in is for",
    "eight words, no match": "zeppelin quokka yodel xylem wombat vortex umlaut tundra",
}


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
        WHITENOISE_USE_FINDERS="true",  # no collectstatic needed
        EMAIL_URL="memorymail://",
        LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="config.settings",
    )
    (var_dir / "staticfiles").mkdir()
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from django.db.backends.signals import connection_created

    def register_legacy(sender, connection, **kwargs):
        if connection.vendor != "sqlite":
            return
        connection.connection.create_function(
            "gs_bench_legacy_words", 1, legacy_searchable_text, deterministic=True
        )

    connection_created.connect(register_legacy, weak=False)
    from django.db import connection

    connection.close()  # the next query opens a connection with the legacy function too


def seed(count):
    """`count` live campaigns with ~4.5 KB stories, each its own organizer."""
    import datetime as dt

    from django.utils import timezone

    from campaigns.models import Campaign
    from demo.specs import CAMPAIGNS
    from members.models import Member

    words = " ".join(spec.story for spec in CAMPAIGNS).split()
    now = timezone.now()
    for n in range(count):
        spec = CAMPAIGNS[n % len(CAMPAIGNS)]
        start = (n * 37) % len(words)
        story = " ".join((words[start:] + words)[:900])[:4500]
        organizer = Member.objects.create_user(
            f"organizer{n}@bench.local", display_name=f"Hélène Organizer {n}"
        )
        Campaign.objects.create(
            organizer=organizer,
            title=f"{spec.title} {n}",
            slug=f"{spec.slug}-{n}",
            summary=spec.summary,
            story=story,
            story_html=f"<p>{story}</p>",
            category=spec.category,
            location=spec.location,
            goal_minor=500_000,
            currency="EUR",
            funding_model=spec.funding_model,
            duration_days=30,
            status=Campaign.Status.LIVE,
            launched_at=now - dt.timedelta(days=2),
            deadline=now + dt.timedelta(days=28),
        )
    return len(story)


# --- the first implementation, kept here to measure against ------------------------------------
def legacy_search(queryset, q):
    """campaigns.selectors.search as first written: on SQLite every word is a LIKE over the
    folded text of all fields (filter), then of each field group again (rank); on PostgreSQL
    one tsvector of all fields (filter), then one per field group and word (rank)."""
    from django.db import connections
    from django.db.models import (
        Case,
        ExpressionWrapper,
        F,
        Func,
        IntegerField,
        TextField,
        Value,
        When,
    )
    from django.db.models.functions import Concat
    from django.db.models.lookups import Contains

    from core.search import query_words

    if connections[queryset.db].vendor == "postgresql":
        return legacy_postgres_search(queryset, q)

    groups = [
        (["title"], 100),
        (["summary"], 10),
        (["story", "location", "organizer__display_name"], 1),
    ]

    def matches(fields, word):
        parts = [F(fields[0])]
        for field in fields[1:]:
            parts += [Value(" "), F(field)]
        text = Concat(*parts, output_field=TextField()) if len(parts) > 1 else parts[0]
        folded = Func(text, function="gs_bench_legacy_words", output_field=TextField())
        return Contains(folded, Value(f" {word}"))

    words = query_words(q)
    every_field = [field for fields, _weight in groups for field in fields]
    for word in words:
        queryset = queryset.filter(matches(every_field, word))
    rank = Value(0)
    for fields, weight in groups:
        for word in words:
            rank = rank + Case(When(matches(fields, word), then=Value(weight)), default=Value(0))
    return queryset.annotate(search_rank=ExpressionWrapper(rank, output_field=IntegerField()))


def legacy_postgres_search(queryset, q):
    from django.contrib.postgres.search import SearchQuery, SearchVector, SearchVectorExact
    from django.db.models import (
        Case,
        ExpressionWrapper,
        F,
        Func,
        IntegerField,
        TextField,
        Value,
        When,
    )

    from core.search import query_words

    groups = [
        (["title"], 100),
        (["summary"], 10),
        (["story", "location", "organizer__display_name"], 1),
    ]

    def matches(fields, words):
        vector = SearchVector(
            *(Func(F(f), function="unaccent", output_field=TextField()) for f in fields),
            config="simple",
        )
        raw = " & ".join(f"'{word}':*" for word in words)  # the bench's words are plain
        query = SearchQuery(
            Func(Value(raw), function="unaccent", output_field=TextField()),
            search_type="raw",
            config="simple",
        )
        return SearchVectorExact(vector, query)

    words = query_words(q)
    queryset = queryset.filter(matches([f for fields, _w in groups for f in fields], words))
    rank = Value(0)
    for fields, weight in groups:
        for word in words:
            rank = rank + Case(When(matches(fields, [word]), then=Value(weight)), default=Value(0))
    return queryset.annotate(search_rank=ExpressionWrapper(rank, output_field=IntegerField()))


def legacy_fold(text):
    """core.search.fold as first written (a Python loop over every character)."""
    import unicodedata

    letters = str.maketrans(
        {"ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i"}
    )
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(char for char in decomposed if not unicodedata.combining(char))
    return stripped.translate(letters)


def legacy_searchable_text(value):
    import re

    if value is None:
        return " "
    return " " + " ".join(re.findall(r"[^\W_]+", legacy_fold(str(value)))) + " "


# --- measuring ---------------------------------------------------------------------------------
class CallCounter:
    """Wraps a Python function registered with SQLite and counts its calls."""

    def __init__(self, function):
        self.function = function
        self.calls = 0

    def __call__(self, *args):
        self.calls += 1
        return self.function(*args)


def counted_functions():
    """Re-register every search function on this connection behind a counter."""
    from django.db import connection

    import core.search as search

    connection.ensure_connection()
    if connection.vendor != "sqlite":
        return {}
    counters = {"legacy": CallCounter(legacy_searchable_text)}
    raw = connection.connection
    raw.create_function("gs_bench_legacy_words", 1, counters["legacy"], deterministic=True)
    for name, (narg, function) in getattr(search, "SQLITE_FUNCTIONS", {}).items():
        counters[name] = CallCounter(function)
        raw.create_function(name, narg, counters[name], deterministic=True)
    return counters


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--campaigns", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=7, help="alternating rounds (median)")
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="a PostgreSQL server (postgres://user@host:port/db) to create a throwaway database on",
    )
    args = parser.parse_args()

    var_dir = Path(tempfile.mkdtemp(prefix="groundswell-bench-"))
    database_url, drop = None, None
    if args.postgres:
        database_url, drop = throwaway_postgres(args.postgres)
    try:
        configure(var_dir, database_url)
        story_chars = seed(args.campaigns)
        results, calls = measure(args)
    finally:
        if drop:
            from django.db import connections

            connections.close_all()
            drop()
        shutil.rmtree(var_dir, ignore_errors=True)

    browse = statistics.median(results["browse"])
    backend = "PostgreSQL" if args.postgres else "SQLite"
    print(f"\n{args.campaigns} live campaigns, stories of {story_chars:,} characters, {backend}")
    print(f"{'request':42} {'ms (median)':>11}  {'calls/row':>9}  runs (ms)")
    for name, values in results.items():
        runs = ", ".join(f"{1000 * v:.0f}" for v in values)
        per_row = f"{calls[name] / args.campaigns:.1f}" if name in calls else ""
        print(f"{name:42} {1000 * statistics.median(values):>11.1f}  {per_row:>9}  {runs}")
    one = statistics.median(results["one word"])
    eight = statistics.median(results["eight words"])
    ratio = eight / one
    print(f"{'ratio eight words / one word':42} {ratio:>11.2f}  (target <= {TARGET_RATIO})")
    print(f"{'ratio one word / browse':42} {one / browse:>11.2f}")
    for name in QUERIES:
        legacy = statistics.median(results[f"{name} (legacy)"])
        new = statistics.median(results[name])
        print(f"{'ratio legacy / now, ' + name:42} {legacy / new:>11.1f}")
    ok = ratio <= TARGET_RATIO and eight <= TARGET_SECONDS
    print("meets the targets" if ok else "MISSES a target")
    return 0 if ok else 1


def throwaway_postgres(server_url):
    """A new database on the server of `server_url`: its URL and a function that drops it."""
    from urllib.parse import urlsplit, urlunsplit

    import psycopg2

    name = f"gs_bench_search_{os.getpid()}"
    parts = urlsplit(server_url)

    def admin(statement):
        connection = psycopg2.connect(server_url)
        connection.autocommit = True
        try:
            connection.cursor().execute(statement)
        finally:
            connection.close()

    admin(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path=f"/{name}")), lambda: admin(f'DROP DATABASE "{name}"')


def measure(args):
    from unittest import mock

    from django.test import Client

    from campaigns import selectors

    client = Client()
    urls = {"browse": {}}
    for name, q in QUERIES.items():
        urls[name] = {"q": q}
        urls[f"{name} (legacy)"] = {"q": q, "_legacy": "1"}
    current_search = selectors.search

    def timed(params):
        params = dict(params)
        legacy = params.pop("_legacy", None)
        with mock.patch.object(selectors, "search", legacy_search if legacy else current_search):
            started = time.perf_counter()
            response = client.get("/discover/", params)
            elapsed = time.perf_counter() - started
        assert response.status_code == 200, response.status_code
        return elapsed, len(response.context["page"].object_list) if response.context else None

    for params in urls.values():  # warm-up: connection, templates, regex caches
        timed(params)
    # Calls per request, from one request each on a connection whose functions count.
    calls = {}
    for name, params in urls.items():
        counters = counted_functions()
        timed(params)
        total = sum(counter.calls for counter in counters.values())
        if counters and name != "browse":
            calls[name] = total
    results = {name: [] for name in urls}
    for _ in range(args.rounds):
        for name, params in urls.items():
            results[name].append(timed(params)[0])
    return results, calls


if __name__ == "__main__":
    sys.exit(main())
