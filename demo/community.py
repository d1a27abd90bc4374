"""The demo's community, made through community's and pledges' services as its people would have
made it: organizers' updates (one supporters-only, one turning public on a later date), comments
from supporters and passers-by with the team's replies, a comment the organizer hid, a report
waiting in the admin's queue, follows (also of the approved campaign that launches soon), the
funded campaign's rewards marked sent, and where pledges came from (`with_origins`, which
demo.seeding's pledges carry to pledges.services.start_pledge).

Safe to repeat. An update is found by its campaign and title, a comment by its campaign and text,
so a second run makes nothing and a run cut short is finished by the next; follows and reward
markings are idempotent in their services. Who says what is picked when it is first made
(supporters are members with a supporting pledge, passers-by members without one), never again.

What is back-dated, as in demo.seeding ("what only says *when*"): comments are posted, hidden
and reported with the service's `now=` at their place in the story (days after the launch), so
the comment throttle counts them as spread over weeks, as they would have been; they are posted
in that order across campaigns, so the throttle never sees a comment from its "future". An update
is posted with post_update's `now=` at its day. Live
campaigns' dates move on every run (demo.seeding._refresh), and with them, like their pledges'
times, the times of their updates, comments and reports. Follows of live campaigns are made
with follow's `now=` the day after the launch; those of the approved one when the demo is made.
Email goes where demo.seeding.quiet_side_effects sends it (the dummy backend): each update's
fan-out to supporters and followers, the team's comment emails, replies; the follower sweep is
run once here, so the 48-hour reminders of the campaign ending within a day go there too rather
than to the terminal when beat first runs.
"""

import random
from dataclasses import dataclass, field
from datetime import timedelta

from django.utils import timezone

from campaigns.models import Campaign
from community import comments as comment_services
from community import follows as follow_services
from community import reports as report_services
from community import updates as update_services
from community.audience import supporting_pledges
from community.models import Comment, Follow, Update
from community.models import Report as CommentReport
from core.models import AuditEvent
from demo.specs import CAMPAIGNS
from pledges import fulfilment
from pledges.models import Pledge
from pledges.referrals import code_for

Audience = Update.Audience

# Who says it: the campaign's organizer or co-organizer, one of its supporters (a member with a
# supporting pledge, so the "Supporter" badge shows) or a passer-by (a member without a pledge).
ORGANIZER, CO_ORGANIZER = "organizer", "co-organizer"
SUPPORTER, PASSER_BY = "supporter", "passer-by"
# A comment's time is capped this long before now (a story day that falls in the future).
LATEST = timedelta(minutes=5)
# A comment comes up to this many minutes after its day's time; replies are planned at least
# 0.2 days (4.8 hours) after what they answer, so they stay after it.
COMMENT_MINUTES = 120


@dataclass
class PlannedUpdate:
    title: str
    body: str
    day: float  # days after the launch
    audience: str = Audience.PUBLIC
    public_in_days: float | None = None  # supporters-only, public this many days after seeding
    by: str = ORGANIZER


@dataclass
class PlannedComment:
    body: str
    by: str
    day: float  # days after the launch
    reply_to: int | None = None  # index of the comment (in the campaign's list) it answers
    on_update: int | None = None  # index of the update whose thread it is in
    hidden_for: str = ""  # the organizer hides it (a few hours later) with this reason
    reported_as: tuple | None = None  # (reason, note): a supporter reports it, left open


@dataclass
class CampaignCommunity:
    slug: str
    updates: list = field(default_factory=list)
    comments: list = field(default_factory=list)
    followers: int = 0  # passers-by who follow it (and one supporter)
    rewards_sent: tuple = ()  # (reward title, how many, tracking format) marked sent


@dataclass
class Made:
    """What a run made (all zero on a second run)."""

    updates: int = 0
    comments: int = 0
    hidden: int = 0
    reports: int = 0
    follows: int = 0
    rewards_sent: int = 0
    reminders: int = 0


