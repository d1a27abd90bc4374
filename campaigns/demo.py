"""Demo campaigns for the quick start: a living platform on the first screen, idempotent.

`ensure_demo_campaigns(members)` creates fifteen campaigns across categories, Belgian towns and
both funding models, in every state a visitor, organizer or admin should meet (draft, changes
requested, in review, approved, rejected, live at 5–140 %, one ending within a day, funded,
not funded, cancelled), with rewards (some limited, one sold out), budgets, stretch goals and
a cover drawn with Pillow (no files shipped). Demo campaigns are keyed by slug: a second run
creates nothing and only moves the live ones' dates so they stay live ("ends in 14 hours").

Content goes through campaigns.services, as an organizer's would (so covers get their
thumbnails and every status change its audit event); the past (launch dates, the settlement
of ended campaigns, pledges) is written directly, each status with its AuditEvent. Demo
pledges have no saved card: they show progress, they are never charged.
"""

import math
import random
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from io import BytesIO

from allauth.account.models import EmailAddress
from django.contrib.auth.hashers import make_password
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.db.models import Q
from django.utils import timezone
from PIL import Image, ImageDraw, ImageOps

from campaigns import services
from campaigns.models import Campaign, FundingModel
from core.models import AuditEvent
from core.transitions import transition
from members.demo import DEMO_PASSWORD
from members.models import Member
from pledges.models import Pledge

Status = Campaign.Status
AON, FLEX = FundingModel.ALL_OR_NOTHING, FundingModel.FLEXIBLE
_TOKEN_NAMESPACE = uuid.UUID("8f7d2c1e-3b4a-4c5d-9e6f-0a1b2c3d4e5f")

# Supporters who own the demo pledges; they can log in with the demo password too.
DEMO_SUPPORTERS = [
    ("lotte", "Lotte Peeters", "Ghent"),
    ("jonas", "Jonas Claes", "Leuven"),
    ("amira", "Amira El Idrissi", "Brussels"),
    ("pieter", "Pieter Janssens", "Antwerp"),
    ("chloe", "Chloé Dubois", "Liège"),
    ("wout", "Wout Maes", "Bruges"),
    ("ines", "Inès Lambert", "Namur"),
    ("bram", "Bram De Smet", "Mechelen"),
    ("fatima", "Fatima Benali", "Antwerp"),
    ("thomas", "Thomas Willems", "Ghent"),
    ("elise", "Elise Vermeulen", "Leuven"),
    ("youssef", "Youssef Amrani", "Brussels"),
    ("marie", "Marie Leclercq", "Liège"),
    ("arne", "Arne Goossens", "Bruges"),
    ("sofie", "Sofie Wouters", "Ghent"),
    ("kobe", "Kobe Jacobs", "Antwerp"),
    ("nadia", "Nadia Haddad", "Brussels"),
    ("lucas", "Lucas Martin", "Namur"),
    ("hanne", "Hanne Mertens", "Leuven"),
    ("emre", "Emre Yilmaz", "Ghent"),
    ("julie", "Julie Dupont", "Liège"),
    ("stijn", "Stijn Hermans", "Mechelen"),
    ("lina", "Lina Aerts", "Antwerp"),
    ("victor", "Victor Lambrechts", "Bruges"),
    ("zoe", "Zoë Michiels", "Ghent"),
    ("mehdi", "Mehdi Bouzid", "Brussels"),
    ("anke", "Anke Pauwels", "Leuven"),
    ("noah", "Noah Desmet", "Kortrijk"),
    ("ella", "Ella Van Damme", "Ghent"),
    ("samir", "Samir Ouali", "Antwerp"),
    ("laura", "Laura Simons", "Hasselt"),
    ("ruben", "Ruben Coppens", "Leuven"),
    ("margot", "Margot Renard", "Liège"),
    ("jef", "Jef Van Acker", "Bruges"),
]
SUPPORTER_DOMAIN = "groundswell.local"

MESSAGES = [
    "Good luck, neighbours!",
    "Can't wait to see this happen.",
    "Proud of our street.",
    "For my kids, who will love it.",
    "Keep going — almost there!",
    "Happy to help, see you there.",
    "",
    "",
    "",
]


@dataclass
class Reward:
    title: str
    description: str
    minimum: int  # whole euros
    limit: int | None = None
    months_ahead: int = 3
    sell_out: bool = False  # the demo fills it to the limit


@dataclass
class Spec:
    slug: str
    title: str
    summary: str
    category: str
    location: str
    goal: int  # whole euros
    funding_model: str
    story: str
    state: str  # draft, changes_requested, in_review, approved, rejected, live, funded, ...
    organizer: str = "organizer"
    duration_days: int | None = 30
    end_in_days: int | None = None  # an end date instead of a duration
    rewards: list = field(default_factory=list)
    budget: list = field(default_factory=list)  # (label, euros, required)
    stretch: list = field(default_factory=list)  # (euros, description)
    # Past states: when it launched (days ago), how far it got (fraction of the goal), by whom.
    launched_days_ago: float = 0
    progress: float = 0
    supporters: int = 0
    featured: bool = False
    note: str = ""  # review note, rejection reason or cancellation reason
    submitted_days_ago: float = 1
    co_organizer: str = ""
    motif: str = ""  # the cover's picture, when not the category's


def _euros(amount):
    return int(round(amount * 100))


