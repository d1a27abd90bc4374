"""The words people read: sentence case on every account page, one funding-model label, money
with its currency in the pledge help, no "by 30 days after launch"."""

import re
from html.parser import HTMLParser

import pytest
from allauth.account.forms import default_token_generator
from allauth.account.models import EmailAddress, EmailConfirmationHMAC
from allauth.account.utils import user_pk_to_url_str
from django.urls import reverse

from campaigns.models import FundingModel
from tests.factories import PASSWORD, CampaignFactory, MemberFactory, RewardTierFactory

pytestmark = pytest.mark.django_db

# Words that keep their capital inside a phrase.
PROPER_NOUNS = {"Groundswell", "I", "Stripe"}


class _Phrases(HTMLParser):
    """Collects what reads as a heading, a button or a label: title, h1–h3, button, label,
    .button links, placeholders, and the page's messages."""

    CONTAINERS = {"title", "h1", "h2", "h3", "button", "label", "legend"}

    def __init__(self):
        super().__init__()
        self.phrases, self._open = [], []

    def handle_starttag(self, tag, attrs):
        for entry in self._open:
            entry[1] += "\n"  # an element inside (a link, a badge) starts a new phrase
        attrs = dict(attrs)
        if attrs.get("placeholder"):
            self.phrases.append(attrs["placeholder"])
        classes = (attrs.get("class") or "").split()
        if tag in self.CONTAINERS or "button" in classes or "flash" in classes:
            self._open.append([tag, ""])

    def handle_endtag(self, tag):
        for entry in self._open:
            entry[1] += "\n"
        if self._open and self._open[-1][0] == tag:
            text = self._open.pop()[1]
            self.phrases += [" ".join(part.split()) for part in text.split("\n")]

    def handle_data(self, data):
        for entry in self._open:
            entry[1] += data


def phrases(html):
    parser = _Phrases()
    parser.feed(html)
    return [phrase for phrase in parser.phrases if phrase]


def title_case_words(phrase):
    """Capitalised words that do not start a sentence and are not names: "Sign *Up*"."""
    found = []
    for sentence in re.split(r"(?<=[.:?!·])\s+", phrase):
        words = sentence.split()
        for word in words[1:]:
            bare = word.strip("()\"'“”,.:;!?")
            if bare[:1].isupper() and bare not in PROPER_NOUNS and "@" not in bare:
                found.append(word)
    return found


def test_the_checker_catches_title_case():
    html = "<h1>Sign Up</h1><label>Remember Me:</label><button>Log in</button>"
    assert [title_case_words(p) for p in phrases(html)] == [["Up"], ["Me:"], []]
    assert phrases("<label>a@b.org <span>Verified</span></label>") == ["a@b.org", "Verified"]
    assert title_case_words("Groundswell · Log in") == []


def assert_sentence_case(response):
    assert response.status_code == 200, response.status_code
    offending = {p: w for p in phrases(response.content.decode()) if (w := title_case_words(p))}
    assert offending == {}


def _reset_url(member):
    key = default_token_generator.make_token(member)
    return reverse(
        "account_reset_password_from_key",
        kwargs={"uidb36": user_pk_to_url_str(member), "key": key},
    )


def _confirmation_url(member):
    address = EmailAddress.objects.create(
        user=member, email="second@example.org", verified=False, primary=False
    )
    return reverse("account_confirm_email", args=[EmailConfirmationHMAC(address).key])


ANONYMOUS_PAGES = [
    "account_login",
    "account_signup",
    "account_reset_password",
    "account_reset_password_done",
    "account_reset_password_from_key_done",
    "account_email_verification_sent",
    "account_inactive",
]


@pytest.mark.parametrize("name", ANONYMOUS_PAGES)
def test_account_pages_are_in_sentence_case(client, name):
    assert_sentence_case(client.get(reverse(name)))


@pytest.mark.parametrize(
    "name",
    ["account_logout", "account_change_password", "account_email", "account_reauthenticate"],
)
def test_account_pages_for_members_are_in_sentence_case(client, name):
    client.force_login(MemberFactory())
    assert_sentence_case(client.get(reverse(name)))


def test_set_password_page_is_in_sentence_case(client):
    member = MemberFactory()
    member.set_unusable_password()
    member.save()
    client.force_login(member)
    assert_sentence_case(client.get(reverse("account_set_password")))


