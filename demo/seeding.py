"""Making the demo through every app's services, as its people would have made it.

`seed()` makes (or completes) the demo of demo.specs. Members are rows as a finished sign-up
leaves them (email verified; members have no sign-up service: allauth's views make them); the
staff who can move money, the demo admin and the treasurer, are enrolled in two-factor
authentication with public demo keys (demo.staff; `manage.py demo_totp` prints their codes).
Each campaign goes through campaigns.services — drafted, reviewed, launched — and its pledges
are made as a supporter's browser makes them: pledges.services.start_pledge (a SetupIntent at
the provider), the card form's half at the Stripe stand-in (demo.browser, with a Stripe test
card), pledges.services.confirm_card (the card attached to the supporter's Stripe customer).
Campaigns that have ended are closed and settled by pledges.settlement: their cards are
charged at the provider, a collected pledge has its succeeded PaymentAttempt and its
contribution and fee in the ledger, a failed campaign's pledges are released; a cancelled
campaign goes through campaigns.services.cancel. The funded campaign then gets its payouts,
a refund and a supporter's concern through the payout services (demo.payouts). The community
around four campaigns (updates, comments, a hidden comment and a report, follows, rewards sent)
and where pledges came from (share links, referral codes) are demo.community's. Last comes
ENDING_SOON, live for two more
minutes: the running beat and `charges` worker settle it (one pledge collected, one declined
and retrying, one waiting for 3-D Secure, each with its email).

Safe to repeat. Campaigns are found by a creation token made from their slug and pledges by
an idempotency key made from campaign and supporter, so a second run creates nothing and a
run cut short (Ctrl-C) is finished by the next. Live demo campaigns get their dates moved on,
so they stay live with the time left they were designed with ("ends in 14 hours"). A new
ENDING_SOON campaign is made by every run that finds none still live, so every ./bin/dev shows
a settlement; the earlier ones stay, settled like any ended campaign.

What is back-dated, and why. The demo tells weeks of history and is made in seconds. What only
says *when* is moved into the past: campaigns' created and submitted dates, their launch
(campaigns.services.launch(now=…)), pledges' created and activated times (spread over the
campaign's life). A pledge is only accepted before the deadline on the real clock, so a
campaign that has ended is launched with its deadline still ahead, pledged to, and then its
launch and deadline are moved back together (as the settlement tests' `deadline_passes` does)
and it is closed with `close_campaign(now=deadline)`, as beat would have closed it at its
deadline. What moved money is never back-dated: payment attempts, collected_at, settled_at,
the ledger, the provider's objects and every audit row carry the time they really happened,
during seeding. An ended demo campaign therefore reads as settled late (its cards charged when
the demo was made), which is what the real code records when the workers were down at the
deadline.

While seeding, Celery tasks run in-process (eager) and email goes to the dummy backend: the
tasks the services schedule after commit (settling, charging, releasing, sending the outbox)
run during seeding, through the same code the worker runs, and the fictional people's
receipts do not fill the terminal before the two-minute campaign's emails. The card-testing
throttle counts seeding's pledges in a cache of seeding's own (quiet_side_effects says why).
"""

import logging
import math
import random
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta

from allauth.account.models import EmailAddress
from django.contrib.auth.hashers import make_password
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q
from django.test.utils import override_settings
from django.utils import timezone

from campaigns import services as campaigns
from campaigns.models import Campaign
from demo import browser
from demo import community as demo_community
from demo.covers import cover_image
from demo.payouts import ensure_demo_payouts
from demo.specs import (
    CAMPAIGNS,
    CARD_OK,
    DEMO_MEMBERS,
    DEMO_PASSWORD,
    DEMO_SUPPORTERS,
    ENDING_SOON,
    ENDING_SOON_MINUTES,
    ENDING_SOON_PLEDGES,
    MESSAGES,
    SUPPORTER_DOMAIN,
)
from demo.staff import enrol_demo_admin, ensure_treasurer
from members.models import Member
from pledges import services as pledges
from pledges import settlement
from pledges.models import Pledge

