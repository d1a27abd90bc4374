"""The machinery of the fault-injection tests: a private Redis database, real worker, beat and
web processes pointed at the test database and the stand-in, pledges with saved cards, and the
one invariant every scenario ends with (`assert_exactly_once`).

Timing: the processes run with a sweep every SWEEP_SECONDS and every settlement delay shorter
than a sweep period (WORKER_SETTINGS), so that a scenario takes seconds and "every pledge final
within two sweep periods after the faults stop" (SETTLE_WITHIN_SECONDS) can hold at all. In
production the assume-lost delay (CHARGE_ASSUME_LOST_AFTER_SECONDS, 420 s, for Stripe's search
lag) is seven 60 s sweep periods: an attempt whose request may have been lost takes that long.
Nothing here sleeps for timing: every wait is `wait_for` on a condition with a timeout.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from io import StringIO
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import redis
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from campaigns.models import Campaign
from devtools.stripe_standin.process import free_port
from ledger.models import Entry
from ledger.models import Transaction as LedgerTransaction
from pledges import services
from pledges.models import PaymentAttempt, Pledge
from tests import localstripe_server
from tests.conftest import redis_url, wait_for
from tests.factories import MemberFactory
from tests.stripe_fixtures import STANDIN_PUBLISHABLE_KEY, STANDIN_SECRET_KEY, TEST_WEBHOOK_SECRET

BASE_DIR = Path(__file__).resolve().parents[2]
Status = Pledge.Status

# Where every pledge must end up (the list): nothing left charging or in flight.
FINAL_STATUSES = (Status.COLLECTED, Status.RETRYING, Status.ACTION_REQUIRED, Status.DROPPED)

SWEEP_SECONDS = 3.0
SEARCH_LAG_SECONDS = 0.5
WORKER_SETTINGS = {
    "SETTLEMENT_SWEEP_SECONDS": SWEEP_SECONDS,
    # An attempt untouched this long is reconciled by the sweep (its worker died or gave up).
    "CHARGE_RECONCILE_AFTER_SECONDS": 1.5,
    # An empty search means "never charged" only after the search lag and a request's time.
    "CHARGE_ASSUME_LOST_AFTER_SECONDS": 2.5,
    "CHARGE_REDISPATCH_SECONDS": 3,
    "CHARGE_RATE_PER_SECOND": 50,
    # Long enough for the "killed before the provider call" hook (a drained rate ceiling).
    "CHARGE_RATE_WAIT_SECONDS": 60,
}
# "Within two sweep periods after the faults stop", plus what one charge takes to run.
SETTLE_WITHIN_SECONDS = 2 * SWEEP_SECONDS + 2
RATE_BUCKET_KEY = "groundswell:ratelimit:stripe-charges"  # core.ratelimit's key for charges

DECLINES = "pm_card_chargeCustomerFail"  # saved fine, declined when charged -> retrying
NEEDS_AUTHENTICATION = "pm_card_authenticationRequired"  # 3-D Secure -> action_required


# --- a Redis database of our own ----------------------------------------------------------
_CLAIM_KEY = "groundswell:fault-tests:claimed"
# Helpers and developers use 3..12 and CI 14/15 (.ci/run); try the others first.
_CANDIDATE_DBS = (13, 2, 1, 0, *range(12, 2, -1), 15, 14)


def _with_db(url, db):
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{db}"))


def _db_of(url):
    path = urlsplit(url).path.strip("/")
    return int(path) if path.isdigit() else 0


def claim_private_redis():
    """A Redis URL (same server as REDIS_URL) whose database no one else uses: the tests flush
    it on purpose. FAULTS_REDIS_URL chooses one; otherwise the first empty database that is
    neither REDIS_URL's nor CELERY_BROKER_URL's, claimed with a key so a parallel run skips it.
    Returns the URL; `release_private_redis` empties it again."""
    explicit = os.environ.get("FAULTS_REDIS_URL")
    if explicit:
        redis.Redis.from_url(explicit).flushdb()
        return explicit
    base = redis_url()
    taken = {_db_of(base)}
    broker = os.environ.get("CELERY_BROKER_URL", "")
    if broker.startswith("redis") and urlsplit(broker).netloc == urlsplit(base).netloc:
        taken.add(_db_of(broker))
    for db in _CANDIDATE_DBS:
        if db in taken:
            continue
        url = _with_db(base, db)
        client = redis.Redis.from_url(url, socket_connect_timeout=2)
        if client.dbsize() == 0 and client.set(_CLAIM_KEY, os.getpid(), nx=True, ex=3600):
            return url
    raise RuntimeError(f"no empty Redis database on {base} for the fault-injection tests")


def release_private_redis(url):
    redis.Redis.from_url(url).flushdb()


def flush_redis(url):
    """The fault: everything in the broker and the rate ceiling's database is gone."""
    client = redis.Redis.from_url(url)
    client.flushdb()
    client.set(_CLAIM_KEY, os.getpid(), ex=3600)  # still ours


