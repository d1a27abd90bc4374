"""factory_boy factories for the test suite."""

import factory
from allauth.account.models import EmailAddress

from members.models import Member

PASSWORD = "a-long-test-password-42"


class MemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Member
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"member{n}@example.org")
    display_name = factory.Faker("name")
    location = "Ghent"
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def verified(member, create, extracted, **kwargs):
        member.save()
        if create and extracted is not False:
            EmailAddress.objects.create(
                user=member, email=member.email, verified=True, primary=True
            )


# --- campaigns ------------------------------------------------------------------------------
import datetime as _dt  # noqa: E402

from django.utils import timezone  # noqa: E402

from campaigns.models import (  # noqa: E402
    BudgetItem,
    Campaign,
    Category,
    FundingModel,
    RewardTier,
    StretchGoal,
)
from pledges.models import Pledge  # noqa: E402


class CampaignFactory(factory.django.DjangoModelFactory):
    """A complete draft; use `live=True` (trait) for a launched campaign."""

    class Meta:
        model = Campaign

    organizer = factory.SubFactory(MemberFactory)
    title = factory.Sequence(lambda n: f"Community garden number {n}")
    slug = factory.Sequence(lambda n: f"community-garden-{n}")
    summary = "Raised beds and a tool shed for the whole street."
    story = (
        "We want to turn the empty lot on Elm Street into a garden where neighbours grow food "
        "together. Your pledge buys soil, seeds and a shed."
    )
    story_html = factory.LazyAttribute(lambda o: f"<p>{o.story}</p>")
    category = Category.FOOD
    location = "Ghent"
    goal_minor = 500_000
    currency = "EUR"
    funding_model = FundingModel.ALL_OR_NOTHING
    duration_days = 30

    class Params:
        live = factory.Trait(
            status=Campaign.Status.LIVE,
            launched_at=factory.LazyFunction(lambda: timezone.now() - _dt.timedelta(days=2)),
            deadline=factory.LazyFunction(lambda: timezone.now() + _dt.timedelta(days=28)),
        )
        in_review = factory.Trait(
            status=Campaign.Status.IN_REVIEW, submitted_at=factory.LazyFunction(timezone.now)
        )
        approved = factory.Trait(status=Campaign.Status.APPROVED)


class RewardTierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RewardTier

    campaign = factory.SubFactory(CampaignFactory)
    title = factory.Sequence(lambda n: f"Reward {n}")
    description = "A thank-you card from the gardeners."
    minimum_minor = 1_000


class BudgetItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BudgetItem

    campaign = factory.SubFactory(CampaignFactory)
    label = factory.Sequence(lambda n: f"Budget item {n}")
    amount_minor = 50_000
    required = True


class StretchGoalFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StretchGoal

    campaign = factory.SubFactory(CampaignFactory)
    amount_minor = factory.Sequence(lambda n: 600_000 + n * 100_000)
    description = "A rain-water tank."


class PledgeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Pledge

    campaign = factory.SubFactory(CampaignFactory, live=True)
    supporter = factory.SubFactory(MemberFactory)
    amount_minor = 2_500
    currency = factory.LazyAttribute(lambda o: o.campaign.currency)
    status = Pledge.Status.ACTIVE
    activated_at = factory.LazyAttribute(
        lambda o: timezone.now() if o.status in Pledge.COUNTED_STATUSES else None
    )


class ReviewerFactory(MemberFactory):
    """Platform staff allowed to review and moderate campaigns (not a superuser)."""

    is_staff = True

    @factory.post_generation
    def moderation_permissions(member, create, extracted, **kwargs):
        from django.contrib.auth.models import Permission

        if create:
            member.user_permissions.add(
                *Permission.objects.filter(
                    content_type__app_label="campaigns",
                    codename__in=["review_campaign", "moderate_campaign", "view_campaign"],
                )
            )


# --- two-factor authentication (members.two_factor) ----------------------------------------
def enrol_in_two_factor(member):
    """An authenticator app and recovery codes, as allauth's activation leaves them (made once);
    returns the RecoveryCodes."""
    from allauth.mfa.models import Authenticator
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    if not Authenticator.objects.filter(user=member, type=Authenticator.Type.TOTP).exists():
        TOTP.activate(member, generate_totp_secret())
    return RecoveryCodes.activate(member)


def pass_two_factor(client, member):
    """Log the client in as `member` past the admin's two-factor check: enrolled if needed, and
    a code entered on allauth's "confirm it is you" page. A recovery code, since each is new,
    where a TOTP code is refused the second time within its 30 seconds."""
    from django.urls import reverse

    recovery_codes = enrol_in_two_factor(member)
    client.force_login(member)
    response = client.post(
        reverse("mfa_reauthenticate"), {"code": recovery_codes.get_unused_codes()[0]}
    )
    assert response.status_code == 302, response.status_code
    return client
