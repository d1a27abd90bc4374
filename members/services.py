"""Every write to a member's own data."""

from members.models import Member


def update_profile(member: Member, *, display_name, bio, location, avatar=None, by: Member):
    if by.pk != member.pk:
        raise PermissionError("Members can only edit their own profile.")
    member.display_name = display_name.strip()
    member.bio = bio
    member.location = location.strip()
    fields = ["display_name", "bio", "location"]
    if avatar is not None:
        member.avatar = avatar or None
        fields.append("avatar")
    member.save(update_fields=fields)
    return member