# --- processes ----------------------------------------------------------------------------
@dataclass
class Service:
    """One process of the cluster, its output in `log_path`."""

    name: str
    process: subprocess.Popen
    log_path: Path
    ready_text: str = ""

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def tail(self, lines=40) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self):
        """SIGKILL the whole process group (a prefork worker's children too), no shutdown."""
        if self.alive():
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self, timeout=15):
        if self.alive():
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()


def database_url_of_this_run():
    """The URL of the database this test run uses (pytest-django's test_<name>)."""
    db = connection.settings_dict
    auth = db["USER"] or ""
    if db.get("PASSWORD"):
        auth += f":{db['PASSWORD']}"
    host = db["HOST"] or "127.0.0.1"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{auth}{'@' if auth else ''}{host}{port}/{db['NAME']}"


@dataclass
class Cluster:
    """Worker, beat and web processes sharing the test database, one Redis database (broker
    and rate ceiling) and the stand-in, as a deployment runs them (Procfile)."""

    tmp_path: Path
    broker_url: str
    standin_url: str
    settings: dict = field(default_factory=lambda: dict(WORKER_SETTINGS))
    services: list = field(default_factory=list)

    def env(self):
        values = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": database_url_of_this_run(),
            "CONN_MAX_AGE": "0",
            "CELERY_BROKER_URL": self.broker_url,
            "REDIS_URL": self.broker_url,
            "STRIPE_API_BASE": self.standin_url,
            "STRIPE_SECRET_KEY": STANDIN_SECRET_KEY,
            "STRIPE_WEBHOOK_SECRET": TEST_WEBHOOK_SECRET,
            "GROUNDSWELL_VAR_DIR": str(self.tmp_path),
            "EMAIL_URL": "dummymail://",
            "PYTHONUNBUFFERED": "1",
        }
        values.update({name: str(value) for name, value in self.settings.items()})
        return values

    def _spawn(self, name, command, ready_text=""):
        log_path = self.tmp_path / f"{name}-{len(self.services)}.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                command,
                cwd=BASE_DIR,
                env=self.env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: kill() reaches its children
            )
        service = Service(name, process, log_path, ready_text)
        self.services.append(service)
        return service

    def start_worker(self, name="charges", *, queues="charges", concurrency=2):
        """A Celery worker as the Procfile's `charges` (prefork, so two charges at once)."""
        return self._spawn(
            name,
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "-Q",
                queues,
                "--hostname",
                f"{name}-{len(self.services)}@%h",
                "--pool=prefork" if concurrency > 1 else "--pool=solo",
                f"--concurrency={concurrency}",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel=INFO",
            ],
            ready_text=" ready.",
        )

    def start_beat(self):
        """Beat sends pledges.settlement_sweep every SETTLEMENT_SWEEP_SECONDS, as in production."""
        return self._spawn(
            "beat",
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "beat",
                "--loglevel=INFO",
                f"--schedule={self.tmp_path / 'celerybeat-schedule'}",
            ],
            ready_text="beat: Starting",
        )

    def start_web(self):
        """The web process (gunicorn, as deployed) that receives the stand-in's webhooks."""
        port = free_port()
        service = self._spawn(
            "web",
            [
                sys.executable,
                "-m",
                "gunicorn",
                "config.wsgi",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "--threads",
                "4",
                "--access-logfile",
                "-",
            ],
            ready_text="Booting worker",
        )
        service.base_url = f"http://127.0.0.1:{port}"
        return service

    def start_standard(self):
        """charges worker, the default-queue worker (sweeps, webhooks, emails) and beat."""
        return (
            self.start_worker("charges"),
            self.start_worker("worker", queues="celery", concurrency=1),
            self.start_beat(),
        )

    def wait_ready(self, *services, timeout=40):
        for service in services or self.services:
            ok = wait_for(
                lambda service=service: service.ready_text in service.log() or not service.alive(),
                timeout=timeout,
                interval=0.1,
            )
            assert ok and service.alive(), f"{service.name} did not start:\n{service.tail()}"

    def stop(self):
        for service in self.services:  # all at once: each finishes its task meanwhile
            if service.alive():
                os.killpg(service.process.pid, signal.SIGTERM)
        for service in self.services:
            service.stop()

    def logs(self, lines=40):
        return "\n".join(
            f"--- {service.name} ({'alive' if service.alive() else 'exited'}) ---\n"
            f"{service.tail(lines)}"
            for service in self.services
        )

    def sender(self, monkeypatch):
        """A Celery app of this process that publishes to the cluster's broker."""
        from celery import Celery
        from django.conf import settings

        from config.celery import configure

        monkeypatch.setenv("CELERY_BROKER_URL", self.broker_url)  # Celery prefers the env
        app = Celery("fault-tests", set_as_current=False)  # the proxies keep theirs
        app.config_from_object("django.conf:settings", namespace="CELERY")
        app.conf.broker_url = self.broker_url
        configure(app, settings)
        return app