Status = Campaign.Status
_TOKEN_NAMESPACE = uuid.UUID("8f7d2c1e-3b4a-4c5d-9e6f-0a1b2c3d4e5f")
LAUNCHED = {"live", "funded", "failed", "cancelled"}
ENDED = {"funded", "failed"}
# A campaign that has ended takes its pledges with its deadline this far ahead, before its
# dates are moved back: ample for seeding its pledges.
PLEDGING_MARGIN = timedelta(hours=1)
# An ENDING_SOON campaign with less than this left is not worth finishing: make a new one.
ENDING_SOON_KEPT_IF_LEFT = timedelta(seconds=30)
# Seeding counts its pledge attempts in a cache of its own (see quiet_side_effects).
SEEDING_CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "groundswell-demo-seeding",
    }
}


@dataclass
class Report:
    members: dict
    created: int = 0
    refreshed: int = 0
    pledges: int = 0
    ending_soon: Campaign | None = None
    ending_soon_created: bool = False
    community: demo_community.Made | None = None


def seed(*, now=None):
    """Make whatever of the demo is missing; returns a Report. Needs the Stripe stand-in
    (raises browser.StandinUnavailable when it does not answer)."""
    browser.require_standin()
    now = now or timezone.now()
    with quiet_side_effects():
        members = ensure_demo_members()
        enrol_demo_admin(members["admin"])
        members["treasurer"] = ensure_treasurer()
        report = Report(members=members)
        people = {**ensure_demo_supporters(), **members}
        ensure_demo_campaigns(people, report, now=now)
        ensure_demo_payouts(people)
        report.community = demo_community.ensure_demo_community(people)
        report.ending_soon, report.ending_soon_created = ensure_ending_soon(people, report)
    return report


@contextmanager
def quiet_side_effects():
    """What seeding changes around the services (module docstring): tasks run in-process at
    .delay() and raise their errors, their one-line "succeeded" logs are not printed, email
    goes nowhere. And the cache is one of seeding's own: the card-testing throttle
    (pledges.throttle) counts each member's attempts per hour in the shared cache, and the
    demo's people make weeks of pledges in seconds; counted there, they would leave the demo's
    supporter login with its hourly allowance spent, and re-seeding a new database within the
    hour (its member ids start at 1 again) would be refused. The throttle still checks every
    pledge; only its counts stay with seeding. The one other use of the cache while seeding,
    campaigns.page_cache, holds pages for ten seconds."""
    from config.celery import app

    keys = ("task_always_eager", "task_eager_propagates")
    saved = {key: app.conf.get(key) for key in keys}
    trace_log = logging.getLogger("celery.app.trace")
    saved_level = trace_log.level
    app.conf.update(task_always_eager=True, task_eager_propagates=True)
    trace_log.setLevel(logging.WARNING)
    try:
        with override_settings(
            EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend", CACHES=SEEDING_CACHES
        ):
            yield
    finally:
        app.conf.update(saved)
        trace_log.setLevel(saved_level)


# --- members --------------------------------------------------------------------------------
def ensure_demo_members():
    """The three demo logins (staff flag and password reset on every run); {key: Member}."""
    members = {}
    for key, email, name, location, staff in DEMO_MEMBERS:
        member = Member.objects.filter(email=email).first()
        if member is None:
            member = Member(email=email, display_name=name, location=location)
        member.is_staff = member.is_superuser = staff
        member.set_password(DEMO_PASSWORD)
        member.save()
        EmailAddress.objects.update_or_create(
            user=member, email=email, defaults={"verified": True, "primary": True}
        )
        members[key] = member
    return members


def ensure_demo_supporters():
    """The demo supporters (created once, then left alone); returns {key: Member}."""
    emails = {key: f"{key}@{SUPPORTER_DOMAIN}" for key, _, _ in DEMO_SUPPORTERS}
    existing = {m.email: m for m in Member.objects.filter(email__in=emails.values())}
    missing = [(k, n, loc) for k, n, loc in DEMO_SUPPORTERS if emails[k] not in existing]
    if missing:
        # One hash for all: hashing 34 passwords one by one would take seconds.
        password = make_password(DEMO_PASSWORD)
        created = Member.objects.bulk_create(
            [
                Member(email=emails[k], display_name=name, location=loc, password=password)
                for k, name, loc in missing
            ]
        )
        EmailAddress.objects.bulk_create(
            [EmailAddress(user=m, email=m.email, verified=True, primary=True) for m in created]
        )
        existing.update({m.email: m for m in created})
    return {key: existing[email] for key, email in emails.items()}


