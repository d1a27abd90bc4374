"""Discover's word search: every word somewhere, accents and case ignored, ranked by field.

Runs on SQLite (core.search's folding function) and on PostgreSQL (full-text search with
unaccent): set DATABASE_URL=postgres://… to run the same tests there.
"""

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

import core.search
from campaigns import selectors
from campaigns.models import Category
from core.search import MAX_QUERY_WORDS, fold, query_words, score
from demo.specs import CAMPAIGNS
from tests.factories import CampaignFactory, MemberFactory, PledgeFactory

pytestmark = pytest.mark.django_db

DEMO_SLUGS = ["repair-cafe-on-wheels", "open-air-cinema-spoor-noord", "borgerhout-tool-library"]


def live_from_demo(slug):
    """A live campaign with a demo campaign's words (title, summary, story, location)."""
    spec = next(spec for spec in CAMPAIGNS if spec.slug == slug)
    return CampaignFactory(
        live=True,
        slug=spec.slug,
        title=spec.title,
        summary=spec.summary,
        story=spec.story,
        location=spec.location,
    )


def plain(title, *, summary="", story="", location="", organizer=None, **extra):
    """A live campaign with only the words given (the factory's defaults would match "garden")."""
    organizer = organizer or MemberFactory(display_name="Organizer")
    return CampaignFactory(
        live=True,
        title=title,
        summary=summary,
        story=story,
        location=location,
        organizer=organizer,
        **extra,
    )


@pytest.fixture
def found(client):
    """found("cinema park") → the titles Discover lists for that search, in order."""

    def search(q, **filters):
        response = client.get(reverse("campaigns:discover"), {"q": q, **filters})
        assert response.status_code == 200
        return [campaign.title for campaign in response.context["page"].object_list]

    return search


@pytest.fixture
def demo():
    campaigns = {slug: live_from_demo(slug) for slug in DEMO_SLUGS}
    campaigns["kiln"] = plain(
        "A shared pottery kiln",
        summary="A gas kiln for the ceramics studio in the old school.",
        location="Antwerpen-Zuid",
    )
    return campaigns


def test_the_issues_examples_find_their_campaigns(demo, found):
    assert found("cinema park") == ["Open-air cinema in Park Spoor Noord"]
    assert found("kiln zuid") == ["A shared pottery kiln"]
    assert found("repair cafe") == ["Repair Café on wheels"]


def test_words_need_not_be_adjacent_or_in_order(demo, found):
    assert found("park cinema") == ["Open-air cinema in Park Spoor Noord"]
    assert found("noord open-air") == ["Open-air cinema in Park Spoor Noord"]


def test_every_word_must_match_somewhere(demo, found):
    assert found("cinema kiln") == []
    assert found("repair zeppelin") == []


@pytest.mark.parametrize(
    ("query", "title"),
    [
        ("café", "Cafe for everyone"),
        ("cafe", "Café littéraire"),
        ("CAFÉ", "Cafe for everyone"),
        ("élan", "ELAN community choir"),
        ("straße", "Strasse festival"),
        ("søren", "Soren's workshop"),
        ("mechelen", "MECHELEN reads"),
    ],
)
def test_accents_and_case_are_ignored_both_ways(query, title, found):
    plain(title)
    plain("Something else entirely")
    assert found(query) == [title]


def test_a_partial_word_matches_as_a_prefix(demo, found):
    assert found("kil") == ["A shared pottery kiln"]
    assert found("cine par") == ["Open-air cinema in Park Spoor Noord"]
    # Only word starts: "iln" is inside "kiln", not the start of any word.
    assert found("iln") == []


def test_words_are_found_in_every_field(found):
    organizer = MemberFactory(display_name="Hélène Dubois")
    plain("Title one", summary="About a mural")
    plain("Title two", story="We will paint a fresco on the wall.")
    plain("Title three", location="Kessel-Lo")
    plain("Title four", organizer=organizer)
    assert found("mural") == ["Title one"]
    assert found("fresco") == ["Title two"]
    assert found("kessel") == ["Title three"]
    assert found("lo kessel") == ["Title three"]
    assert found("helene") == ["Title four"]
    # Different words in different fields still make one match.
    assert found("title mural") == ["Title one"]
    assert found("fresco helene") == []


def test_title_matches_rank_above_summary_above_the_rest(found):
    # Created in this order so that "newest first" would give the opposite order.
    plain("Organizer's", organizer=MemberFactory(display_name="Garden friends"))
    plain("Story", story="A garden garden garden garden garden, all garden.")
    plain("Location", location="Garden district")
    plain("Summary", summary="A garden for the street, a garden for all")
    plain("Garden", summary="nothing else")
    ranked = found("garden")
    assert ranked[:2] == ["Garden", "Summary"]
    assert sorted(ranked[2:]) == ["Location", "Organizer's", "Story"]


