"""Transactional email from templates: templates/emails/<name>_subject.txt and _body.txt."""

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string


def send_templated_email(to, name, context):
    """Send one plain-text email; `to` is an address or a list of addresses."""
    recipients = [to] if isinstance(to, str) else list(to)
    context = {"SITE_URL": settings.SITE_URL, **context}
    subject = " ".join(render_to_string(f"emails/{name}_subject.txt", context).split())
    body = render_to_string(f"emails/{name}_body.txt", context)
    send_mail(f"[Groundswell] {subject}", body, settings.DEFAULT_FROM_EMAIL, recipients)