# --- pledges with saved cards -------------------------------------------------------------
def confirm_in_browser(standin_url, setup_intent_id, card):
    """What Stripe.js does when the supporter submits the card form, 3-D Secure included."""
    status, intent = localstripe_server.api(
        standin_url, "GET", f"/v1/setup_intents/{setup_intent_id}", secret_key=STANDIN_SECRET_KEY
    )
    assert status == 200, intent
    public = {"secret_key": STANDIN_PUBLISHABLE_KEY}
    params = {"payment_method": card, "client_secret": intent["client_secret"]}
    status, body = localstripe_server.api(
        standin_url, "POST", f"/v1/setup_intents/{setup_intent_id}/confirm", params, **public
    )
    assert status == 200, body
    if body["status"] == "requires_action":
        status, body = localstripe_server.api(
            standin_url,
            "POST",
            f"/v1/setup_intents/{setup_intent_id}/_authenticate",
            {"success": True, "client_secret": intent["client_secret"]},
            **public,
        )
        assert status == 200 and body["status"] == "succeeded", body
    return body


def pledge_with_card(campaign, standin_url, *, card="pm_card_visa", amount=2_000):
    """An active pledge whose card was saved on the stand-in, as the card page does it."""
    supporter = MemberFactory()
    pledge = services.start_pledge(campaign, supporter=supporter, amount_minor=amount)
    confirm_in_browser(standin_url, pledge.setup_intent_id, card)
    return services.confirm_card(pledge, by=supporter)