# The member keys (demo.specs) who follow the approved campaign before it launches, and the
# demo's own supporter login among them, so "Following" shows when they log in.
LAUNCHING_SOON = "schaerbeek-homework-club"
LAUNCHING_SOON_FOLLOWERS = ("supporter", "amira", "youssef", "nadia", "mehdi", "chloe")

# --- what they say ------------------------------------------------------------------------------
COMMUNITY = [
    CampaignCommunity(
        slug="repair-cafe-on-wheels",
        followers=4,
        updates=[
            PlannedUpdate(
                "Thank you for a flying start",
                """We launched yesterday morning and by the evening dozens of you had pledged.
Thank you! Here is what happens next:

- **This week** we test-ride three cargo bikes with the trailer hitched on.
- **Next Saturday** the Repair Café in Dampoort is open as usual: come and say hello.
- **Every day** you can help by sharing the campaign with one neighbour.

We need to reach the goal for anything to happen, so every share counts.""",
                day=1,
            ),
            PlannedUpdate(
                "Meet the trailer (and the people building it)",
                """Our volunteer carpenters have drawn the trailer, and it is cleverer than we
hoped. The workbench folds out of the left side, the sewing machine slides out on a drawer, and
the bike stand clips onto the back.

What goes inside:

1. a soldering station and a multimeter,
2. a sewing machine and a box of fabric scraps,
3. the fifty spare parts we use most (bike tubes, fuses, zips).

Curious how other towns do it? The [Repair Café Foundation](https://www.repaircafe.org/en/)
keeps a map of more than 2,000 Repair Cafés.""",
                day=8,
                by=CO_ORGANIZER,
            ),
            PlannedUpdate(
                "For supporters: the first route, street by street",
                """You are the first to know where the trailer goes first:

- **Week 1:** Rabot, on the square by the Wittemolenstraat
- **Week 2:** Nieuw Gent, outside the community centre
- **Week 3:** Ledeberg, Hundelgemsesteenweg market
- **Week 4:** Brugse Poort, Pierkespark
- **Week 5:** Sint-Amandsberg, Oude Bareel

We will announce the route to everyone once the campaign is funded. Until then, keep it
between us and bring your broken things!""",
                day=14,
                audience=Audience.SUPPORTERS,
            ),
        ],
        comments=[
            PlannedComment(
                "Finally! My grandmother's radio has been waiting for this for two years.",
                by=SUPPORTER,
                day=0.3,
            ),
            PlannedComment(
                "Bring it on the first Saturday. Lotte is our radio person, she will love it.",
                by=ORGANIZER,
                day=0.5,
                reply_to=0,
            ),
            PlannedComment(
                "Will you also come to Gentbrugge? It is just outside the ring.",
                by=PASSER_BY,
                day=2,
            ),
            PlannedComment(
                "Not in the first round, but if we reach the stretch goal we add two more "
                "neighbourhoods, and Gentbrugge is at the top of the list.",
                by=CO_ORGANIZER,
                day=2.4,
                reply_to=2,
            ),
            PlannedComment(
                "I can volunteer on Saturdays: I am good with bikes. Who do I talk to?",
                by=SUPPORTER,
                day=5,
            ),
            PlannedComment(
                "Thank you! Come to the Repair Café in Dampoort any first Sunday of the month "
                "and ask for Olivia. We *always* need bike people.",
                by=ORGANIZER,
                day=5.2,
                reply_to=4,
            ),
            PlannedComment(
                "Why repair when you can buy new? Best prices on phones at "
                "www.cheap-phones-4u.example, free delivery!",
                by=PASSER_BY,
                day=9,
                hidden_for="Advertising, not about this campaign.",
            ),
            PlannedComment(
                "Shared it in our street's WhatsApp group. Two neighbours pledged already!",
                by=SUPPORTER,
                day=12,
            ),
            PlannedComment(
                "Love the fold-out workbench. Is there room for the sewing machine *and* the "
                "soldering station at the same time?",
                by=SUPPORTER,
                day=8.5,
                on_update=1,
            ),
            PlannedComment(
                "Yes: the sewing machine has its own drawer, so both can be out at once.",
                by=CO_ORGANIZER,
                day=8.7,
                on_update=1,
                reply_to=8,
            ),
            PlannedComment(
                "Rabot first, great choice. I will bring the coffee.",
                by=SUPPORTER,
                day=14.5,
                on_update=2,
            ),
        ],
    ),
    CampaignCommunity(
        slug="rooftop-garden-sint-amandsberg",
        followers=3,
        updates=[
            PlannedUpdate(
                "The children have chosen what to plant",
                """Every class voted, and the results are in:

- **Class 1A and 1B:** strawberries (of course)
- **Class 2A:** radishes and lettuce, "because they grow fast"
- **Class 3B:** pumpkins for the autumn party
- **Class 4A:** herbs for the school kitchen
- **Classes 5 and 6:** tomatoes, beans and courgettes

Noor, who wanted strawberries on the roof, is very happy.""",
                day=2,
            ),
            PlannedUpdate(
                "We passed our goal: hello, stretch goals!",
                """In just over two weeks you funded the whole garden. Thank you!

Because this is a flexible campaign, everything you pledge from now on goes further:

1. **€5,500:** a second rain barrel, so the garden survives a dry summer
2. **€6,500:** a beehive, looked after by a beekeeper from Oostakker
3. **€8,000:** a small greenhouse for seedlings in winter

The children have already started drawing bees.""",
                day=16,
            ),
            PlannedUpdate(
                "Supporters first: you are invited to planting day",
                """Before we tell everyone: you are invited to help us plant the first beds.

- **When:** the Saturday after next, from 10:00 to 13:00
- **Where:** De Klimtoren, enter through the playground gate
- **Bring:** gloves, and children if you have them

Soup and bread from the school kitchen at one o'clock. We will share this invitation with
everyone in ten days, so come early for the best bed!""",
                day=19,
                audience=Audience.SUPPORTERS,
                public_in_days=10,
            ),
        ],
        comments=[
            PlannedComment(
                "My daughter is in class 3B and she has talked about nothing else all week.",
                by=SUPPORTER,
                day=1,
            ),
            PlannedComment(
                "Tell her to get ready: class 3B is growing the pumpkins for the autumn party!",
                by=ORGANIZER,
                day=2.2,
                reply_to=0,
            ),
            PlannedComment(
                "Is the roof really safe for children? An honest question from a worried "
                "grandparent.",
                by=PASSER_BY,
                day=6,
            ),
            PlannedComment(
                "A fair question! An engineer checked the structure in spring, and the railing "
                "(1.2 metres, as the rules for schools ask) goes up before any child sets foot "
                "on the roof. The engineer's report is pinned at the school gate.",
                by=ORGANIZER,
                day=6.2,
                reply_to=2,
            ),
            PlannedComment(
                "Over the goal already! Well done everyone. Can the children name the bees?",
                by=SUPPORTER,
                day=16.5,
            ),
            PlannedComment(
                "Would you take seeds as a donation? I have far too many tomato seeds.",
                by=PASSER_BY,
                day=15,
            ),
            PlannedComment(
                "Yes please! Drop them at the school office, marked **roof garden**.",
                by=ORGANIZER,
                day=15.3,
                reply_to=5,
            ),
            PlannedComment(
                "Strawberries for the youngest, of course. Good choice, 1A and 1B!",
                by=SUPPORTER,
                day=2.5,
                on_update=0,
            ),
        ],
    ),
    CampaignCommunity(
        slug="leuven-bike-library",
        followers=4,
        updates=[
            PlannedUpdate(
                "25 bikes, 60 children waiting: a look inside the garage",
                """Our garage in Kessel-Lo is full: 25 bikes, from 12-inch balance bikes to
26-inch teenager bikes. Every one was donated, and every one has been checked by a volunteer.

What we learned in our first year:

- the **16-inch** and **20-inch** bikes are always out: that is where the 40 new bikes go,
- helmets go missing, so every bike now comes with its own,
- families swap bikes on Saturday mornings, so the workshop opens then.""",
                day=3,
            ),
            PlannedUpdate(
                "We found a workshop (if we make it)",
                """A bike shop on the Diestsesteenweg is moving, and the owner offered us the
back room for a year at a neighbourly price. It has a workbench, a sink and space for 60 bikes.

We can only sign if the campaign reaches its goal, so please share it once more. You can read
how other bike libraries work on the [Fietsbieb](https://www.fietsbieb.be/) website.""",
                day=20,
            ),
            PlannedUpdate(
                "The last day: we are almost there",
                """One day to go and we are very close. If everyone who reads this asks one
neighbour, we make it.

- Share the campaign in your school's parents' group.
- Tell your colleagues with young children.
- Ring your bell for us!""",
                day=29,
            ),
        ],
        comments=[
            PlannedComment(
                "We borrowed a bike from your garage last year and it was perfect. Happy to "
                "help you grow.",
                by=SUPPORTER,
                day=1,
            ),
            PlannedComment(
                "Thank you! Come by for a check-up whenever it needs one.",
                by=ORGANIZER,
                day=1.2,
                reply_to=0,
            ),
            PlannedComment(
                "Do you also have bikes for children with a disability, like tricycles?",
                by=PASSER_BY,
                day=7,
            ),
            PlannedComment(
                "Not yet, but two of the 40 new bikes will be adapted tricycles. A "
                "physiotherapist from the hospital is helping us choose them.",
                by=ORGANIZER,
                day=7.3,
                reply_to=2,
            ),
            PlannedComment(
                "Selling kids' bikes cheap, all sizes! Message me at bikedeals-leuven dot be.",
                by=PASSER_BY,
                day=16,
                reported_as=("spam", "Advertising, not about the library."),
            ),
            PlannedComment(
                "One more day and so close! Sharing it again at school today.",
                by=SUPPORTER,
                day=28.8,
            ),
            PlannedComment(
                "Just told the whole class group. Go go go!",
                by=SUPPORTER,
                day=29.1,
                on_update=2,
            ),
        ],
    ),
    CampaignCommunity(
        slug="liege-parish-hall-solar",
        rewards_sent=(
            ("Sunny thank-you", 4, "bpost 3232999010{pk:08d}"),
            ("Co-op share", 5, "Share register no. 2026-{pk:04d}"),
        ),
        updates=[
            PlannedUpdate(
                "The roof passed its inspection",
                """Good news from the roofer: the south side of the parish hall can carry
all 60 panels. The inspection report is pinned in the hall, next to the choir's rota.

What the inspection checked:

- the beams and the tiles, one by one,
- the fixing points for the panel rails,
- the route of the cables to the meter cupboard.""",
                day=5,
            ),
            PlannedUpdate(
                "We did it: 60 panels for Sainte-Marguerite!",
                """The campaign is funded. Thank you, every one of you!

What happens now:

1. **This week:** the panels and the inverter are ordered from SolarCoop Liège.
2. **In a few weeks:** installation, if the weather is kind.
3. **After that:** the thank-you cards go in the post, and the co-op shares are registered.

You can follow every euro on the campaign's money page, where every payment in and out is
listed.""",
                day=45.2,
            ),
            PlannedUpdate(
                "Supporters: installation day and your thank-you cards",
                """The roofers start on Monday at 8:00. You are welcome to watch from the
garden (from a safe distance, they insist). The plan for the week:

- **Monday and Tuesday:** the rails go on the roof,
- **Wednesday:** the 60 panels, if it does not rain,
- **Thursday:** the inverter, and the electrician connects everything.

The first thank-you cards went in the post this week.""",
                day=52,
                audience=Audience.SUPPORTERS,
            ),
        ],
        comments=[
            PlannedComment(
                "Our choir rehearses in the hall every Thursday, and the heating bill was "
                "killing it. Merci!",
                by=SUPPORTER,
                day=2,
            ),
            PlannedComment(
                "Merci à vous! The choir is exactly who this is for.",
                by=ORGANIZER,
                day=2.3,
                reply_to=0,
            ),
            PlannedComment(
                "How much will the hall actually save in a year?",
                by=PASSER_BY,
                day=20,
            ),
            PlannedComment(
                "About four thousand euros a year at today's prices, and all of it goes into "
                "lower rents for the neighbourhood groups.",
                by=ORGANIZER,
                day=20.4,
                reply_to=2,
            ),
            PlannedComment(
                "Congratulations! When can we see the panels?",
                by=SUPPORTER,
                day=45.6,
            ),
            PlannedComment(
                "Installation starts in a few weeks: we will post an update with the date.",
                by=ORGANIZER,
                day=45.9,
                reply_to=4,
            ),
            PlannedComment(
                "My card arrived today. Thank you, it is on our fridge!",
                by=SUPPORTER,
                day=54,
                on_update=2,
            ),
        ],
    ),
]


