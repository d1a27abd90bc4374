"""The member (custom user model): email is the login; display name, bio, location, avatar."""

from django.contrib.auth.base_user import BaseUserManager
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models.functions import Lower
from django.urls import reverse

from core.images import stored_name


class MemberManager(BaseUserManager):
    use_in_migrations = True

    def _create(self, email, password, **extra):
        if not email:
            raise ValueError("A member needs an email address.")
        member = self.model(email=self.normalize_email(email).lower(), **extra)
        member.set_password(password)
        member.save(using=self._db)
        return member

    def create_user(self, email, password=None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create(email, password, **extra)

    def create_superuser(self, email, password=None, **extra):
        extra.update(is_staff=True, is_superuser=True)
        return self._create(email, password, **extra)


def avatar_path(member, filename):
    """Our own random name (core.images.stored_name): never the uploader's name or extension."""
    return f"avatars/{member.pk or 'new'}/{stored_name(filename)}"


class Member(AbstractUser):
    username = None
    first_name = None
    last_name = None
    email = models.EmailField("email address", unique=True)
    display_name = models.CharField(
        max_length=80, help_text="Shown publicly next to your activity."
    )
    bio = models.TextField(max_length=500, blank=True)
    location = models.CharField(max_length=120, blank=True, help_text="Town or region.")
    avatar = models.ImageField(upload_to=avatar_path, blank=True)

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["display_name"]

    objects = MemberManager()

    class Meta:
        ordering = ["display_name", "id"]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="member_email_ci_unique"),
        ]

    def __str__(self):
        return self.display_name or self.email

    def get_absolute_url(self):
        return reverse("members:profile", args=[self.pk])

    def get_full_name(self):
        return self.display_name

    def get_short_name(self):
        return self.display_name