def test_more_words_in_the_title_rank_higher(found):
    plain("Bike library", summary="Bikes for kids in Leuven")
    plain("Leuven bike library", summary="Bikes for kids")
    assert found("leuven bike library") == ["Leuven bike library", "Bike library"]


def test_an_explicit_sort_overrides_the_ranking(found):
    now_first = plain("Story", story="garden")
    plain("Garden")
    PledgeFactory(campaign=now_first, amount_minor=90_000)
    assert found("garden")[0] == "Garden"
    assert found("garden", sort="most_funded") == ["Story", "Garden"]


def test_best_match_is_offered_only_with_a_search(demo, client):
    searching = client.get(reverse("campaigns:discover"), {"q": "cinema"})
    assert [key for key, _ in searching.context["form"].fields["sort"].choices][0] == "relevance"
    browsing = client.get(reverse("campaigns:discover"))
    assert "relevance" not in dict(browsing.context["form"].fields["sort"].choices)
    # A stale ?sort=relevance without a search falls back to newest instead of failing.
    response = client.get(reverse("campaigns:discover"), {"sort": "relevance"})
    assert response.status_code == 200
    assert len(response.context["page"].object_list) == len(demo)


@pytest.mark.parametrize(
    "query",
    [
        "%",
        "_",
        "\\",
        "'",
        '"',
        "&|!:*()",
        "repair & !cafe",
        "repair:* | (cafe",
        "café'); DROP TABLE campaigns_campaign; --",
        "100%",
        "a_b",
        "\\%\\_",
        "<script>alert(1)</script>",
        "\x00",
        "½ ² ﬁ",
        "ﷺ" * 200,  # NFKD makes each 18 letters: one 3,600-letter word
        "ʼ" * 200,
        "   ",
    ],
)
def test_special_characters_never_break_the_search(demo, query, client):
    response = client.get(reverse("campaigns:discover"), {"q": query})
    assert response.status_code == 200


def test_punctuation_is_a_word_separator_not_a_wildcard(demo, found):
    plain("100 trees")
    plain("1000 trees and more")
    assert found("%") == []
    # As LIKE wildcards, "1_0" and "1%0" would match "100" and "1000"; as separators they make
    # the words "1" and "0", and no word starts with "0".
    assert found("1_0 trees") == []
    assert found("1%0 trees") == []
    assert sorted(found("100% trees")) == ["100 trees", "1000 trees and more"]
    assert found("repair & !cafe") == ["Repair Café on wheels"]
    assert found("repair:* | (cafe") == ["Repair Café on wheels"]
    assert found("'repair' \"cafe\"") == ["Repair Café on wheels"]


def test_a_very_long_query_is_cut_not_refused(demo, client):
    response = client.get(reverse("campaigns:discover"), {"q": "cinema " * 1500})
    assert response.status_code == 200
    assert [c.title for c in response.context["page"].object_list] == [
        "Open-air cinema in Park Spoor Noord"
    ]
    assert client.get(reverse("campaigns:discover"), {"q": "x" * 10_000}).status_code == 200


def test_query_words_are_capped_and_deduplicated():
    words = query_words(" ".join(f"word{n}" for n in range(50)) + " word1")
    assert words == [f"word{n}" for n in range(MAX_QUERY_WORDS)]
    assert query_words("Repair  REPAIR café, Café!") == ["repair", "cafe"]
    assert len(query_words("a" * 10_000)[0]) == 200


def test_folding_matches_postgres_unaccent_for_common_letters():
    assert fold("Ærøskøbing Œuvre Łódź ẞtraße") == "aeroskobing oeuvre lodz sstrasse"
    assert fold("Open-air cinema, Park-Spoor_Noord!") == "open-air cinema, park-spoor_noord!"


def test_the_score_counts_words_at_word_starts_weighted_by_field():
    texts = [(100, "Open-air Cinéma"), (10, None), (1, "Park-Spoor_Noord, Antwerpen")]
    assert score(["cinema", "park"], texts) == 101
    assert score(["air", "noord", "cine"], texts) == 201
    # Every word must be somewhere; inside a word ("inema", "werpen") is not a word start.
    assert score(["cinema", "zeppelin"], texts) == 0
    assert score(["inema"], texts) == 0
    assert score(["werpen"], texts) == 0
    assert score([], texts) == 0