# --- the campaigns --------------------------------------------------------------------------
def ensure_demo_campaigns(people, report, *, now):
    """Create the demo campaigns that are missing, finish any a cut-short run left half-made,
    and move the live ones' dates on."""
    tokens = {_creation_token(spec.slug): spec.slug for spec in CAMPAIGNS}
    existing = {}
    for campaign in Campaign.objects.filter(
        Q(slug__in=tokens.values()) | Q(creation_token__in=tokens)
    ):
        existing[tokens.get(campaign.creation_token, campaign.slug)] = campaign
    for spec in CAMPAIGNS:
        campaign = existing.get(spec.slug)
        if campaign is None:
            campaign = _create(spec, people, now=now, launch_at=_launch_time(spec, now))
            report.created += 1
        elif spec.state == "live" and campaign.status == Status.LIVE:
            report.refreshed += _refresh(campaign, spec, now)
        if spec.state in LAUNCHED:
            report.pledges += _ensure_pledges(campaign, spec, people, now=now)
            _finish(campaign, spec, people, now=now)


def _creation_token(slug):
    return uuid.uuid5(_TOKEN_NAMESPACE, slug)


def _euros(amount):
    return int(round(amount * 100))


def _schedule(spec, now):
    """(launched_at, deadline) of the story, relative to now (deadline None: the end date's)."""
    launched_at = now - timedelta(days=spec.launched_days_ago)
    if spec.end_in_days:
        return launched_at, None
    return launched_at, launched_at + timedelta(days=spec.duration_days)


def _launch_time(spec, now):
    """When campaigns.services.launch is told the campaign launched (None: not launched).

    An ended campaign launches so that its deadline is PLEDGING_MARGIN ahead (it takes its
    pledges on the real clock); _finish moves its dates back to the story's afterwards."""
    if spec.state not in LAUNCHED:
        return None
    if spec.state in ENDED:
        return now - timedelta(days=spec.duration_days) + PLEDGING_MARGIN
    return _schedule(spec, now)[0]


def _create(spec, people, *, now, launch_at, slug=None):
    """Draft the campaign as its organizer would, then walk it through review (and launch)."""
    slug = slug or spec.slug
    organizer = people[spec.organizer]
    with transaction.atomic():
        campaign = campaigns.start_campaign(
            organizer=organizer, title=spec.title, creation_token=_creation_token(slug)
        )
        if campaign.slug != slug:  # the service makes slugs from titles; the demo's are fixed
            Campaign.objects.filter(pk=campaign.pk).update(slug=slug)
            campaign.slug = slug
        campaigns.update_basics(
            campaign,
            by=organizer,
            title=spec.title,
            summary=spec.summary,
            category=spec.category,
            location=spec.location,
        )
        # Terms are validated against "today": the end date is the story's, from today.
        end_date = (now + timedelta(days=spec.end_in_days)).date() if spec.end_in_days else None
        campaigns.update_funding(
            campaign,
            by=organizer,
            goal_minor=_euros(spec.goal),
            currency="EUR",
            funding_model=spec.funding_model,
            duration_days=None if end_date else spec.duration_days,
            end_date=end_date,
        )
        cover = ContentFile(cover_image(spec.category, slug, motif=spec.motif), name="cover.jpg")
        campaigns.update_story(campaign, by=organizer, story=spec.story.strip(), cover=cover)
        for reward in spec.rewards:
            campaigns.save_reward(
                campaign,
                by=organizer,
                title=reward.title,
                description=reward.description,
                minimum_minor=_euros(reward.minimum),
                quantity_limit=reward.limit,
                estimated_delivery=_month_start(
                    now, reward.months_ahead - spec.launched_days_ago / 30
                ),
            )
        for label, amount, required in spec.budget:
            campaigns.save_budget_item(
                campaign, by=organizer, label=label, amount_minor=_euros(amount), required=required
            )
        for amount, description in spec.stretch:
            campaigns.save_stretch_goal(
                campaign, by=organizer, amount_minor=_euros(amount), description=description
            )
        if spec.co_organizer:
            helper = people[spec.co_organizer]
            invitation = campaigns.invite_collaborator(campaign, by=organizer, email=helper.email)
            campaigns.accept_invitation(invitation.token, member=helper)
        campaign = _review(campaign, spec, people, now=now, launch_at=launch_at)
    return campaign