def mixed_cards(count, *, declines=2, authentication=2):
    """`count` (card, amount) pairs: mostly good cards, a few declines and 3-D Secure ones."""
    special = [DECLINES] * declines + [NEEDS_AUTHENTICATION] * authentication
    cards = ["pm_card_visa"] * (count - len(special))
    # Every fourth card from the fourth on: the first charges (the ones a fault meets first)
    # are good cards, and the others are spread among them.
    for index, card in enumerate(special):
        cards.insert(min(3 + 4 * index, len(cards)), card)
    return [(card, 1_000 + 137 * index) for index, card in enumerate(cards)]


def pledges_with_cards(campaign, standin_url, cards):
    return [
        pledge_with_card(campaign, standin_url, card=card, amount=amount) for card, amount in cards
    ]


def deadline_passes(campaign):
    """The campaign's deadline is now in the past: the next sweep closes it."""
    Campaign.objects.filter(pk=campaign.pk).update(deadline=timezone.now())


# --- watching settlement ------------------------------------------------------------------
def statuses(campaign):
    return Counter(Pledge.objects.filter(campaign=campaign).values_list("status", flat=True))


def unsettled(campaign):
    return Pledge.objects.filter(campaign=campaign).exclude(status__in=FINAL_STATUSES)


def in_flight(campaign):
    return PaymentAttempt.objects.filter(
        pledge__campaign=campaign, status__in=PaymentAttempt.UNSETTLED_STATUSES
    )


def went_unknown(campaign):
    """How many of the campaign's attempts lost their answer at least once (their audit rows
    say so even after reconciliation settled them)."""
    from django.contrib.contenttypes.models import ContentType

    from core.models import AuditEvent

    ids = [str(pk) for pk in in_campaign(campaign).values_list("pk", flat=True)]
    return (
        AuditEvent.objects.filter(
            target_type=ContentType.objects.get_for_model(PaymentAttempt),
            target_id__in=ids,
            action=f"status:{PaymentAttempt.Status.UNKNOWN}",
        )
        .values("target_id")
        .distinct()
        .count()
    )


def in_campaign(campaign, **filters):
    return PaymentAttempt.objects.filter(pledge__campaign=campaign, **filters)


def all_final(campaign):
    return not unsettled(campaign).exists() and not in_flight(campaign).exists()


def wait_until_settled(campaign, cluster, *, within=SETTLE_WITHIN_SECONDS, what="settled"):
    """Every pledge final within `within` seconds; returns the seconds it took."""
    started = time.monotonic()
    settled = wait_for(lambda: all_final(campaign), timeout=within, interval=0.1)
    took = time.monotonic() - started
    assert settled, (
        f"not {what} {within:.0f}s later: {dict(statuses(campaign))}, in flight: "
        f"{list(in_flight(campaign).values_list('pk', 'status', 'number', 'updated_at'))}\n"
        f"{cluster.logs()}"
    )
    return took


def provider_charges(campaign):
    """The campaign's PaymentIntents at the provider (by the metadata we put on them)."""
    from payments.gateway import get_gateway

    ours = {str(public_id) for public_id in campaign.pledges.values_list("public_id", flat=True)}
    return [
        charge
        for charge in get_gateway().list_payments()
        if (charge.metadata or {}).get("pledge") in ours
    ]


def contribution_amounts(campaign):
    """{pledge id: amount} of the campaign's contribution transactions in the ledger."""
    contributions = LedgerTransaction.objects.filter(
        kind=LedgerTransaction.Kind.CONTRIBUTION, campaign_id=campaign.pk
    )
    amounts = Counter()
    for entry in Entry.objects.filter(transaction__in=contributions, amount_minor__gt=0).values(
        "transaction__pledge_id", "amount_minor"
    ):
        amounts[entry["transaction__pledge_id"]] += entry["amount_minor"]
    assert contributions.count() == len(amounts), "a contribution without a credit entry"
    pledge_ids = list(contributions.values_list("pledge_id", flat=True))
    assert len(pledge_ids) == len(set(pledge_ids)), (
        f"two contributions for one pledge: {pledge_ids}"
    )
    return dict(amounts)