# --- the campaigns --------------------------------------------------------------------------
CAMPAIGNS = [
    Spec(
        slug="repair-cafe-on-wheels",
        title="Repair Café on wheels",
        summary="A cargo trailer full of tools and volunteers that brings free repairs to every "
        "Ghent neighbourhood, one Saturday at a time.",
        category="community",
        location="Ghent",
        goal=6_000,
        funding_model=AON,
        duration_days=35,
        state="live",
        launched_days_ago=17,
        progress=0.62,
        supporters=24,
        featured=True,
        co_organizer="lotte",
        story="""Every month our Repair Café in Dampoort fixes about **80 things** that would
otherwise end up in the bin: toasters, bikes, jeans, laptops, lamps. But the people who need
it most often cannot get to us. So we want to go to them.

## What we will build

A cargo trailer, pulled by an electric cargo bike, with:

- a fold-out workbench and a soldering station,
- a sewing machine and a box of fabric scraps,
- a bike stand and the most-used spare parts,
- a awning so we can work in the Ghent rain.

## Where it goes

Every Saturday a different neighbourhood: Rabot, Nieuw Gent, Ledeberg, Brugse Poort and
Sint-Amandsberg to start with. Anyone can bring something broken; a volunteer fixes it *with*
them, so they learn to do it next time.

## Why all or nothing

Without the trailer and the bike there is no Repair Café on wheels. If we don't reach the
goal, nobody pays anything.
""",
        rewards=[
            Reward("Thank-you sticker", "A sticker for your toolbox and our warm thanks.", 10),
            Reward(
                "Front of the queue",
                "Skip the queue once at any Repair Café — bring your wobbliest chair.",
                35,
            ),
            Reward(
                "Repair workshop for two",
                "A two-hour workshop: fix your own bike or learn the sewing machine.",
                75,
                limit=30,
                months_ahead=4,
            ),
            Reward(
                "Your street on the route",
                "We come to your street for a Saturday (Ghent only).",
                400,
                limit=4,
                months_ahead=6,
            ),
        ],
        budget=[
            ("Electric cargo bike", 3_200, True),
            ("Trailer with fold-out workbench", 1_900, True),
            ("Tools and spare parts", 700, True),
            ("Awning and signage", 450, False),
        ],
        stretch=[(7_500, "A second sewing machine and a textile volunteer kit")],
    ),
    Spec(
        slug="rooftop-garden-sint-amandsberg",
        title="A rooftop vegetable garden for our school",
        summary="Turning the flat roof of De Klimtoren primary school into a garden where 240 "
        "children grow, cook and eat their own vegetables.",
        category="food",
        location="Ghent",
        goal=4_500,
        funding_model=FLEX,
        duration_days=30,
        state="live",
        launched_days_ago=21,
        progress=1.40,
        supporters=32,
        featured=True,
        story="""The flat roof of **De Klimtoren** has been empty for twenty years. The
structure was checked in spring: it can carry raised beds. The children have already drawn
the plan.

## The plan

1. Twelve raised beds, one per class, with a safe railing around the whole roof.
2. A rain-water barrel and drip irrigation so the garden survives the summer holidays.
3. A small tool shed and a composting corner.

Each class plants in March, harvests in June and cooks with the school kitchen. Parents and
neighbours take turns watering in July and August.

## Flexible funding

Every euro helps: with less money we start with fewer beds and add more next year.

> "I want to grow strawberries on the roof." — Noor, 8 years old
""",
        rewards=[
            Reward("A postcard from the roof", "A postcard drawn by one of the children.", 10),
            Reward(
                "Name a raised bed",
                "A bed carries your name (or your family's) on a painted sign.",
                50,
                limit=12,
                months_ahead=3,
                sell_out=True,
            ),
            Reward(
                "Harvest basket",
                "A basket of the first harvest, picked up at the school gate in June.",
                25,
                limit=60,
                months_ahead=7,
            ),
        ],
        budget=[
            ("Twelve raised beds and soil", 1_900, True),
            ("Roof railing (safety)", 1_700, True),
            ("Rain barrel and drip irrigation", 500, True),
            ("Tool shed and composter", 400, False),
        ],
        stretch=[
            (5_500, "A second rain barrel so the garden survives a dry summer"),
            (6_500, "A beehive, looked after by a local beekeeper"),
            (8_000, "A small greenhouse for seedlings in winter"),
        ],
    ),
    Spec(
        slug="leuven-bike-library",
        title="Leuven's bike library: 40 bikes for kids",
        summary="Children outgrow a bike every two years. Our library lends them one that fits, "
        "and takes it back when it no longer does.",
        category="mobility",
        location="Leuven",
        goal=8_000,
        funding_model=AON,
        duration_days=30,
        state="live",
        organizer="jonas",
        launched_days_ago=29.4,  # ends in about 14 hours
        progress=0.91,
        supporters=30,
        story="""Every family in Kessel-Lo knows the problem: a child's bike fits for two
summers, then it is too small. New bikes are expensive; second-hand ones are often unsafe.

## How the library works

- Families borrow a bike that fits, for **€20 a year**.
- When the child has grown, they swap it for the next size.
- Volunteers service every bike between two borrowers.

We already run the library from a garage with 25 donated bikes and a waiting list of 60
children. With your help we buy 40 good second-hand bikes, helmets and locks, and rent a
proper workshop for a year.

## Only a few hours left

We are almost there. Tell your neighbours!
""",
        rewards=[
            Reward("Bell sticker", "A sticker and a thank-you ring of the bell.", 5),
            Reward("Helmet for a child", "You pay for one helmet; we send you a photo.", 30),
            Reward(
                "Sponsor a bike",
                "A bike carries your name on its frame for its whole life in the library.",
                150,
                limit=40,
                months_ahead=2,
            ),
        ],
        budget=[
            ("40 second-hand children's bikes", 4_800, True),
            ("Helmets and locks", 1_200, True),
            ("Workshop rent for a year", 1_800, True),
            ("Tools and spare parts", 600, False),
        ],
    ),
    Spec(
        slug="open-air-cinema-spoor-noord",
        title="Open-air cinema in Park Spoor Noord",
        summary="Eight free summer evenings of films under the stars, chosen by the neighbours "
        "of Antwerp-Noord.",
        category="arts",
        location="Antwerp",
        goal=12_000,
        funding_model=AON,
        duration_days=45,
        state="live",
        launched_days_ago=2,
        progress=0.05,
        supporters=7,
        story="""Park Spoor Noord is the living room of Antwerp-Noord. This summer we want to
turn it into a cinema: **eight Friday evenings**, free for everyone, with films voted for by
the neighbourhood.

## What the money pays for

- a 10-metre inflatable screen, projector and sound (rented for the summer),
- screening licences for eight films,
- subtitles in Dutch, French and Arabic,
- 200 cushions that stay with the neighbourhood house afterwards.

## Choose the films

Every supporter gets a vote. The programme is announced in June.
""",
        rewards=[
            Reward("A vote for the programme", "Vote for the eight films of the summer.", 10),
            Reward(
                "Reserved cushion",
                "A reserved cushion in the front rows for one evening, with popcorn.",
                25,
                limit=100,
                months_ahead=5,
            ),
            Reward(
                "Pick a film",
                "You choose one of the eight films (within reason!).",
                250,
                limit=2,
                months_ahead=5,
            ),
        ],
        budget=[
            ("Screen, projector and sound for the summer", 6_800, True),
            ("Screening licences (8 films)", 2_400, True),
            ("Subtitles in three languages", 1_200, True),
            ("Cushions", 900, False),
        ],
        stretch=[(14_000, "Two extra evenings in September")],
    ),
    Spec(
        slug="molenbeek-community-fridges",
        title="Community fridges for Molenbeek",
        summary="Five public fridges where shops and neighbours leave food, and anyone who "
        "needs it takes it. No questions, no waste.",
        category="food",
        location="Brussels",
        goal=3_000,
        funding_model=FLEX,
        duration_days=40,
        state="live",
        launched_days_ago=26,
        progress=0.88,
        supporters=26,
        featured=True,
        motif="fridge",
        story="""Every evening, bakeries and grocers in Molenbeek throw away food that is
perfectly good. A few streets away, families skip meals at the end of the month.

## Five fridges, five hosts

A community fridge is a fridge in a public place — a shop front, a community centre —
that anyone may fill and anyone may empty. We have found five hosts who give us a spot and
electricity. Volunteers check the fridges every day and keep them clean.

## What we need

- five sturdy second-hand fridges with a lockable frame,
- a thermometer and hygiene kit for each,
- a year of cleaning products and small repairs.

Flexible funding: every fridge we can pay for will open.
""",
        rewards=[
            Reward("A fridge magnet", "Our magnet on your fridge, a reminder to share.", 8),
            Reward(
                "Host a fridge check",
                "Join a volunteer for a fridge round and see how it works.",
                20,
                limit=25,
                months_ahead=2,
            ),
        ],
        budget=[
            ("Five fridges with frames", 1_800, True),
            ("Hygiene kits and thermometers", 350, True),
            ("Cleaning and repairs for a year", 500, False),
        ],
        stretch=[(4_000, "A sixth fridge, at the Ribaucourt metro station")],
    ),
    Spec(
        slug="borgerhout-tool-library",
        title="A tool library for Borgerhout",
        summary="Why should every household own a drill it uses twelve minutes in its life? "
        "Borrow one from the neighbourhood instead.",
        category="community",
        location="Antwerp",
        goal=2_500,
        funding_model=FLEX,
        duration_days=None,
        end_in_days=25,
        state="live",
        launched_days_ago=5,
        progress=0.24,
        supporters=11,
        motif="tools",
        story="""A drill is used on average **twelve minutes** in its whole life. A ladder, a
pressure washer, a tile cutter: all of them spend their lives in a cupboard.

The Borgerhout tool library lends them out for a small yearly fee. We start with 150 tools
donated by neighbours; this campaign pays for shelving, a lending system and the tools nobody
had to spare.
""",
        rewards=[
            Reward("Founding member", "Your name on the wall of founding members.", 15),
            Reward("A year of borrowing", "One year's membership of the library.", 40),
        ],
        budget=[
            ("Shelving and storage", 900, True),
            ("Tools to complete the collection", 1_100, True),
            ("Lending software for a year", 300, False),
        ],
    ),
    Spec(
        slug="liege-parish-hall-solar",
        title="Solar panels on the Sainte-Marguerite parish hall",
        summary="A neighbourhood energy co-op puts 60 panels on the roof of the hall everyone "
        "uses — and shares the savings.",
        category="environment",
        location="Liège",
        goal=25_000,
        funding_model=AON,
        duration_days=45,
        state="funded",
        launched_days_ago=60,
        progress=1.08,
        supporters=34,
        story="""The Sainte-Marguerite parish hall hosts the youth club, the seniors' lunch, a
choir and half the birthday parties of the neighbourhood. Its electricity bill has tripled.

Our energy co-op will install **60 solar panels** on its south-facing roof. The hall pays
the co-op a fair price for the power; the savings go to lower rents for neighbourhood groups.
""",
        rewards=[
            Reward("Sunny thank-you", "A card and the first month's production report.", 20),
            Reward("Co-op share", "One symbolic share in the neighbourhood energy co-op.", 250),
        ],
        budget=[
            ("60 solar panels", 14_000, True),
            ("Inverter and wiring", 6_500, True),
            ("Installation", 4_000, True),
        ],
        stretch=[(27_500, "A battery so the hall can host an emergency shelter")],
    ),
    Spec(
        slug="bruges-canal-clean-up-boats",
        title="Two clean-up boats for the Bruges canals",
        summary="Volunteers in two small electric boats fishing plastic out of the canals "
        "before it reaches the sea.",
        category="environment",
        location="Bruges",
        goal=7_500,
        funding_model=AON,
        duration_days=30,
        state="failed",
        launched_days_ago=40,
        progress=0.41,
        supporters=16,
        motif="water",
        story="""Every year tourists and wind bring tonnes of plastic into the Bruges canals.
We wanted to buy two small electric boats so volunteers could clean the canals every
weekend. We did not reach our goal this time — we will come back with a smaller plan.
""",
        rewards=[
            Reward("Clean-up crew", "A place on a clean-up boat for a morning.", 30),
        ],
        budget=[
            ("Two second-hand electric boats", 6_000, True),
            ("Nets, gloves and life jackets", 1_500, True),
        ],
    ),
    Spec(
        slug="kessel-lo-skate-park-repair",
        title="Repair the Kessel-Lo skate park",
        summary="Fix the cracked ramps and add lights so the skate park can be used again after "
        "school in winter.",
        category="sport",
        location="Leuven",
        goal=5_000,
        funding_model=FLEX,
        duration_days=40,
        state="cancelled",
        launched_days_ago=12,
        progress=0.3,
        supporters=12,
        note="Good news: the city has agreed to repair the skate park itself this spring, so we "
        "have stopped the campaign. Nobody will be charged. Thank you all!",
        story="""The Kessel-Lo skate park has been closed since a ramp cracked last winter. We
wanted to repair the ramps and add lighting so it can be used after school.
""",
        rewards=[Reward("Skate sticker", "A sticker designed by the local skaters.", 10)],
        budget=[("Ramp repairs", 3_500, True), ("Lighting", 1_500, True)],
    ),
    Spec(
        slug="schaerbeek-homework-club",
        title="A homework club for newcomers in Schaerbeek",
        summary="Four afternoons a week of homework help, a quiet room and a snack for children "
        "who just arrived in Belgium.",
        category="education",
        location="Brussels",
        goal=3_500,
        funding_model=AON,
        duration_days=30,
        state="approved",
        note="Lovely project — approved. Consider adding a reward for local businesses.",
        story="""Children who arrive in Belgium mid-year often have nowhere quiet to do their
homework and nobody at home who speaks Dutch or French. Our club gives them both.

Volunteer students from the VUB and ULB help with homework four afternoons a week in the
community centre on Rue Josaphat. The money pays for a year of rent, books, laptops and
snacks.
""",
        rewards=[
            Reward("A drawing", "A drawing by one of the children.", 10),
            Reward("Visit the club", "Come and help for an afternoon.", 40, limit=20),
        ],
        budget=[
            ("Rent of the room for a year", 1_800, True),
            ("Three second-hand laptops", 900, True),
            ("Books and snacks", 600, True),
        ],
    ),
    Spec(
        slug="mechelen-little-free-libraries",
        title="Little free libraries for every street in Mechelen-Noord",
        summary="Twenty weatherproof book boxes, built by a carpentry class, where neighbours "
        "leave and take books.",
        category="education",
        location="Mechelen",
        goal=2_000,
        funding_model=FLEX,
        duration_days=30,
        state="in_review",
        submitted_days_ago=3,
        story="""A little free library is a box on a post, with a glass door, full of books.
Take one, leave one. The carpentry class of the technical school will build twenty of them;
we need the wood, glass, hinges and paint — and the first books.
""",
        rewards=[
            Reward("A bookmark", "A hand-printed bookmark.", 5),
            Reward("A box in your street", "One of the boxes goes in your street.", 120, limit=5),
        ],
        budget=[
            ("Wood, glass and hardware for 20 boxes", 1_400, True),
            ("Paint and weatherproofing", 300, True),
            ("First books", 300, False),
        ],
    ),
    Spec(
        slug="namur-walking-club-seniors",
        title="Walking and physio afternoons for Namur's seniors",
        summary="A weekly walk along the Meuse with a physiotherapist, followed by coffee: "
        "moving together against loneliness.",
        category="health",
        location="Namur",
        goal=4_000,
        funding_model=AON,
        duration_days=45,
        state="in_review",
        submitted_days_ago=1,
        story="""Many seniors in Jambes live alone and hardly leave the house in winter. Every
Tuesday afternoon we walk two kilometres along the Meuse with a physiotherapist who adapts the
exercises to everyone, then share coffee and cake in the community centre.

The money pays the physiotherapist for a year, walking poles and the coffee.
""",
        rewards=[
            Reward("Coffee for a walker", "You offer a coffee and a slice of cake.", 5),
            Reward("Walk with us", "Join a Tuesday walk — bring your grandparents.", 25),
        ],
        budget=[
            ("Physiotherapist, 45 afternoons", 3_150, True),
            ("Walking poles and rain capes", 500, True),
            ("Coffee and cake", 350, False),
        ],
    ),
    Spec(
        slug="antwerp-renters-insulation-workshops",
        title="Insulation workshops for Antwerp renters",
        summary="Hands-on workshops where renters learn to seal draughts and insulate windows "
        "themselves — and take the materials home.",
        category="housing",
        location="Antwerp",
        goal=3_000,
        funding_model=FLEX,
        duration_days=30,
        state="draft",
        story="""Renters pay the highest energy bills and have the least say over their homes.
In our workshops they learn what they *can* do: draught strips, radiator foil, window film,
thick curtains. Everyone takes a kit home.
""",
        rewards=[Reward("A draught-strip kit", "A kit for one window, sent to you.", 15)],
        budget=[("Materials for 150 kits", 2_250, True), ("Room rent", 450, True)],
    ),
    Spec(
        slug="ghent-community-sauna",
        title="A community sauna on the Leie",
        summary="A wood-fired sauna on a floating platform, open to everyone on a pay-what-you-"
        "can basis.",
        category="health",
        location="Ghent",
        goal=15_000,
        funding_model=AON,
        duration_days=45,
        state="changes_requested",
        note="Thanks for this! Before we can approve it: please add the permit from the city's "
        "waterways department to the story, and split 'Construction' in the budget into the "
        "platform, the sauna cabin and the stove.",
        story="""Saunas are good for body and mind, and in the Nordic countries they are where
neighbours meet. We want to build a wood-fired sauna on a floating platform on the Leie, open
to everyone on a pay-what-you-can basis.
""",
        rewards=[Reward("First session", "A session in the first week.", 20)],
        budget=[("Construction", 13_000, True), ("Insurance", 1_200, True)],
    ),
    Spec(
        slug="premium-coffee-bar-coworking",
        title="A premium coffee bar for my co-working office",
        summary="An espresso machine and a barista corner for the members of my private "
        "co-working space.",
        category="other",
        location="Brussels",
        goal=9_000,
        funding_model=FLEX,
        duration_days=30,
        state="rejected",
        organizer="supporter",
        note="Groundswell funds projects that serve a community openly. A coffee bar for the "
        "paying members of a private business is not one, so we cannot publish this campaign.",
        story="""My co-working space in Ixelles deserves better coffee. With a premium espresso
machine and a barista corner our members would enjoy their workdays even more.
""",
        rewards=[Reward("A free coffee", "One coffee at the bar.", 5)],
        budget=[("Espresso machine", 7_500, True), ("Bar furniture", 1_500, True)],
    ),
]