def _review(campaign, spec, people, *, now, launch_at):
    """Submit, review and launch as far as the spec's state (content is in place)."""
    organizer, admin = people[spec.organizer], people["admin"]
    story_launch = _schedule(spec, now)[0] if spec.state in LAUNCHED else None
    drafted = (story_launch or launch_at or now) - timedelta(days=6)
    Campaign.objects.filter(pk=campaign.pk).update(created_at=drafted)
    if spec.state == "draft":
        return campaign
    campaigns.submit_for_review(campaign, by=organizer)
    submitted = now - timedelta(days=spec.submitted_days_ago)
    if story_launch or launch_at:
        submitted = (story_launch or launch_at) - timedelta(days=2)
    Campaign.objects.filter(pk=campaign.pk).update(submitted_at=submitted)
    if spec.state == "in_review":
        return campaign
    if spec.state == "changes_requested":
        return campaigns.request_changes(campaign, by=admin, note=spec.note)
    if spec.state == "rejected":
        return campaigns.reject(campaign, by=admin, note=spec.note)
    campaign = campaigns.approve(
        campaign, by=admin, note=spec.note if spec.state == "approved" else ""
    )
    if launch_at is None:
        return campaign
    campaign = campaigns.launch(campaign, by=organizer, now=launch_at)
    if spec.featured:
        campaigns.set_featured(campaign, by=admin, featured=True)
    return campaign


def _refresh(campaign, spec, now):
    """Keep a live demo campaign live with the time left it was designed with; its pledges'
    times move with it. Returns 1 (it counts as refreshed)."""
    launched_at, deadline = _schedule(spec, now)
    end_date = campaign.end_date
    if spec.end_in_days:
        end_date = campaign.end_date = (now + timedelta(days=spec.end_in_days)).date()
        deadline = campaign.planned_deadline(launched_at)
    Campaign.objects.filter(pk=campaign.pk).update(
        launched_at=launched_at, deadline=deadline, end_date=end_date
    )
    campaign.launched_at, campaign.deadline = launched_at, deadline
    _spread_pledge_times(campaign, launched_at, now)
    return 1


def _month_start(now, months_ahead):
    months = max(1, math.ceil(months_ahead))
    year, month = divmod(now.month - 1 + months, 12)
    return date(now.year + year, month + 1, 1)


# --- pledges --------------------------------------------------------------------------------
@dataclass
class PlannedPledge:
    supporter: Member
    amount_minor: int
    reward: object = None
    card: str = CARD_OK
    anonymous: bool = False
    message: str = ""
    # Where the supporter came from (demo.community.with_origins), as the pledge page passes it.
    referral_code: str = ""
    referral_source: str = ""
    share_email_with_organizer: bool = False