def assert_exactly_once(campaign, *, expect=None, closed_before=()):
    """The issue's invariant: at most one succeeded PaymentIntent per pledge at the provider;
    succeeded PaymentIntents = collected pledges = contribution transactions (same pledges,
    same amounts); no attempt left in flight; every pledge final; `verify_ledger` clean.
    `expect`: the Counter of final statuses the cards must produce; `closed_before`: statuses
    of pledges that never reached the deadline (cancelled, released). Returns the statuses."""
    pledges = list(Pledge.objects.filter(campaign=campaign))
    by_uuid = {str(p.public_id): p for p in pledges}
    charges = provider_charges(campaign)
    succeeded = [charge for charge in charges if charge.status == "succeeded"]
    per_pledge = Counter(charge.metadata["pledge"] for charge in succeeded)
    doubles = {by_uuid[key].pk: n for key, n in per_pledge.items() if n > 1}
    assert not doubles, f"pledges charged more than once at the provider: {doubles}"

    collected = {p.pk: p for p in pledges if p.status == Status.COLLECTED}
    charged = {by_uuid[charge.metadata["pledge"]].pk: charge for charge in succeeded}
    assert set(charged) == set(collected), (
        f"charged at the provider but not collected: {sorted(set(charged) - set(collected))}; "
        f"collected without a charge: {sorted(set(collected) - set(charged))}"
    )
    contributions = contribution_amounts(campaign)
    assert set(contributions) == set(collected), (
        f"contributions {sorted(contributions)} != collected {sorted(collected)}"
    )
    for pk, pledge in collected.items():
        attempt = pledge.attempts.get(status=PaymentAttempt.Status.SUCCEEDED)
        charge = charged[pk]
        assert attempt.payment_intent_id == charge.id
        assert charge.amount_minor == attempt.amount_minor == pledge.amount_minor
        assert contributions[pk] == pledge.amount_minor

    final = statuses(campaign)
    assert set(final) <= {*FINAL_STATUSES, *closed_before}, f"pledges not final: {dict(final)}"
    assert not in_flight(campaign).exists()
    if expect is not None:
        assert final == expect, f"{dict(final)} != {dict(expect)}"

    out = StringIO()
    call_command("verify_ledger", stdout=out)  # CommandError (exit status 1) on a violation
    assert "no violations" in out.getvalue(), out.getvalue()
    return final


def expected_statuses(cards):
    outcome = {DECLINES: Status.RETRYING, NEEDS_AUTHENTICATION: Status.ACTION_REQUIRED}
    return Counter(outcome.get(card, Status.COLLECTED) for card, _amount in cards)


# --- fault hooks ---------------------------------------------------------------------------
def drain_rate_ceiling(url, *, seconds):
    """Empty the shared charge rate ceiling so far that the next charge waits `seconds` for a
    token: the "killed just before the provider call" hook (its attempt is committed,
    `created`, and its worker sleeps in wait_for_rate_ceiling)."""
    client = redis.Redis.from_url(url)
    now_s, now_us = client.time()
    rate = float(WORKER_SETTINGS["CHARGE_RATE_PER_SECOND"])
    client.hset(
        RATE_BUCKET_KEY,
        mapping={"tokens": repr(-rate * seconds), "stamp": f"{now_s + now_us / 1e6:.6f}"},
    )


def refill_rate_ceiling(url):
    redis.Redis.from_url(url).delete(RATE_BUCKET_KEY)


def answered(standin, endpoint="POST /v1/payment_intents"):
    """How many `endpoint` requests the stand-in has done the work of (answers still held back
    by the latency switch included): they are counted on arrival, statuses once done."""
    stats = standin.stats()
    if sum(stats["statuses"].values()) != stats["requests_total"]:
        return 0  # one still being worked on: ask again
    return stats["requests"].get(endpoint, 0)
