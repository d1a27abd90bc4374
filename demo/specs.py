"""What the demo holds: its members, supporters and campaigns, as data (no database here).

Fifteen campaigns (`CAMPAIGNS`) across categories, Belgian towns and both funding models, in
every state a visitor, organizer or admin should meet: draft, changes requested, in review,
approved, rejected, live at 5–140 %, one ending within a day, funded, not funded, cancelled;
with rewards (some limited, one sold out), budgets and stretch goals. `ENDING_SOON` is the
campaign that ends two minutes after seeding, with its three pledges (`ENDING_SOON_PLEDGES`):
one on a card that charges, one on a card declined when charged, one on a card that needs
3-D Secure for every payment. demo.seeding makes all of it through the services.
"""

from dataclasses import dataclass, field

from campaigns.models import FundingModel

AON, FLEX = FundingModel.ALL_OR_NOTHING, FundingModel.FLEXIBLE

# Everyone in the demo logs in with this password (README, bin/dev).
DEMO_PASSWORD = "groundswell-demo"

DEMO_MEMBERS = [
    # key, email, display name, location, staff
    ("admin", "admin@groundswell.local", "Ada Admin", "Brussels", True),
    ("organizer", "organizer@groundswell.local", "Olivia Organizer", "Ghent", False),
    ("supporter", "supporter@groundswell.local", "Sam Supporter", "Leuven", False),
]

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


# --- the campaign that ends two minutes after seeding ---------------------------------------
# Stripe's test cards (the stand-in knows them by these PaymentMethod ids).
CARD_OK = "pm_card_visa"
CARD_DECLINED_WHEN_CHARGED = "pm_card_chargeCustomerFail"
CARD_NEEDS_AUTHENTICATION = "pm_card_authenticationRequired"  # 3-D Secure on every payment
ENDING_SOON_MINUTES = 2

ENDING_SOON = Spec(
    slug="soup-night-gent-sint-pieters",
    title="Hot soup at Gent-Sint-Pieters tonight",
    summary="Forty litres of vegetable soup and bread for the people who sleep around the "
    "station, served by volunteers from the neighbourhood kitchen.",
    category="food",
    location="Ghent",
    goal=150,
    funding_model=AON,
    duration_days=1,  # launched a day before it ends (seeding launches it that far back)
    state="live",
    supporters=3,
    story="""Every Thursday night our neighbourhood kitchen serves soup at the station. Tonight
we cook for twice as many people as usual: the night shelter is full.

**€150** buys the vegetables, the bread and the gas for the big pans. If we reach it, your
card is charged when the campaign ends — in a few minutes.
""",
    rewards=[
        Reward("A bowl for someone", "You pay for a bowl of soup and a piece of bread.", 5),
        Reward("A pan of soup", "Your name on tonight's pan (forty bowls).", 40),
    ],
    budget=[("Vegetables and bread", 110, True), ("Gas for the pans", 40, True)],
)

# supporter key, euros, card. The demo's own supporter login gets the one that needs
# 3-D Secure, so whoever tries the demo can open the email's link and pay.
ENDING_SOON_PLEDGES = [
    ("jonas", 80, CARD_OK),
    ("lotte", 50, CARD_DECLINED_WHEN_CHARGED),
    ("supporter", 40, CARD_NEEDS_AUTHENTICATION),
]