def _pledge_amounts(total_minor, count, rng):
    """`count` whole-euro amounts adding up to about `total_minor`, varied like real pledges."""
    weights = [rng.choice([0.5, 0.8, 1, 1, 1.5, 2, 3, 6]) for _ in range(count)]
    scale = total_minor / sum(weights)
    amounts = [max(500, int(w * scale) // 100 * 100) for w in weights]
    amounts[amounts.index(max(amounts))] += max(0, total_minor - sum(amounts)) // 100 * 100
    return amounts


def plan_pledges(campaign, spec, people):
    """The spec's pledges, the same on every run (random.Random seeded by the slug)."""
    if not spec.supporters:
        return []
    rng = random.Random(spec.slug)
    pool = [
        member
        for key, member in sorted(people.items())
        if key not in ("admin", spec.organizer, spec.co_organizer)
    ]
    rng.shuffle(pool)
    supporters = pool[: spec.supporters]
    amounts = sorted(
        _pledge_amounts(_euros(spec.goal * spec.progress), len(supporters), rng), reverse=True
    )
    rewards = list(campaign.rewards.order_by("-minimum_minor", "pk"))
    stock = {r.pk: r.quantity_limit for r in rewards}
    sell_out_titles = {reward.title for reward in spec.rewards if reward.sell_out}
    sell_out = {r.pk for r in rewards if r.title in sell_out_titles}
    planned = []
    for supporter, amount in zip(supporters, amounts, strict=True):
        reward = _pick_reward(rewards, stock, sell_out, amount, rng)
        if reward is None and not campaign.allow_no_reward:
            reward = rewards[-1]
        if reward is not None and amount < reward.minimum_minor:
            amount = reward.minimum_minor
        if reward is not None and stock[reward.pk] is not None:
            stock[reward.pk] -= 1
        planned.append(
            PlannedPledge(
                supporter=supporter,
                amount_minor=amount,
                reward=reward,
                anonymous=rng.random() < 0.1,
                message=rng.choice(MESSAGES),
            )
        )
    return demo_community.with_origins(campaign, spec, planned)


def _pick_reward(rewards, stock, sell_out, amount, rng):
    """The reward a supporter of `amount` would choose: a sell-out first, then the best fit."""
    affordable = [
        r for r in rewards if r.minimum_minor <= amount and (stock[r.pk] is None or stock[r.pk] > 0)
    ]
    for reward in affordable:
        if reward.pk in sell_out:
            return reward
    choice = rng.random()
    if choice < 0.15:
        return None  # some people just want to help
    if affordable:
        # Most take the best reward their pledge allows; some a humbler one and give extra.
        return rng.choice(affordable) if choice < 0.4 else affordable[0]
    # Below every minimum: the cheapest reward with stock left (the amount is raised to it).
    in_stock = [r for r in rewards if stock[r.pk] is None or stock[r.pk] > 0]
    return in_stock[-1] if in_stock else None


def _ensure_pledges(campaign, spec, people, *, now, planned=None):
    """Make the planned pledges that were never active (all of them on a first run) while the
    campaign is live; the story's pledge times follow. Returns how many became active."""
    campaign.refresh_from_db()
    if campaign.status != Status.LIVE or campaign.has_ended:
        return 0
    planned = plan_pledges(campaign, spec, people) if planned is None else planned
    # A pledge that was active counts as made, even if someone trying the demo cancelled it.
    done = set(
        campaign.pledges.filter(activated_at__isnull=False).values_list("supporter_id", flat=True)
    )
    made = 0
    for plan in planned:
        if plan.supporter.pk not in done:
            made += make_pledge(campaign, plan).status == Pledge.Status.ACTIVE
    if made and spec is not ENDING_SOON:
        start, end = _schedule(spec, now)
        _spread_pledge_times(campaign, start, min(now, end or now))
    return made


def make_pledge(campaign, plan):
    """One pledge as the pledge page makes it: start (SetupIntent), the card form saves the
    card at the provider, confirm (attached to the supporter's customer, pledge active)."""
    pledge = pledges.start_pledge(
        campaign,
        supporter=plan.supporter,
        amount_minor=plan.amount_minor,
        reward=plan.reward,
        anonymous=plan.anonymous,
        message=plan.message,
        share_email_with_organizer=plan.share_email_with_organizer,
        referral_code=plan.referral_code,
        referral_source=plan.referral_source,
        idempotency_key=_pledge_key(campaign, plan.supporter),
    )
    if pledge.status != Pledge.Status.PENDING:
        return pledge  # a cut-short run had made it
    browser.save_card(pledge.setup_intent_id, pledge.client_secret, plan.card)
    return pledges.confirm_card(pledge, by=plan.supporter)


def _pledge_key(campaign, supporter):
    """The same key on every run: a pledge a cut-short run started is picked up, not doubled."""
    return f"demo-{uuid.uuid5(_TOKEN_NAMESPACE, f'{campaign.slug}/{supporter.email}').hex}"


def _spread_pledge_times(campaign, start, end):
    """The story's times: the campaign's pledges evenly over [start, end], in the order made."""
    rows = list(campaign.pledges.order_by("pk"))
    if not rows:
        return
    span = max((end - start).total_seconds(), 3600)
    for index, pledge in enumerate(rows):
        at = start + timedelta(seconds=span * (index + 0.5) / len(rows))
        pledge.created_at = at
        if pledge.activated_at is not None:
            pledge.activated_at = at
    Pledge.objects.bulk_update(rows, ["created_at", "activated_at"])


# --- endings --------------------------------------------------------------------------------
def _finish(campaign, spec, people, *, now):
    """Take a launched campaign to the spec's end: closed and settled, or cancelled."""
    campaign.refresh_from_db()
    if spec.state == "cancelled" and campaign.status == Status.LIVE:
        campaign = campaigns.cancel(campaign, by=people[spec.organizer], reason=spec.note)
    if spec.state in ENDED and campaign.status == Status.LIVE:
        launched_at, deadline = _schedule(spec, now)
        # Time passes: the campaign ran its course (module docstring, "back-dated").
        Campaign.objects.filter(pk=campaign.pk).update(launched_at=launched_at, deadline=deadline)
        _spread_pledge_times(campaign, launched_at, deadline)
        campaign = settlement.close_campaign(campaign, now=deadline)
    unfinished = campaign.status == Status.SETTLING or (
        campaign.status in (Status.FAILED, Status.CANCELLED)
        and campaign.pledges.filter(status__in=Pledge.OPEN_STATUSES).exists()
    )
    if unfinished:
        settle(campaign)


def settle(campaign):
    """What beat and the workers do with a closed or cancelled campaign, done now: decide
    (release, or queue for charging), charge, finish. Each step is safe to repeat, and the
    in-process tasks the services scheduled after commit may have done it already."""
    settlement.settle_campaign(campaign)
    charging = Pledge.objects.filter(campaign=campaign, status=Pledge.Status.CHARGING)
    for pledge_id in charging.values_list("pk", flat=True):
        settlement.charge_pledge(pledge_id)
    settlement.finish_settled_campaigns()


# --- the campaign that ends two minutes after seeding ----------------------------------------
def _ending_soon_generation(campaign):
    suffix = campaign.slug.removeprefix(ENDING_SOON.slug)
    return int(suffix[1:]) if suffix[1:].isdigit() else 1


def ensure_ending_soon(people, report):
    """The ENDING_SOON campaign: the latest one if it is still live (its pledges completed),
    else a new one launched a day before a deadline two minutes from now, with its three
    pledges. Returns (campaign, created)."""
    made = Campaign.objects.filter(
        Q(slug=ENDING_SOON.slug) | Q(slug__startswith=f"{ENDING_SOON.slug}-")
    )
    latest = max(made, key=_ending_soon_generation, default=None)
    now = timezone.now()
    created = latest is None or not (
        latest.status == Status.LIVE and latest.deadline > now + ENDING_SOON_KEPT_IF_LEFT
    )
    campaign = latest
    if created:
        generation = _ending_soon_generation(latest) + 1 if latest is not None else 1
        slug = ENDING_SOON.slug if generation == 1 else f"{ENDING_SOON.slug}-{generation}"
        deadline = now + timedelta(minutes=ENDING_SOON_MINUTES)
        launch_at = deadline - timedelta(days=ENDING_SOON.duration_days)
        campaign = _create(ENDING_SOON, people, now=now, launch_at=launch_at, slug=slug)
        report.created += 1
    rewards = list(campaign.rewards.order_by("-minimum_minor", "pk"))
    planned = [
        PlannedPledge(
            supporter=people[key],
            amount_minor=_euros(euros),
            reward=next((r for r in rewards if r.minimum_minor <= _euros(euros)), None),
            card=card,
        )
        for key, euros, card in ENDING_SOON_PLEDGES
    ]
    report.pledges += _ensure_pledges(campaign, ENDING_SOON, people, now=now, planned=planned)
    campaign.refresh_from_db()
    return campaign, created