def test_password_reset_link_pages_are_in_sentence_case(client):
    member = MemberFactory()
    response = client.get(_reset_url(member), follow=True)
    assert_sentence_case(response)
    assert "Choose a new password" in response.content.decode()
    assert 'placeholder="New password"' in response.content.decode()
    bad = reverse("account_reset_password_from_key", kwargs={"uidb36": "zz", "key": "bad-key"})
    response = client.get(bad, follow=True)
    assert_sentence_case(response)
    assert "This link no longer works" in response.content.decode()


def test_email_confirmation_pages_are_in_sentence_case(client):
    assert_sentence_case(client.get(_confirmation_url(MemberFactory())))
    response = client.get(reverse("account_confirm_email", args=["not-a-key"]))
    assert_sentence_case(response)


def test_pages_after_a_form_error_are_in_sentence_case(client):
    member = MemberFactory()
    response = client.post(reverse("account_login"), {"login": member.email, "password": "no"})
    assert_sentence_case(response)
    assert_sentence_case(client.post(reverse("account_signup"), {"email": "x"}))


def test_the_site_words_for_logging_in_and_out(client):
    member = MemberFactory()
    login = client.get(reverse("account_login")).content.decode()
    assert "<h1>Log in</h1>" in re.sub(r"\s+(?=<)|(?<=>)\s+", "", login)
    assert "Remember me</label>" in login and "Remember Me" not in login
    response = client.post(
        reverse("account_login"), {"login": member.email, "password": PASSWORD}, follow=True
    )
    assert f"You are logged in as {member.display_name}." in response.content.decode()
    response = client.post(reverse("account_logout"), follow=True)
    assert "You have logged out." in response.content.decode()


def test_change_password_labels(client):
    client.force_login(MemberFactory())
    html = client.get(reverse("account_change_password")).content.decode()
    for label in ("Current password", "New password", "New password (again)"):
        assert f">{label}:</label>" in html
        assert f'placeholder="{label}"' in html


def test_account_email_subjects_are_in_sentence_case(client, django_capture_on_commit_callbacks):
    from core.models import OutboundEmail

    MemberFactory(email="reset@example.org")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("account_reset_password"), {"email": "reset@example.org"})
        client.post(reverse("account_reset_password"), {"email": "nobody@example.org"})
        client.post(
            reverse("account_signup"),
            {
                "display_name": "Nora",
                "email": "nora@example.org",
                "password1": "pumpkin-lantern-harbour",
                "password2": "pumpkin-lantern-harbour",
            },
        )
    # Account emails go through the outbox (members.adapter): read their stored subjects.
    subjects = list(OutboundEmail.objects.values_list("subject", flat=True))
    assert len(subjects) == 3
    assert {s: w for s in subjects if (w := title_case_words(s.split("] ", 1)[-1]))} == {}


# --- Campaign pages -----------------------------------------------------------------------------
def _funding_box(html):
    """The funding box's model line, as text."""
    box = re.search(r'<p class="funding-model">(.*?)</p>', html, re.S).group(1)
    return " ".join(re.sub(r"<[^>]+>", " ", box).split())


@pytest.mark.parametrize("model", [FundingModel.FLEXIBLE, FundingModel.ALL_OR_NOTHING])
def test_the_funding_box_names_the_model_once(client, model):
    campaign = CampaignFactory(live=True, funding_model=model)
    box = _funding_box(client.get(campaign.get_absolute_url()).content.decode())
    label = str(model.label)
    assert box.count(label) + box.count(label.lower()) == 1, box


def test_a_draft_preview_says_within_days_of_launch(client):
    campaign = CampaignFactory(duration_days=30, goal_minor=100_000)
    client.force_login(campaign.organizer)
    html = client.get(reverse("campaigns:preview", args=[campaign.pk])).content.decode()
    box = _funding_box(html)
    assert "reaches €1,000 within 30 days of launch." in box
    assert "days after launch" not in html


def test_the_pledge_help_shows_the_minimum_with_its_currency(client):
    campaign = CampaignFactory(live=True, currency="GBP")
    RewardTierFactory(campaign=campaign, minimum_minor=1_500, title="Tote bag")
    client.force_login(MemberFactory())
    html = client.get(reverse("pledges:new", args=[campaign.slug])).content.decode()
    assert 'data-minimum-hint="This reward needs at least £15.00."' in html