# --- members --------------------------------------------------------------------------------
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


# --- building one campaign ------------------------------------------------------------------
def ensure_demo_campaigns(members, *, now=None):
    """Create the demo campaigns that do not exist yet; refresh the dates of live ones.

    members: {"admin", "organizer", "supporter", ...} from members.demo plus the supporters.
    Returns (created, refreshed) counts.
    """
    now = now or timezone.now()
    people = {**ensure_demo_supporters(), **members}
    admin = people["admin"]
    tokens = {_creation_token(spec): spec.slug for spec in CAMPAIGNS}
    existing = {}
    for campaign in Campaign.objects.filter(
        Q(slug__in=tokens.values()) | Q(creation_token__in=tokens)
    ):
        existing[tokens.get(campaign.creation_token, campaign.slug)] = campaign
    created = refreshed = 0
    for spec in CAMPAIGNS:
        campaign = existing.get(spec.slug)
        if campaign is None:
            _create(spec, people, admin, now)
            created += 1
        elif _refresh(campaign, spec, now):
            refreshed += 1
    return created, refreshed


def _creation_token(spec):
    return uuid.uuid5(_TOKEN_NAMESPACE, spec.slug)


def _schedule(spec, now):
    """(launched_at, deadline) the spec asks for, relative to now."""
    launched_at = now - timedelta(days=spec.launched_days_ago)
    if spec.end_in_days:
        return launched_at, None  # the end date decides, at launch
    return launched_at, launched_at + timedelta(days=spec.duration_days)