def test_search_query_count_does_not_grow(demo, client):
    url = reverse("campaigns:discover")

    def count(params):
        client.get(url, params)
        cache.clear()
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url, params).status_code == 200
        return len(queries)

    plain("Garden 100")
    few = count({"q": "garden"})
    for n in range(15):
        plain(f"Garden {n}", story="garden " * n)
    assert count({"q": "garden"}) == few
    plain("Garden park cinema kiln library a b c d e f g h")
    assert count({"q": "garden park cinema kiln library a b c d e f g h"}) == few


EIGHT_WORDS = "the a to and of in is for"


def test_search_work_per_row_does_not_grow_with_the_number_of_words(client, monkeypatch):
    """Each word re-read every field of every row (40 foldings per row for eight words on
    SQLite, 25 tsvectors per row on PostgreSQL): an anonymous denial of service."""
    for n in range(4):
        plain(f"Campaign {n} for the", summary="A summary", story=f"{EIGHT_WORDS} " * 50)
    folded = []
    monkeypatch.setattr(core.search, "fold", lambda text: folded.append(1) or fold(text))

    def work(q):
        folded.clear()
        with CaptureQueriesContext(connection) as queries:
            response = client.get(reverse("campaigns:discover"), {"q": q})
        assert len(response.context["page"].object_list) == 4
        tsvectors = sum(query["sql"].count("to_tsvector(") for query in queries)
        return len(folded), tsvectors

    one, eight = work("the"), work(EIGHT_WORDS)
    assert eight == one
    if connection.vendor == "sqlite":
        # The query once; then two queries (count, page), each folding a row's title, summary
        # and the rest once.
        assert eight == (1 + 2 * 4 * 3, 0)
    else:
        # One tsvector per field group in each query's SQL (evaluated once per row).
        assert eight == (1, 2 * len(selectors.SEARCH_FIELDS))


@pytest.mark.parametrize("sort", list(selectors.SORTS))
def test_a_search_combines_with_every_filter_and_sort(sort, found):
    wanted = plain("Garden in Gent", location="Gent", category=Category.FOOD)
    PledgeFactory(campaign=wanted, amount_minor=10_000)
    plain("Garden in Gent too", location="Gent", category=Category.ARTS)
    plain("Garden elsewhere", location="Brugge", category=Category.FOOD)
    plain("Gent without it", location="Gent", category=Category.FOOD)
    filters = {"category": Category.FOOD, "location": "gent", "sort": sort}
    assert found("garden", **filters) == ["Garden in Gent"]
    assert sorted(found("garden", sort=sort)) == [
        "Garden elsewhere",
        "Garden in Gent",
        "Garden in Gent too",
    ]


def test_the_selector_annotates_a_rank(demo):
    campaigns = selectors.discover(q="repair cafe", sort="relevance")
    assert [(c.title, c.search_rank > 0) for c in campaigns] == [("Repair Café on wheels", True)]


# PostgreSQL's unaccent runs on the query after Python has cut it into words, and its rules map
# some characters Python counts as letters to tsquery syntax: ʼ ʻ ʹ ʽ ˈ → ', ː → :, ʺ → ",
# ˆ → ^, ˋ → `, ŉ → 'n (every such rule in unaccent.rules of PostgreSQL 15).
UNACCENT_TO_PUNCTUATION = ["ʼ", "ʻ", "ʹ", "ʽ", "ˈ", "ː", "ʺ", "ˆ", "ˋ", "ŉ"]


@pytest.mark.postgres
@pytest.mark.parametrize("char", UNACCENT_TO_PUNCTUATION)
def test_letters_unaccent_turns_into_tsquery_syntax_never_break_the_search(char, client):
    plain(f"Hawai{char}i cafe")
    for query in [f"a{char}b", char, f"{char}{char}", f"cafe {char}a", f"a{char}", "\\" + char]:
        response = client.get(reverse("campaigns:discover"), {"q": query})
        assert response.status_code == 200, query
    # The word still finds the campaign that has it (both sides are unaccented alike).
    response = client.get(reverse("campaigns:discover"), {"q": f"hawai{char}i"})
    assert [c.title for c in response.context["page"].object_list] == [f"Hawai{char}i cafe"]


# Arbitrary unicode, and text made mostly of what tsquery, LIKE and unaccent treat specially.
_queries = st.one_of(
    st.text(max_size=60),
    st.text(
        st.sampled_from([*UNACCENT_TO_PUNCTUATION, *"&|!:*()<->'\"%_ ", "a", "é", "ﷺ", "½"]),
        max_size=30,
    ),
)


@hypothesis_settings(
    max_examples=200,
    deadline=None,
    database=None,  # nothing written to .hypothesis/ in the shared checkout
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(query=_queries)
def test_any_query_gets_a_page_never_an_error(demo, client, query):
    response = client.get(reverse("campaigns:discover"), {"q": query})
    assert response.status_code == 200
    assert len(response.context["page"].object_list) <= len(demo)
