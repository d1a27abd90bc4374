"""Members in the admin: the picture is shown, never uploaded there (that would skip the checks
and re-encoding of update_profile); moderators remove it through the service, with an audit row."""

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from core.errors import NotPermitted
from core.models import AuditEvent
from members.services import remove_avatar
from tests.factories import MemberFactory, pass_two_factor
from tests.uploads import image_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def pictured(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path  # other tests count the files in the shared media folder
    member = MemberFactory(display_name="Nora")
    member.avatar.save("nora.jpg", ContentFile(image_bytes((64, 64), "JPEG")), save=True)
    return member


@pytest.fixture
def superuser_client(client):
    admin = MemberFactory(is_staff=True, is_superuser=True)
    pass_two_factor(client, admin)
    return client, admin


def test_the_change_page_shows_the_picture_but_has_no_upload_field(superuser_client, pictured):
    client, _ = superuser_client
    page = client.get(reverse("admin:members_member_change", args=[pictured.pk])).content.decode()
    assert 'alt="Picture of Nora"' in page
    assert 'type="file"' not in page


def test_the_remove_action_goes_through_the_service(superuser_client, pictured):
    client, admin = superuser_client
    response = client.post(
        reverse("admin:members_member_changelist"),
        {"action": "remove_avatars", "_selected_action": [pictured.pk]},
        follow=True,
    )
    assert response.status_code == 200
    pictured.refresh_from_db()
    assert not pictured.avatar
    event = AuditEvent.objects.get(action="avatar_removed")
    assert (event.actor, event.target_id) == (admin, str(pictured.pk))


def test_only_staff_with_the_change_permission_may_remove_a_picture(pictured):
    with pytest.raises(NotPermitted):
        remove_avatar(pictured, by=MemberFactory(is_staff=True))
    with pytest.raises(NotPermitted):
        remove_avatar(pictured, by=MemberFactory())
    pictured.refresh_from_db()
    assert pictured.avatar