def _refresh(campaign, spec, now):
    """Keep a live demo campaign live with the time left it was designed with."""
    if spec.state != "live" or campaign.status != Status.LIVE:
        return False
    launched_at, deadline = _schedule(spec, now)
    if spec.end_in_days:
        campaign.end_date = (now + timedelta(days=spec.end_in_days)).date()
        deadline = campaign.planned_deadline(launched_at)
    Campaign.objects.filter(pk=campaign.pk).update(
        launched_at=launched_at, deadline=deadline, end_date=campaign.end_date
    )
    return True


def _create(spec, people, admin, now):
    organizer = people[spec.organizer]
    campaign = services.start_campaign(
        organizer=organizer,
        title=spec.title,
        creation_token=_creation_token(spec),
    )
    if campaign.slug != spec.slug:
        Campaign.objects.filter(pk=campaign.pk).update(slug=spec.slug)
        campaign.slug = spec.slug
    services.update_basics(
        campaign,
        by=organizer,
        title=spec.title,
        summary=spec.summary,
        category=spec.category,
        location=spec.location,
    )
    launched_at, _ = _schedule(spec, now)
    # Terms are validated against "today": use the day the campaign was drafted.
    end_date = (now + timedelta(days=spec.end_in_days)).date() if spec.end_in_days else None
    services.update_funding(
        campaign,
        by=organizer,
        goal_minor=_euros(spec.goal),
        currency="EUR",
        funding_model=spec.funding_model,
        duration_days=None if end_date else spec.duration_days,
        end_date=end_date,
    )
    picture = cover_image(spec.category, spec.slug, motif=spec.motif)
    cover = ContentFile(picture, name="cover.jpg")
    services.update_story(campaign, by=organizer, story=spec.story.strip(), cover=cover)
    for reward in spec.rewards:
        services.save_reward(
            campaign,
            by=organizer,
            title=reward.title,
            description=reward.description,
            minimum_minor=_euros(reward.minimum),
            quantity_limit=reward.limit,
            estimated_delivery=_month_start(now, reward.months_ahead - spec.launched_days_ago / 30),
        )
    for label, amount, required in spec.budget:
        services.save_budget_item(
            campaign, by=organizer, label=label, amount_minor=_euros(amount), required=required
        )
    for amount, description in spec.stretch:
        services.save_stretch_goal(
            campaign, by=organizer, amount_minor=_euros(amount), description=description
        )
    if spec.co_organizer:
        helper = people[spec.co_organizer]
        invitation = services.invite_collaborator(campaign, by=organizer, email=helper.email)
        services.accept_invitation(invitation.token, member=helper)

    created_at = (launched_at if spec.launched_days_ago else now) - timedelta(days=6)
    Campaign.objects.filter(pk=campaign.pk).update(created_at=created_at)
    _advance(campaign, spec, people, admin, now)


def _advance(campaign, spec, people, admin, now):
    """Walk the campaign through its lifecycle to the state the spec asks for."""
    organizer = people[spec.organizer]
    if spec.state == "draft":
        return
    services.submit_for_review(campaign, by=organizer)
    if spec.state == "in_review":
        submitted_at = now - timedelta(days=spec.submitted_days_ago)
        Campaign.objects.filter(pk=campaign.pk).update(submitted_at=submitted_at)
        return
    if spec.state == "changes_requested":
        services.request_changes(campaign, by=admin, note=spec.note)
        return
    if spec.state == "rejected":
        services.reject(campaign, by=admin, note=spec.note)
        return
    services.approve(campaign, by=admin, note=spec.note if spec.state == "approved" else "")
    if spec.state == "approved":
        return

    launched_at, _ = _schedule(spec, now)
    campaign = services.launch(campaign, by=organizer, now=launched_at)
    if spec.featured:
        services.set_featured(campaign, by=admin, featured=True)
    pledge_until = min(now, campaign.deadline) if spec.state != "cancelled" else now
    _add_pledges(campaign, spec, people, launched_at, pledge_until)

    if spec.state in ("funded", "failed"):
        outcome = Status.FUNDED if spec.state == "funded" else Status.FAILED
        transition(campaign, Status.SETTLING, by=None, note="The deadline has passed.")
        transition(
            campaign,
            outcome,
            by=None,
            note="Goal reached." if outcome == Status.FUNDED else "Goal not reached.",
            updates={"ended_at": campaign.deadline},
        )
        if outcome == Status.FUNDED:
            _mark_collected(campaign)
        else:
            from pledges.services import release_pledges_for

            release_pledges_for(campaign)
    elif spec.state == "cancelled":
        services.cancel(campaign, by=organizer, reason=spec.note)
        from pledges.services import release_pledges_for

        release_pledges_for(campaign)  # now, as the task would (the worker may not run yet)


