"""Transactional email from templates: templates/emails/<name>_subject.txt and _body.txt, and
an HTML alternative in the site's look: templates/emails/<name>_body.html when there is one,
else the plain text set in emails/layout.html (paragraphs and links kept).

The platform's emails go through the outbox (allauth sends its account emails itself), which
sends exactly once per key: `queue_email` stores the rendered email (OutboundEmail) the first
time a key is seen and schedules the task after commit; `deliver` is what the task runs
(claim, send, record); `dispatch_stale` is the sweep for rows whose task message was lost;
`requeue` is the admin's "Send again". Every write to OutboundEmail is in this module.

Delivery is at least once, at most once in all but one case: a run that the mail server has
accepted the message from but that dies (worker killed, database gone) before its UPDATE to
"sent" leaves the row "sending"; after SEND_LEASE the sweep hands it to a new run, which sends
it again. Nothing on our side can close that window (SMTP has no idempotency key).
"""

import logging
import smtplib
import traceback
from datetime import timedelta
from enum import StrEnum

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.template import Context, TemplateDoesNotExist
from django.template.loader import get_template, render_to_string
from django.utils import timezone, translation

from core.models import OutboundEmail, record

logger = logging.getLogger(__name__)

SUBJECT_PREFIX = "[Groundswell] "
# The first try and 8 retries with backoff (30 s doubling, at most 30 minutes apart, jittered):
# about an hour and a half of a mail server being down before an email lands as "failed".
MAX_SEND_ATTEMPTS = 9
RETRY_BACKOFF = 30
RETRY_BACKOFF_MAX = 30 * 60
# A queued row that no task has touched for this long lost its message (broker restart, an
# on_commit dispatch that raised); the sweep sends it a new one. A row waiting for a retry is
# left alone for up to the longest backoff.
LOST_AFTER = timedelta(minutes=1)
RETRY_LOST_AFTER = timedelta(seconds=RETRY_BACKOFF_MAX) + timedelta(minutes=5)
# A run is killed after config.celery's task_time_limit (300 s): a row "sending" for longer
# than this belongs to a dead run.
SEND_LEASE = timedelta(minutes=10)
SWEEP_BATCH = 200
MAX_ERROR_LENGTH = 4000
# What a sent email that held a one-time link keeps of its body (queue_rendered).
SECRET_REMOVED = "(Removed once sent: this email held a one-time link.)"


class EmailNotSent(Exception):
    """A temporary delivery failure (the row is queued again): the task retries on it."""


class DeliveryOutcome(StrEnum):
    SENT = "sent"
    FAILED = "failed"  # for good: permanent refusal, unexpected error or out of attempts
    SKIPPED = "skipped"  # missing, or not queued (another run has it, or it is done)


def render_email(name, context):
    """(subject, plain-text body) of template `name`; the context gets SITE_URL."""
    context = {"SITE_URL": settings.SITE_URL, **context}
    subject = " ".join(_render_text(f"emails/{name}_subject.txt", context).split())
    body = _render_text(f"emails/{name}_body.txt", context)
    return f"{SUBJECT_PREFIX}{subject}", body


def _render_text(template_name, context):
    """A plain-text template rendered without HTML escaping (a title "Bread & roses" stays
    so in the text), whether or not the template says {% autoescape off %}; a plain str."""
    template = get_template(template_name).template
    return "".join(["", template.render(Context(context, autoescape=False))])


def render_email_html(name, context, *, subject, body_text):
    """The HTML alternative of email `name`: its own _body.html template when it has one, or
    the plain-text body in the layout (escaped; paragraphs, line breaks and links kept)."""
    context = _html_context(context, subject)
    try:
        return render_to_string(f"emails/{name}_body.html", context)
    except TemplateDoesNotExist:
        pass
    return _in_layout(context, body_text)


def _html_context(context, subject):
    return {
        "SITE_URL": settings.SITE_URL,
        "LANGUAGE_CODE": translation.get_language() or settings.LANGUAGE_CODE,
        **context,
        "subject": subject,
    }


def _in_layout(context, body_text):
    """The plain-text body set in emails/layout.html (its HTML context from _html_context)."""
    # A plain str (never marked safe): the layout escapes what a campaign title or a member's
    # name may hold.
    plain_text = "".join(["", body_text])
    return render_to_string("emails/layout.html", {**context, "body_text": plain_text})


