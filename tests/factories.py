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
