"""Demo members for the quick start: verified emails, known password, idempotent."""

from allauth.account.models import EmailAddress

from members.models import Member

DEMO_PASSWORD = "groundswell-demo"

DEMO_MEMBERS = [
    # key, email, display name, location, staff
    ("admin", "admin@groundswell.local", "Ada Admin", "Brussels", True),
    ("organizer", "organizer@groundswell.local", "Olivia Organizer", "Ghent", False),
    ("supporter", "supporter@groundswell.local", "Sam Supporter", "Leuven", False),
]


def ensure_demo_members():
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