# --- where pledges came from ----------------------------------------------------------------------
# Share links' utm_source (community.sharing.CHANNELS), as often as people use them.
SOURCES = ["facebook"] * 3 + ["whatsapp"] * 3 + ["email"] * 2 + ["x"]


def with_origins(campaign, spec, planned):
    """The planned pledges (demo.seeding.plan_pledges) with where each supporter came from, the
    same on every run: about half from a share link (its utm_source), most of those with the
    referral code of whoever shared it (the organizer, or one of the first two supporters, who
    pledged before them), and a third of those with a reward consenting to share their email
    with the organizer for its delivery. Returns `planned`."""
    rng = random.Random(f"origin/{spec.slug}")  # its own: plan_pledges' draws stay as they were
    sharers = [campaign.organizer, *(plan.supporter for plan in planned[:2])]
    for index, plan in enumerate(planned):
        if index >= 3 and rng.random() < 0.5:
            plan.referral_source = rng.choice(SOURCES)
            if rng.random() < 0.7:
                plan.referral_code = code_for(rng.choice([sharers[0], *sharers]))
        plan.share_email_with_organizer = plan.reward is not None and rng.random() < 0.35
    return planned


# --- making it ------------------------------------------------------------------------------------
def ensure_demo_community(people, *, now=None, plans=COMMUNITY):
    """Make whatever of the demo's community is missing (and keep its story's times); returns
    a Made. Campaigns that are not there, or not public (its updates and comments need a
    public campaign), are skipped."""
    now = now or timezone.now()
    specs = {spec.slug: spec for spec in CAMPAIGNS}
    made = Made()
    found = {c.slug: c for c in Campaign.objects.filter(slug__in=[p.slug for p in plans])}
    stories = []
    for plan in plans:
        campaign = found.get(plan.slug)
        if campaign is None or not campaign.is_public:
            continue
        story = _Story(plan, campaign, specs[plan.slug], people, now=now)
        made.follows += story.ensure_follows()
        made.updates += story.ensure_updates()
        stories.append(story)
    made.comments, made.hidden, made.reports = _ensure_comments(stories)
    for story in stories:
        story.keep_comment_times()
        made.rewards_sent += story.ensure_rewards_sent()
    made.follows += _ensure_launching_soon_followers(people)
    # What beat's follower sweep would do with these follows (the module's docstring).
    swept = follow_services.send_follower_emails()
    made.reminders = swept["reminder"]["queued"]
    return made


