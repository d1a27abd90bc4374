"""django-allauth's account adapter: its emails (address confirmation, password reset, ...)
go through our outbox like every other email (core.emails): stored once, sent by a task after
commit, retried, and kept where an admin sees a failure."""

import uuid

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context as allauth_context
from django.contrib.sites.shortcuts import get_current_site

from core.emails import queue_rendered


class AccountAdapter(DefaultAccountAdapter):
    def send_mail(self, template_prefix, email, context):
        # What allauth's own send_mail puts in the context, then its rendering.
        request = allauth_context.request
        context = {
            "request": request,
            "email": email,
            "current_site": get_current_site(request),
            **context,
        }
        message = self.render_mail(template_prefix, email, context)
        html = next(
            (
                content
                for content, mimetype in getattr(message, "alternatives", []) or []
                if mimetype == "text/html"
            ),
            "",
        )
        name = template_prefix.rsplit("/", 1)[-1]
        # Every call is its own event (a member asking twice for a reset gets two emails).
        queue_rendered(
            f"account:{name}:{uuid.uuid4().hex}",
            email,
            f"account/{name}",
            subject=message.subject,
            body_text=message.body,
            body_html=html,
            # Confirmation, password reset and sign-in links: not for staff reading the outbox.
            holds_secret=True,
        )
