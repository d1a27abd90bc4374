"""Members: the custom user model (email login), public profiles, sign-up via django-allauth."""

from django.apps import AppConfig


class MembersConfig(AppConfig):
    name = "members"
    verbose_name = "Members"