class _Story:
    """One campaign's community: who is who, and its planned updates and comments."""

    def __init__(self, plan, campaign, spec, people, *, now):
        self.plan, self.campaign, self.now = plan, campaign, now
        self.organizer = people[spec.organizer]
        self.co_organizer = people.get(spec.co_organizer) if spec.co_organizer else None
        team = {self.organizer.pk, *([self.co_organizer.pk] if self.co_organizer else [])}
        pledged = set(campaign.pledges.values_list("supporter_id", flat=True))
        supporting = set(supporting_pledges(campaign).values_list("supporter_id", flat=True))
        # People in a stable order, shuffled per campaign so each has its own voices.
        members = [m for _key, m in sorted(people.items()) if not m.is_staff and m.pk not in team]
        rng = random.Random(f"community/{plan.slug}")
        rng.shuffle(members)
        self.voices = {
            SUPPORTER: [m for m in members if m.pk in supporting],
            PASSER_BY: [m for m in members if m.pk not in pledged],
        }
        self.updates = {}  # index in plan.updates: Update
        self.comments = {}  # index in plan.comments: Comment

    def at(self, day):
        """The story's moment `day` days after the launch (never later than just now)."""
        return min(self.campaign.launched_at + timedelta(days=day), self.now - LATEST)

    def comment_at(self, index):
        """When the planned comment was posted: its day, and some minutes past the hour its
        text picks (comments do not all arrive on the same minute of the clock)."""
        planned = self.plan.comments[index]
        minutes = random.Random(planned.body).randrange(COMMENT_MINUTES)
        return self.at(planned.day + minutes / (24 * 60))

    def member(self, role, index):
        if role == ORGANIZER:
            return self.organizer
        if role == CO_ORGANIZER:
            return self.co_organizer or self.organizer
        voices = self.voices[role]
        return voices[index % len(voices)] if voices else None

    # follows
    def ensure_follows(self):
        """Passers-by (plan.followers) and one supporter follow the campaign, from the day
        after its launch (a follow made inside the last 48 hours gets no reminder)."""
        followers = self.voices[PASSER_BY][: self.plan.followers]
        if self.plan.followers and self.voices[SUPPORTER]:
            followers.append(self.voices[SUPPORTER][-1])
        return _follow(self.campaign, followers, now=self.at(1))

    # updates
    def ensure_updates(self):
        """Post the planned updates not posted yet, in their order (their numbers follow),
        and put each at its day (the module's docstring: post_update takes no time, and a live
        campaign's dates move on every run)."""
        titles = {u.title: u for u in Update.objects.filter(campaign=self.campaign)}
        posted = 0
        for index, planned in enumerate(self.plan.updates):
            update = titles.get(planned.title)
            at = self.at(planned.day)
            if update is None:
                public_from = None
                if planned.public_in_days is not None:
                    public_from = timezone.now() + timedelta(days=planned.public_in_days)
                update = update_services.post_update(
                    self.campaign,
                    by=self.member(planned.by, index),
                    title=planned.title,
                    body=planned.body,
                    audience=planned.audience,
                    public_from=public_from,
                    now=at,
                )
                # The fan-out task ran at commit (in-process while seeding); where it could not
                # (a test's transaction), it runs here, as the sweep would run it later.
                update_services.fan_out(update.pk)
                posted += 1
            if update.published_at != at:  # a later run: the campaign's dates moved
                Update.objects.filter(pk=update.pk).update(published_at=at)
                update.published_at = at
            self.updates[index] = update
        return posted

    def find_comments(self):
        """The planned comments made already (by campaign and text)."""
        planned_bodies = [planned.body for planned in self.plan.comments]
        found = {
            comment.body: comment
            for comment in Comment.objects.filter(campaign=self.campaign, body__in=planned_bodies)
        }
        for index, body in enumerate(planned_bodies):
            if body in found:
                self.comments[index] = found[body]

    def ensure_hidden(self, index, comment):
        """The organizer hides the comment planned hidden, once: a comment moderators showed
        again (unhide_comment) stays shown. Returns 1 when it hid it."""
        reason = self.plan.comments[index].hidden_for
        if not reason or comment.is_hidden:
            return 0
        if AuditEvent.objects.filter(action="comment:hidden", target_id=str(comment.pk)).exists():
            return 0
        at = self.comment_at(index)
        comment_services.hide_comment(comment, by=self.organizer, reason=reason, now=_hidden_at(at))
        return 1

    def ensure_reported(self, index, comment):
        """A supporter reports the comment planned reported, once: a report the admin resolved
        is not filed again. Returns 1 when it filed it."""
        planned = self.plan.comments[index]
        reporter = self.member(SUPPORTER, index)
        if not planned.reported_as or reporter is None or comment.reports.exists():
            return 0
        reason, note = planned.reported_as
        filed = report_services.report(
            comment, by=reporter, reason=reason, note=note, now=_reported_at(self.comment_at(index))
        )
        return int(filed.created)

    def keep_comment_times(self):
        """Put the comments (and their hiding and report) at their days: a live campaign's
        dates moved since they were made (demo.seeding._refresh). Only what says *when*."""
        for index, comment in self.comments.items():
            planned = self.plan.comments[index]
            at = self.comment_at(index)
            times = {"created_at": at}
            if comment.hidden_at is not None:
                times["hidden_at"] = _hidden_at(at)
            if any(getattr(comment, name) != value for name, value in times.items()):
                Comment.objects.filter(pk=comment.pk).update(**times)
            if planned.reported_as:
                CommentReport.objects.filter(
                    comment=comment, status=CommentReport.Status.OPEN
                ).exclude(created_at=_reported_at(at)).update(created_at=_reported_at(at))

    # rewards
    def ensure_rewards_sent(self):
        """The team marks the first few collected pledges of a reward sent (tracking from the
        plan's format); marking again with the same reference changes nothing."""
        marked = 0
        sent_on = self.at(self.campaign_days() + 6)
        for title, count, tracking in self.plan.rewards_sent:
            pledges = (
                Pledge.objects.filter(
                    campaign=self.campaign,
                    reward__title=title,
                    status__in=fulfilment.FULFILMENT_STATUSES,
                )
                .select_related("campaign")
                .order_by("pk")[:count]
            )
            for number, pledge in enumerate(pledges):
                reference = tracking.format(pk=pledge.pk)
                if pledge.reward_sent_at is not None and pledge.reward_tracking == reference:
                    continue
                fulfilment.mark_reward_sent(
                    pledge,
                    by=self.organizer,
                    tracking=reference,
                    now=sent_on + timedelta(minutes=7 * number),
                )
                marked += 1
        return marked

    def campaign_days(self):
        deadline = self.campaign.deadline or self.now
        return (deadline - self.campaign.launched_at).total_seconds() / 86_400