def unsubscribe_headers(url):
    """The headers of a one-click unsubscribe (RFC 8058): mail clients POST
    "List-Unsubscribe=One-Click" to `url`, which must be an https URL in production."""
    return {
        "List-Unsubscribe": f"<{url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def queue_email(key, to, name, context, *, unsubscribe_url=""):
    """Store email `name` for `to` under `key` once, and send it in a task after commit.

    key: which event for whom, e.g. "pledge:42:charge_failed:attempt:3"; a key already
        stored is left alone (whatever its status), so a caller that runs twice sends once.
    unsubscribe_url: for optional emails (community.notifications), the signed one-click link:
        it goes into the List-Unsubscribe headers and, as `unsubscribe_url`, the templates.
    Renders now (plain text and HTML), in the active language. Returns (OutboundEmail,
    created). Safe inside the caller's transaction: a concurrent insert of the same key is
    caught in a savepoint.
    """
    _check_key_and_recipient(key, to)
    existing = OutboundEmail.objects.filter(key=key).first()
    if existing is not None:
        return existing, False
    context = {**context, "unsubscribe_url": unsubscribe_url}
    subject, body = render_email(name, context)
    html = render_email_html(name, context, subject=subject, body_text=body)
    return _store(
        key,
        to,
        name,
        subject=subject,
        body_text=body,
        body_html=html,
        headers=unsubscribe_headers(unsubscribe_url) if unsubscribe_url else {},
    )


def queue_rendered(key, to, name, *, subject, body_text, body_html="", holds_secret=False):
    """Like queue_email, for an email another library rendered (django-allauth's account
    emails, members.adapter); without its own HTML it gets the text in the site's layout.
    holds_secret: the body holds a one-time link (password reset, confirmation): the admin
    never shows it, and it is removed once sent (nobody needs it after; nobody may use it)."""
    _check_key_and_recipient(key, to)
    if not body_html:
        body_html = _in_layout(_html_context({}, subject), body_text)
    return _store(
        key,
        to,
        name,
        subject=subject,
        body_text=body_text,
        body_html=body_html,
        holds_secret=holds_secret,
    )


def _check_key_and_recipient(key, to):
    if not isinstance(to, str):
        raise TypeError("the outbox sends to one address; queue one email per recipient")
    if len(key) > OutboundEmail._meta.get_field("key").max_length:
        raise ValueError(f"email key too long: {key!r}")


def _store(key, to, name, **fields):
    """Insert the email (key and recipient checked by the caller) and send it after commit;
    (OutboundEmail, created)."""
    try:
        with transaction.atomic():
            email = OutboundEmail.objects.create(key=key, to=to, template=name, **fields)
    except IntegrityError:
        # Lost the race for this key; the winner's transaction has committed (the unique index
        # waited for it), so its row is visible.
        return OutboundEmail.objects.get(key=key), False
    _schedule_send(email.pk)
    return email, True


def deliver(email_id):
    """Send one queued email and record the outcome; what the send task runs.

    The claim is a conditional UPDATE (queued → sending), so of two runs at once only one
    sends. Raises EmailNotSent after a temporary failure (row queued again, with its error),
    for the task to retry; after MAX_SEND_ATTEMPTS, or a permanent refusal, the row is failed.
    """
    claimed = OutboundEmail.objects.filter(pk=email_id, status=OutboundEmail.Status.QUEUED).update(
        status=OutboundEmail.Status.SENDING, attempts=F("attempts") + 1, updated_at=timezone.now()
    )
    if not claimed:
        return DeliveryOutcome.SKIPPED
    email = OutboundEmail.objects.get(pk=email_id)
    try:
        _send(email)
    except OSError as exc:  # smtplib.SMTPException, refused connections, timeouts
        error = f"{type(exc).__name__}: {exc}"
        if _is_permanent(exc) or email.attempts >= MAX_SEND_ATTEMPTS:
            logger.error("email %s (%s) failed for good: %s", email.pk, email.key, error)
            _finish_failed(email, error)
            return DeliveryOutcome.FAILED
        logger.warning("email %s (%s) attempt %s: %s", email.pk, email.key, email.attempts, error)
        _release(email, error)
        raise EmailNotSent(f"email {email.pk}: {error}") from exc
    except Exception:
        # Not a delivery problem but a bug (a broken backend, a bad stored address): retrying
        # will not help, and the row must not sit in "sending" until the lease runs out.
        logger.exception("email %s (%s) could not be sent", email.pk, email.key)
        _finish_failed(email, traceback.format_exc())
        return DeliveryOutcome.FAILED
    now = timezone.now()
    sent = {"status": OutboundEmail.Status.SENT, "sent_at": now, "updated_at": now}
    if email.holds_secret:
        sent.update(body_text=SECRET_REMOVED, body_html="")
    # Unconditional: the mail server has it, whatever the sweep did with the row meanwhile.
    OutboundEmail.objects.filter(pk=email.pk).update(**sent)
    return DeliveryOutcome.SENT


def dispatch_stale(*, limit=SWEEP_BATCH):
    """The sweep: give a new task to queued rows whose message was lost, and to rows a dead
    run left "sending" (the at-least-once window, see the module docstring). Oldest first,
    at most `limit` per run; returns how many tasks it scheduled."""
    now = timezone.now()
    Status = OutboundEmail.Status
    recovered = []
    for email in OutboundEmail.objects.filter(
        status=Status.SENDING, updated_at__lt=now - SEND_LEASE
    ).order_by("pk")[:limit]:
        error = "The run sending this email stopped before recording the result."
        if email.attempts >= MAX_SEND_ATTEMPTS:
            _finish_failed(email, error)
        elif _release(email, error):
            recovered.append(email.pk)
    stale = list(
        OutboundEmail.objects.filter(status=Status.QUEUED)
        .filter(
            Q(attempts=0, updated_at__lt=now - LOST_AFTER)
            | Q(attempts__gt=0, updated_at__lt=now - RETRY_LOST_AFTER)
        )
        .order_by("pk")
        .values_list("pk", flat=True)[: max(limit - len(recovered), 0)]
    )
    # Touch them so the next sweep waits a full period before sending another message (a
    # second message is harmless, the claim makes it a no-op, but it is work for nothing).
    OutboundEmail.objects.filter(pk__in=stale, status=Status.QUEUED).update(updated_at=now)
    from core.tasks import send_outbound_email

    scheduled = sorted(recovered + stale)
    for pk in scheduled:
        send_outbound_email.delay(pk)
    return len(scheduled)


def requeue(emails, *, by):
    """Send failed emails again with a fresh set of attempts ("Send again" in the admin);
    one audit row each. Rows that are not failed are left alone. Returns how many."""
    with transaction.atomic():
        failed = list(
            OutboundEmail.objects.select_for_update()
            .filter(pk__in=[email.pk for email in emails], status=OutboundEmail.Status.FAILED)
            .order_by("pk")
        )
        for email in failed:
            note = f"after {email.attempts} attempt(s): {email.last_error[:500]}"
            email.status = OutboundEmail.Status.QUEUED
            email.attempts = 0
            email.save(update_fields=["status", "attempts", "updated_at"])
            record(
                email,
                action="email:requeue",
                by=by,
                from_status=OutboundEmail.Status.FAILED,
                to_status=OutboundEmail.Status.QUEUED,
                note=note,
            )
            _schedule_send(email.pk)
    return len(failed)


def _schedule_send(email_pk):
    from core.tasks import send_outbound_email

    # robust: a broker that is down must not fail the caller's committed transaction; the
    # sweep sends the row a message a minute later.
    transaction.on_commit(lambda: send_outbound_email.delay(email_pk), robust=True)


def _send(email):
    message = EmailMultiAlternatives(
        email.subject,
        email.body_text,
        settings.DEFAULT_FROM_EMAIL,
        [email.to],
        headers=email.headers or None,
    )
    if email.body_html:
        message.attach_alternative(email.body_html, "text/html")
    message.send()


def _is_permanent(exc):
    # A 5xx refusal of the recipient will not change on retry (a 4xx, greylisting, will).
    return isinstance(exc, smtplib.SMTPRecipientsRefused) and all(
        code >= 500 for code, _message in exc.recipients.values()
    )


def _release(email, error):
    """Back to queued after a failed attempt, for the retry (or the sweep) to pick up."""
    return OutboundEmail.objects.filter(pk=email.pk, status=OutboundEmail.Status.SENDING).update(
        status=OutboundEmail.Status.QUEUED,
        last_error=error[-MAX_ERROR_LENGTH:],
        updated_at=timezone.now(),
    )


def _finish_failed(email, error):
    OutboundEmail.objects.filter(pk=email.pk, status=OutboundEmail.Status.SENDING).update(
        status=OutboundEmail.Status.FAILED,
        last_error=error[-MAX_ERROR_LENGTH:],
        updated_at=timezone.now(),
    )