def _month_start(now, months_ahead):
    months = max(1, math.ceil(months_ahead))
    year, month = divmod(now.month - 1 + months, 12)
    return date(now.year + year, month + 1, 1)


# --- pledges --------------------------------------------------------------------------------
def _pledge_amounts(total_minor, count, rng):
    """`count` whole-euro amounts adding up to about `total_minor`, varied like real pledges."""
    weights = [rng.choice([0.5, 0.8, 1, 1, 1.5, 2, 3, 6]) for _ in range(count)]
    scale = total_minor / sum(weights)
    amounts = [max(500, int(w * scale) // 100 * 100) for w in weights]
    amounts[amounts.index(max(amounts))] += max(0, total_minor - sum(amounts)) // 100 * 100
    return amounts


def _add_pledges(campaign, spec, people, start, end):
    if not spec.supporters:
        return
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
    rewards = list(campaign.rewards.order_by("-minimum_minor"))
    stock = {r.pk: r.quantity_limit for r in rewards}
    sell_out_titles = {reward.title for reward in spec.rewards if reward.sell_out}
    sell_out = {r.pk for r in rewards if r.title in sell_out_titles}
    span = max((end - start).total_seconds(), 3600)
    pledges = []
    for index, (supporter, amount) in enumerate(zip(supporters, amounts, strict=True)):
        reward = _pick_reward(rewards, stock, sell_out, amount, rng)
        if reward is None and not campaign.allow_no_reward:
            reward = rewards[-1]
        if reward is not None and amount < reward.minimum_minor:
            amount = reward.minimum_minor
        if reward is not None and stock[reward.pk] is not None:
            stock[reward.pk] -= 1
        at = start + timedelta(seconds=span * (index + 0.5) / len(supporters))
        pledges.append(
            Pledge(
                campaign=campaign,
                supporter=supporter,
                reward=reward,
                amount_minor=amount,
                currency=campaign.currency,
                status=Pledge.Status.ACTIVE,
                anonymous=rng.random() < 0.1,
                message=rng.choice(MESSAGES),
                activated_at=at,
                created_at=at,
            )
        )
    pledges = Pledge.objects.bulk_create(pledges)
    for pledge in pledges:  # auto_now_add overwrote it on insert
        pledge.created_at = pledge.activated_at
    Pledge.objects.bulk_update(pledges, ["created_at"])
    _write_audit_rows(
        [_audit_row(p, "status:active", "pending", "active", p.activated_at) for p in pledges]
    )


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


def _audit_row(target, action, from_status, to_status, at):
    return AuditEvent(
        action=action,
        target_type=ContentType.objects.get_for_model(type(target)),
        target_id=str(target.pk),
        from_status=from_status,
        to_status=to_status,
        note="Demo data.",
        created_at=at,
    )


def _write_audit_rows(rows):
    """Insert audit rows dated when the demo says it happened (auto_now_add sets "now")."""
    times = [row.created_at for row in rows]
    rows = AuditEvent.objects.bulk_create(rows)
    for row, at in zip(rows, times, strict=True):
        row.created_at = at
    AuditEvent.objects.bulk_update(rows, ["created_at"])


def _mark_collected(campaign):
    """A funded demo campaign's pledges were charged (demo: no payment rows behind them)."""
    pledges = list(campaign.pledges.filter(status=Pledge.Status.ACTIVE))
    Pledge.objects.filter(pk__in=[p.pk for p in pledges]).update(
        status=Pledge.Status.COLLECTED, updated_at=campaign.deadline
    )
    _write_audit_rows(
        [
            _audit_row(p, "status:collected", "active", "collected", campaign.deadline)
            for p in pledges
        ]
    )


# --- covers ---------------------------------------------------------------------------------
COVER_SIZE = (1200, 675)
_SCALE = 2  # drawn at twice the size and reduced: smooth edges without an anti-aliasing library

# sky top, sky bottom, far hill, near hill, ground, sun, five accents
PALETTES = {
    "community": (
        (255, 214, 165),
        (255, 241, 222),
        (246, 189, 140),
        (230, 160, 120),
        (196, 128, 98),
        (255, 244, 214),
        [(231, 111, 81), (42, 157, 143), (233, 196, 106), (38, 70, 83), (244, 162, 97)],
    ),
    "food": (
        (168, 218, 220),
        (241, 250, 238),
        (152, 200, 140),
        (112, 173, 112),
        (121, 85, 61),
        (255, 230, 140),
        [(76, 149, 80), (230, 57, 70), (255, 183, 3), (106, 153, 78), (56, 102, 65)],
    ),
    "mobility": (
        (144, 224, 239),
        (202, 240, 248),
        (129, 178, 154),
        (82, 183, 136),
        (64, 145, 108),
        (255, 238, 170),
        [(3, 4, 94), (0, 119, 182), (255, 107, 107), (30, 30, 40), (255, 209, 102)],
    ),
    "arts": (
        (45, 27, 78),
        (230, 125, 110),
        (92, 56, 110),
        (60, 40, 86),
        (40, 28, 60),
        (255, 220, 160),
        [(255, 214, 102), (255, 255, 255), (239, 71, 111), (6, 214, 160), (17, 138, 178)],
    ),
    "environment": (
        (173, 232, 244),
        (237, 246, 249),
        (183, 228, 199),
        (116, 198, 157),
        (64, 145, 108),
        (255, 240, 170),
        [(45, 106, 79), (27, 67, 50), (255, 255, 255), (2, 62, 138), (82, 183, 136)],
    ),
    "sport": (
        (255, 221, 210),
        (255, 236, 228),
        (255, 183, 161),
        (233, 140, 120),
        (111, 111, 130),
        (255, 245, 215),
        [(244, 140, 6), (55, 6, 23), (255, 255, 255), (3, 7, 30), (220, 47, 2)],
    ),
    "education": (
        (205, 180, 219),
        (255, 230, 240),
        (189, 224, 254),
        (162, 210, 255),
        (142, 122, 181),
        (255, 236, 190),
        [(239, 71, 111), (255, 209, 102), (6, 214, 160), (17, 138, 178), (7, 59, 76)],
    ),
    "health": (
        (255, 200, 221),
        (255, 240, 245),
        (189, 224, 254),
        (162, 210, 255),
        (130, 180, 150),
        (255, 240, 200),
        [(230, 57, 70), (255, 255, 255), (69, 123, 157), (29, 53, 87), (241, 250, 238)],
    ),
    "housing": (
        (42, 54, 99),
        (247, 178, 103),
        (84, 94, 130),
        (60, 70, 110),
        (50, 55, 80),
        (255, 236, 190),
        [(242, 132, 130), (245, 202, 195), (132, 165, 157), (246, 189, 96), (255, 230, 150)],
    ),
    "other": (
        (220, 210, 200),
        (250, 245, 240),
        (200, 185, 170),
        (175, 155, 140),
        (140, 115, 95),
        (255, 240, 210),
        [(111, 78, 55), (255, 255, 255), (200, 150, 100), (60, 40, 30), (230, 200, 160)],
    ),
}


def cover_image(category, key, *, motif=""):
    """JPEG bytes: a gradient landscape with a motif for the category, varied by `key`."""
    rng = random.Random(key)
    sky_top, sky_bottom, far, near, ground, sun, accents = PALETTES.get(category, PALETTES["other"])
    w, h = COVER_SIZE[0] * _SCALE, COVER_SIZE[1] * _SCALE
    mask = Image.linear_gradient("L").resize((w, h), Image.Resampling.BILINEAR)
    image = Image.composite(
        Image.new("RGB", (w, h), sky_bottom), Image.new("RGB", (w, h), sky_top), mask
    )
    d = ImageDraw.Draw(image, "RGBA")  # RGBA drawing on an RGB image blends
    for _ in range(12):
        r = rng.randint(40, 160) * _SCALE
        x, y = rng.randint(0, w), rng.randint(0, int(h * 0.55))
        d.ellipse((x - r, y - r, x + r, y + r), fill=(255, 255, 255, rng.randint(14, 40)))
    sx, sy, sr = int(w * rng.uniform(0.74, 0.88)), int(h * 0.2), 78 * _SCALE
    d.ellipse((sx - sr * 1.5, sy - sr * 1.5, sx + sr * 1.5, sy + sr * 1.5), fill=(*sun, 60))
    d.ellipse((sx - sr, sy - sr, sx + sr, sy + sr), fill=sun)
    d.ellipse((-0.25 * w, 0.6 * h, 0.75 * w, 1.5 * h), fill=far)
    d.ellipse((0.35 * w, 0.64 * h, 1.35 * w, 1.6 * h), fill=near)
    d.rectangle((0, 0.84 * h, w, h), fill=ground)
    if rng.random() < 0.5:  # vary the landscape, not the motif (a mirrored "play" looks wrong)
        image = ImageOps.mirror(image)
        d = ImageDraw.Draw(image, "RGBA")
    _MOTIFS.get(motif or category, _other)(d, w, h, accents, rng)
    out = image.reduce(_SCALE)
    buffer = BytesIO()
    out.save(buffer, "JPEG", quality=88)
    return buffer.getvalue()


def _house(d, x, base, width, height, body, roof, window, door=True):
    d.rectangle((x, base - height, x + width, base), fill=body)
    d.polygon(
        [
            (x - width * 0.1, base - height),
            (x + width / 2, base - height - width * 0.55),
            (x + width * 1.1, base - height),
        ],
        fill=roof,
    )
    size = width * 0.2
    for fx in (0.18, 0.62):
        top = base - height * 0.8
        d.rectangle((x + width * fx, top, x + width * fx + size, top + size), fill=window)
    if door:
        d.rectangle((x + width * 0.4, base - height * 0.38, x + width * 0.6, base), fill=roof)


def _bunting(d, x0, x1, y, sag, colors, size):
    n = 14
    points = [(x0 + (x1 - x0) * i / n, y + sag * 4 * (i / n) * (1 - i / n)) for i in range(n + 1)]
    d.line(points, fill=(60, 60, 60, 200), width=4)
    for i in range(n):
        (ax, ay), (bx, by) = points[i], points[i + 1]
        d.polygon(
            [(ax + 6, ay), (bx - 6, by), ((ax + bx) / 2, (ay + by) / 2 + size)],
            fill=colors[i % len(colors)],
        )


def _community(d, w, h, c, rng):
    base, x = 0.86 * h, 0.12 * w
    for i, fraction in enumerate([0.15, 0.12, 0.17, 0.13]):
        height = rng.uniform(0.22, 0.3) * h
        _house(d, x, base, fraction * w, height, c[(i + 2) % 5], c[i % 5], (255, 250, 235))
        x += (fraction + 0.04) * w
    _bunting(d, 0.05 * w, 0.95 * w, 0.12 * h, 0.14 * h, c, 0.05 * h)


def _food(d, w, h, c, rng):
    base = 0.9 * h
    for i in range(3):
        x0 = (0.08 + i * 0.31) * w
        x1 = x0 + 0.25 * w
        for j in range(rng.randint(4, 6)):
            px = x0 + (j + 0.6) * (x1 - x0) / 6.2
            top = base - 0.12 * h - rng.uniform(0.04, 0.16) * h
            d.line([(px, base - 0.1 * h), (px, top)], fill=c[4], width=10)
            for k in range(3):
                ly = top + k * 0.035 * h
                d.ellipse((px - 46, ly - 18, px, ly + 18), fill=c[0])
                d.ellipse((px, ly - 4, px + 46, ly + 32), fill=c[3])
            if rng.random() < 0.5:
                d.ellipse((px - 20, top - 20, px + 20, top + 20), fill=c[1 + (j % 2)])
        d.rectangle((x0, base - 0.11 * h, x1, base), fill=(139, 94, 60))
        d.rectangle((x0, base - 0.11 * h, x1, base - 0.09 * h), fill=(160, 112, 74))


def _wheel(d, cx, cy, r, color):
    d.ellipse((cx - r, cy - r, cx + r, cy + r), outline=color, width=int(r * 0.12))
    for angle in range(0, 360, 30):
        rad = math.radians(angle)
        end = (cx + math.cos(rad) * r * 0.9, cy + math.sin(rad) * r * 0.9)
        d.line([(cx, cy), end], fill=color, width=4)
    d.ellipse((cx - r * 0.1, cy - r * 0.1, cx + r * 0.1, cy + r * 0.1), fill=color)


def _mobility(d, w, h, c, rng):
    r = 0.16 * h
    cy = 0.84 * h - r
    back, front = (0.36 * w, cy), (0.64 * w, cy)
    _wheel(d, *back, r, c[3])
    _wheel(d, *front, r, c[3])
    pedal, seat, head = (0.48 * w, cy), (0.43 * w, cy - 1.35 * r), (0.6 * w, cy - 1.35 * r)
    for a, b in [(back, pedal), (pedal, seat), (back, seat), (seat, head), (pedal, head)]:
        d.line([a, b], fill=c[2], width=22)
    d.line([head, front], fill=c[2], width=22)
    d.rounded_rectangle((seat[0] - 60, seat[1] - 26, seat[0] + 50, seat[1] + 4), 14, fill=c[3])
    d.line([head, (head[0] + 30, head[1] - 70)], fill=c[3], width=18)
    d.line([(head[0] + 5, head[1] - 70), (head[0] + 90, head[1] - 80)], fill=c[3], width=18)
    d.rectangle((head[0] - 120, head[1] - 10, head[0] - 20, head[1] + 60), fill=c[4])
    for i in range(5):
        x = (0.05 + i * 0.2) * w
        d.rounded_rectangle((x, 0.9 * h, x + 0.1 * w, 0.92 * h), 8, fill=(255, 255, 255, 180))


def _arts(d, w, h, c, rng):
    for _ in range(40):
        x, y, r = rng.uniform(0, w), rng.uniform(0, 0.45 * h), rng.uniform(2, 6)
        d.ellipse((x - r, y - r, x + r, y + r), fill=(255, 255, 255, 200))
    x0, x1, y0, y1 = 0.26 * w, 0.74 * w, 0.2 * h, 0.62 * h
    d.polygon([(0.5 * w, 0.95 * h), (x0, y1), (x1, y1)], fill=(255, 240, 200, 40))
    for x in (x0 + 30, x1 - 30):
        d.line([(x, y1), (x, 0.86 * h)], fill=(30, 20, 40), width=18)
    d.rounded_rectangle((x0 - 24, y0 - 24, x1 + 24, y1 + 24), 20, fill=(30, 20, 40))
    d.rectangle((x0, y0, x1, y1), fill=(250, 246, 235))
    d.ellipse((0.44 * w, 0.3 * h, 0.56 * w, 0.5 * h), fill=c[2])
    d.polygon([(0.48 * w, 0.34 * h), (0.48 * w, 0.46 * h), (0.535 * w, 0.4 * h)], fill="white")
    lights = [(i / 20 * w, 0.1 * h + 0.06 * h * math.sin(i / 10 * math.pi)) for i in range(21)]
    d.line(lights, fill=(20, 10, 30), width=4)
    for i, (x, y) in enumerate(lights):
        d.ellipse((x - 14, y + 4, x + 14, y + 32), fill=c[0] if i % 5 == 1 else c[i % 5])
    for i in range(9):  # the audience
        x = (0.1 + i * 0.1) * w
        d.ellipse((x - 40, 0.84 * h, x + 40, 0.92 * h), fill=(20, 12, 32))
        d.ellipse((x - 26, 0.79 * h, x + 26, 0.86 * h), fill=(20, 12, 32))


def _tree(d, x, base, size, leaf, trunk):
    d.rectangle((x - size * 0.08, base - size * 0.9, x + size * 0.08, base), fill=trunk)
    for dx, dy, r in [(-0.25, -0.95, 0.32), (0.25, -0.95, 0.32), (0, -1.25, 0.38)]:
        cx, cy, rr = x + dx * size, base + dy * size, r * size
        d.ellipse((cx - rr, cy - rr, cx + rr, cy + rr), fill=leaf)


def _environment(d, w, h, c, rng):
    tx, hub, base = 0.7 * w, 0.3 * h, 0.86 * h
    d.line([(tx, base), (tx, hub)], fill=(250, 250, 250), width=26)
    start = rng.uniform(0, 120)
    for k in range(3):
        a = math.radians(start + k * 120)
        tip = (tx + math.cos(a) * 0.26 * h, hub + math.sin(a) * 0.26 * h)
        side = (tx + math.cos(a + 0.25) * 0.06 * h, hub + math.sin(a + 0.25) * 0.06 * h)
        d.polygon([(tx, hub), side, tip], fill=(255, 255, 255))
    d.ellipse((tx - 20, hub - 20, tx + 20, hub + 20), fill=(210, 210, 210))
    for i in range(3):  # solar panels
        x = (0.08 + i * 0.13) * w
        d.polygon(
            [
                (x, 0.84 * h),
                (x + 0.1 * w, 0.84 * h),
                (x + 0.13 * w, 0.72 * h),
                (x + 0.03 * w, 0.72 * h),
            ],
            fill=c[3],
        )
        d.line(
            [(x + 0.05 * w, 0.84 * h), (x + 0.08 * w, 0.72 * h)], fill=(255, 255, 255, 120), width=4
        )
    for x, size in [(0.88, 0.22), (0.52, 0.18), (0.96, 0.15)]:
        _tree(d, x * w, base, size * h, c[rng.choice([0, 4])], (110, 80, 60))


def _sport(d, w, h, c, rng):
    ramp = (90, 90, 110)
    d.rectangle((0, 0.84 * h, w, h), fill=(120, 120, 140))
    d.line([(0, 0.9 * h), (w, 0.9 * h)], fill=(255, 255, 255), width=8)
    d.pieslice((0.55 * w, 0.36 * h, 1.15 * w, 1.32 * h), 180, 270, fill=ramp)
    d.rectangle((0.85 * w, 0.36 * h, 1.0 * w, 0.86 * h), fill=ramp)
    d.line([(0.85 * w, 0.36 * h), (1.0 * w, 0.36 * h)], fill=c[0], width=16)
    cx, cy, r = 0.3 * w, 0.6 * h, 0.17 * h
    d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=c[0])
    d.line([(cx - r, cy), (cx + r, cy)], fill=c[1], width=10)
    d.line([(cx, cy - r), (cx, cy + r)], fill=c[1], width=10)
    d.arc((cx - r * 1.6, cy - r, cx - r * 0.2, cy + r), -60, 60, fill=c[1], width=10)
    d.arc((cx + r * 0.2, cy - r, cx + r * 1.6, cy + r), 120, 240, fill=c[1], width=10)
    bx, by = 0.28 * w, 0.82 * h  # a skateboard
    d.rounded_rectangle((bx - 0.12 * w, by - 20, bx + 0.12 * w, by + 10), 14, fill=c[4])
    for wx in (bx - 0.08 * w, bx + 0.08 * w):
        d.ellipse((wx - 22, by + 8, wx + 22, by + 52), fill=c[3])


def _education(d, w, h, c, rng):
    y = 0.86 * h
    for i in range(5):  # a stack of books
        bw, bh = rng.uniform(0.26, 0.34) * w, 0.07 * h
        x = 0.33 * w + rng.uniform(-0.03, 0.03) * w
        d.rounded_rectangle((x, y - bh, x + bw, y), 10, fill=c[i % 5])
        d.rectangle((x + bw - 24, y - bh + 10, x + bw - 10, y - 10), fill=(255, 255, 255, 200))
        y -= bh
    ax, ay, ar = 0.5 * w, y - 0.08 * h, 0.07 * h
    d.ellipse((ax - ar, ay - ar, ax + ar, ay + ar), fill=(230, 57, 70))
    d.line([(ax, ay - ar), (ax + 10, ay - 0.11 * h)], fill=(90, 60, 40), width=10)
    d.ellipse((ax + 10, ay - 0.13 * h, ax + 70, ay - 0.09 * h), fill=(80, 160, 80))
    px = 0.78 * w  # a pencil
    d.rectangle((px, 0.35 * h, px + 40, 0.78 * h), fill=c[1])
    d.polygon([(px, 0.78 * h), (px + 40, 0.78 * h), (px + 20, 0.84 * h)], fill=(240, 210, 170))
    d.rectangle((px, 0.32 * h, px + 40, 0.35 * h), fill=c[0])


def _health(d, w, h, c, rng):
    cx, cy, s = 0.5 * w, 0.45 * h, 0.2 * h  # a heart with a cross
    d.ellipse((cx - s, cy - s * 0.8, cx, cy + s * 0.2), fill=c[0])
    d.ellipse((cx, cy - s * 0.8, cx + s, cy + s * 0.2), fill=c[0])
    d.polygon(
        [(cx - s * 0.97, cy - s * 0.15), (cx + s * 0.97, cy - s * 0.15), (cx, cy + s)], fill=c[0]
    )
    cy, s = 0.42 * h, 0.05 * h
    d.rectangle((cx - s * 0.35, cy - s, cx + s * 0.35, cy + s), fill=(255, 255, 255))
    d.rectangle((cx - s, cy - s * 0.35, cx + s, cy + s * 0.35), fill=(255, 255, 255))
    path = [(0, 0.95 * h), (0.3 * w, 0.88 * h), (0.6 * w, 0.92 * h), (w, 0.86 * h)]
    d.line(path, fill=(245, 230, 200), width=36, joint="curve")
    for x, size in [(0.15, 0.14), (0.85, 0.17)]:
        _tree(d, x * w, 0.86 * h, size * h, (106, 170, 120), (110, 80, 60))


def _housing(d, w, h, c, rng):
    for _ in range(30):
        x, y = rng.uniform(0, w), rng.uniform(0, 0.35 * h)
        d.ellipse((x - 3, y - 3, x + 3, y + 3), fill=(255, 255, 255, 180))
    base, x, roof = 0.88 * h, 0.06 * w, (70, 60, 90)
    for i in range(5):
        big = i == 2
        bw = (0.17 if big else 0.13) * w
        bh = (0.36 if big else rng.uniform(0.2, 0.28)) * h
        _house(d, x, base, bw, bh, c[i % 5], roof, c[4])
        if big:  # a chimney with smoke: a warm home
            d.rectangle(
                (x + bw * 0.7, base - bh - bw * 0.45, x + bw * 0.82, base - bh - bw * 0.15),
                fill=roof,
            )
            for k in range(3):
                r, sx, sy = 16 + k * 8, x + bw * 0.76 + k * 14, base - bh - bw * 0.5 - k * 40
                d.ellipse((sx - r, sy - r, sx + r, sy + r), fill=(255, 255, 255, 90))
        x += bw + 0.045 * w


def _other(d, w, h, c, rng):
    cx, top, bottom = 0.5 * w, 0.45 * h, 0.82 * h  # a cup of coffee
    d.ellipse((cx - 0.2 * w, bottom - 20, cx + 0.2 * w, bottom + 40), fill=(255, 255, 255))
    d.rounded_rectangle((cx - 0.11 * w, top, cx + 0.11 * w, bottom), 60, fill=c[1])
    d.ellipse((cx + 0.07 * w, top + 60, cx + 0.17 * w, top + 0.22 * h), outline=c[1], width=30)
    d.rectangle((cx - 0.11 * w, top, cx + 0.11 * w, top + 40), fill=c[0])
    for k in (-1, 0, 1):
        x = cx + k * 0.05 * w
        steam = (255, 255, 255, 200)
        d.arc((x - 30, top - 0.2 * h, x + 30, top - 0.1 * h), 90, 270, fill=steam, width=10)
        d.arc((x - 30, top - 0.1 * h, x + 30, top - 0.01 * h), 270, 90, fill=steam, width=10)


def _water(d, w, h, c, rng):
    d.rectangle((0, 0.74 * h, w, h), fill=(72, 149, 196))  # a canal, with quays
    d.rectangle((0, 0.7 * h, w, 0.74 * h), fill=(150, 120, 100))
    for row in range(4):
        y = 0.79 * h + row * 0.05 * h
        for i in range(12):
            x = (i + (row % 2) * 0.5) / 11 * w
            d.arc((x - 50, y - 14, x + 50, y + 14), 200, 340, fill=(255, 255, 255, 140), width=6)
    bx, by = 0.42 * w, 0.8 * h  # a small boat with a net
    d.polygon(
        [
            (bx - 0.16 * w, by - 0.06 * h),
            (bx + 0.16 * w, by - 0.06 * h),
            (bx + 0.12 * w, by + 0.02 * h),
            (bx - 0.12 * w, by + 0.02 * h),
        ],
        fill=c[0],
    )
    d.rectangle((bx - 0.16 * w, by - 0.07 * h, bx + 0.16 * w, by - 0.06 * h), fill=(255, 255, 255))
    d.line(
        [(bx + 0.1 * w, by - 0.06 * h), (bx + 0.22 * w, by - 0.22 * h)], fill=(90, 60, 40), width=10
    )
    d.ellipse(
        (bx + 0.19 * w, by - 0.22 * h, bx + 0.27 * w, by - 0.12 * h), outline=(90, 60, 40), width=8
    )
    for _ in range(5):  # what the net is for
        x, y = rng.uniform(0.62, 0.95) * w, rng.uniform(0.78, 0.93) * h
        d.rounded_rectangle((x, y, x + 60, y + 22), 10, fill=rng.choice(c[2:]))
    for x, size in [(0.08, 0.2), (0.9, 0.16)]:
        _tree(d, x * w, 0.7 * h, size * h, c[4], (110, 80, 60))


def _fridge(d, w, h, c, rng):
    x0, x1, y0, y1 = 0.4 * w, 0.6 * w, 0.2 * h, 0.88 * h
    d.rounded_rectangle((x0 + 16, y0 + 16, x1 + 16, y1 + 10), 40, fill=(0, 0, 0, 40))
    d.rounded_rectangle((x0, y0, x1, y1), 40, fill=(250, 250, 248))
    d.line([(x0, 0.42 * h), (x1, 0.42 * h)], fill=(200, 205, 210), width=8)
    for top, bottom in ((0.26, 0.36), (0.48, 0.62)):
        d.rounded_rectangle((x1 - 50, top * h, x1 - 30, bottom * h), 10, fill=(160, 170, 180))
    hx, hy, hs = 0.47 * w, 0.3 * h, 34  # a heart magnet
    d.ellipse((hx - hs, hy - hs * 0.8, hx, hy + hs * 0.2), fill=c[1])
    d.ellipse((hx, hy - hs * 0.8, hx + hs, hy + hs * 0.2), fill=c[1])
    d.polygon([(hx - hs, hy - hs * 0.1), (hx + hs, hy - hs * 0.1), (hx, hy + hs)], fill=c[1])
    bx, by = 0.2 * w, 0.86 * h  # a crate of vegetables and bread
    d.rectangle((bx - 0.11 * w, by - 0.1 * h, bx + 0.11 * w, by), fill=(170, 120, 75))
    for i in range(6):
        x = bx - 0.085 * w + i * 0.034 * w
        d.ellipse((x - 36, by - 0.14 * h, x + 36, by - 0.08 * h), fill=c[[1, 2, 0][i % 3]])
    d.rounded_rectangle((0.7 * w, 0.78 * h, 0.86 * w, 0.86 * h), 50, fill=(214, 160, 90))
    for i in range(4):
        x = 0.72 * w + i * 0.035 * w
        d.line([(x, 0.79 * h), (x + 30, 0.85 * h)], fill=(170, 115, 60), width=8)


def _tools(d, w, h, c, rng):
    x0, x1, y0, y1 = 0.2 * w, 0.8 * w, 0.14 * h, 0.8 * h  # a pegboard
    d.rounded_rectangle((x0, y0, x1, y1), 24, fill=(222, 184, 135))
    for i in range(1, 24):
        for j in range(1, 14):
            x, y = x0 + i * (x1 - x0) / 24, y0 + j * (y1 - y0) / 14
            d.ellipse((x - 5, y - 5, x + 5, y + 5), fill=(180, 140, 95))
    hx = 0.3 * w  # hammer
    d.rounded_rectangle((hx - 14, 0.3 * h, hx + 14, 0.7 * h), 10, fill=(150, 95, 50))
    d.rounded_rectangle((hx - 70, 0.24 * h, hx + 70, 0.32 * h), 12, fill=c[3])
    wx = 0.45 * w  # wrench
    d.line([(wx, 0.34 * h), (wx, 0.7 * h)], fill=(120, 130, 140), width=30)
    d.ellipse((wx - 50, 0.24 * h, wx + 50, 0.36 * h), fill=(120, 130, 140))
    d.rectangle((wx - 16, 0.22 * h, wx + 16, 0.28 * h), fill=(222, 184, 135))
    sx = 0.58 * w  # saw
    d.polygon(
        [(sx, 0.3 * h), (sx + 0.16 * w, 0.36 * h), (sx + 0.16 * w, 0.44 * h), (sx, 0.44 * h)],
        fill=(200, 205, 210),
    )
    for i in range(12):
        x = sx + i * 0.0133 * w
        d.polygon(
            [(x, 0.44 * h), (x + 0.0133 * w, 0.44 * h), (x + 0.0066 * w, 0.465 * h)],
            fill=(200, 205, 210),
        )
    d.rounded_rectangle((sx - 0.05 * w, 0.3 * h, sx + 10, 0.44 * h), 20, fill=c[0])
    d.rounded_rectangle((0.58 * w, 0.55 * h, 0.72 * w, 0.63 * h), 14, fill=c[4])  # a drill
    d.rounded_rectangle((0.6 * w, 0.6 * h, 0.64 * w, 0.74 * h), 10, fill=c[3])
    d.line([(0.72 * w, 0.59 * h), (0.77 * w, 0.59 * h)], fill=(120, 130, 140), width=10)


_MOTIFS = {
    "fridge": _fridge,
    "tools": _tools,
    "water": _water,
    "community": _community,
    "food": _food,
    "mobility": _mobility,
    "arts": _arts,
    "environment": _environment,
    "sport": _sport,
    "education": _education,
    "health": _health,
    "housing": _housing,
    "other": _other,
}