def _hidden_at(posted_at):
    return posted_at + timedelta(hours=3)


def _reported_at(posted_at):
    return posted_at + timedelta(hours=1)


def _follow(campaign, members, *, now=None):
    """The members follow the campaign (community.follows.follow, at `now`); returns how many
    are new."""
    following = set(Follow.objects.filter(campaign=campaign).values_list("member_id", flat=True))
    new = 0
    for member in members:
        if member.pk not in following:
            follow_services.follow(campaign, by=member, now=now)
            new += 1
    return new


def _ensure_launching_soon_followers(people):
    campaign = Campaign.objects.filter(slug=LAUNCHING_SOON).first()
    if campaign is None or not follow_services.can_follow(campaign):
        return 0
    return _follow(campaign, [people[key] for key in LAUNCHING_SOON_FOLLOWERS if key in people])


def _ensure_comments(stories):
    """Post the planned comments not made yet, all campaigns' in the story's order (the
    throttle counts each member's comments up to the moment given: see the module's
    docstring); then hide and report the planned ones. Returns (comments, hidden, reports)
    made."""
    due = []
    for story in stories:
        story.find_comments()
        for index, planned in enumerate(story.plan.comments):
            if index not in story.comments:
                due.append((story.comment_at(index), story, index, planned))
    due.sort(key=lambda row: row[0])
    made = 0
    for at, story, index, planned in due:
        author = story.member(planned.by, index)
        if author is None:
            continue  # nobody in that role (a campaign without supporters yet)
        update = story.updates.get(planned.on_update) if planned.on_update is not None else None
        parent = story.comments.get(planned.reply_to) if planned.reply_to is not None else None
        if planned.reply_to is not None and parent is None:
            continue
        story.comments[index] = comment_services.post_comment(
            story.campaign, by=author, body=planned.body, update=update, parent=parent, now=at
        )
        made += 1
    hidden = reported = 0
    for story in stories:
        for index, comment in story.comments.items():
            hidden += story.ensure_hidden(index, comment)
            reported += story.ensure_reported(index, comment)
    return made, hidden, reported
