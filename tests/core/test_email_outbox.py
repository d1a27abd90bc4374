"""The email outbox: stored once per key, sent once by its task, retried and then failed where
an admin sees it, swept when its message was lost, and sent again from the admin."""

import smtplib
import threading
from datetime import timedelta

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Permission
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.locmem import EmailBackend as MemoryBackend
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from core import emails
from core.models import AuditEvent, OutboundEmail
from core.tasks import send_outbound_email, send_queued_emails
from tests.conftest import wait_for
from tests.factories import CampaignFactory, MemberFactory

pytestmark = pytest.mark.django_db

Status = OutboundEmail.Status
BACKENDS = "tests.core.test_email_outbox"
CHANGELIST = reverse("admin:core_outboundemail_changelist")


class FailingBackend(BaseEmailBackend):
    """A mail server that is down."""

    def send_messages(self, email_messages):
        raise smtplib.SMTPException("421 Service not available, try again later")


class RefusingBackend(BaseEmailBackend):
    """A mail server that refuses the recipient with `code` (class attribute)."""

    code = 550

    def send_messages(self, email_messages):
        to = email_messages[0].to[0]
        raise smtplib.SMTPRecipientsRefused({to: (self.code, b"mailbox unavailable")})


class BrokenBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise ValueError("a bug, not a delivery problem")


class BlockingBackend(MemoryBackend):
    """Delivers to mail.outbox, but only once the test lets it (to hold a run mid-send)."""

    entered = threading.Event()
    release = threading.Event()

    def send_messages(self, email_messages):
        BlockingBackend.entered.set()
        assert BlockingBackend.release.wait(timeout=20)
        return super().send_messages(email_messages)


def _queue(key="campaign:1:approved:organizer", to="organizer@example.org", campaign=None):
    campaign = campaign or CampaignFactory(title="Elm Street garden")
    return emails.queue_email(key, to, "campaign_approved", {"campaign": campaign, "note": ""})


def _age(email, **delta):
    """Pretend the row was last touched `delta` ago (update() skips auto_now)."""
    OutboundEmail.objects.filter(pk=email.pk).update(updated_at=timezone.now() - timedelta(**delta))


# --- queueing ---------------------------------------------------------------------------------
def test_a_key_queued_twice_is_stored_once_and_sent_once(
    celery_eager, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        first, first_created = _queue()
        again, again_created = _queue()

    assert (first_created, again_created) == (True, False)
    assert again.pk == first.pk
    assert OutboundEmail.objects.count() == 1
    assert len(callbacks) == 1
    assert len(mail.outbox) == 1
    first.refresh_from_db()
    assert first.status == Status.SENT
    assert first.sent_at is not None
    assert first.attempts == 1


def test_queued_email_is_rendered_when_queued(settings, django_capture_on_commit_callbacks):
    settings.SITE_URL = "https://groundswell.example"
    campaign = CampaignFactory(title="Elm Street garden")

    with django_capture_on_commit_callbacks() as callbacks:
        email, created = _queue(campaign=campaign)

    assert created
    assert len(callbacks) == 1  # scheduled, not run: nothing is sent before commit
    email.refresh_from_db()
    assert email.key == "campaign:1:approved:organizer"
    assert email.to == "organizer@example.org"
    assert email.template == "campaign_approved"
    assert email.subject == "[Groundswell] Your campaign “Elm Street garden” is approved"
    edit_url = reverse("campaigns:edit", args=[campaign.pk])
    assert f"Launch your campaign: https://groundswell.example{edit_url}" in email.body_text
    assert "“Elm Street garden” has been approved" in email.body_text
    # The HTML alternative is the same text in the site's layout, its links kept as links.
    assert "Groundswell" in email.body_html
    assert "&ldquo;Elm Street garden&rdquo; has been approved" in email.body_html or (
        "“Elm Street garden” has been approved" in email.body_html
    )
    assert f'<a href="https://groundswell.example{edit_url}"' in email.body_html
    assert email.headers == {}
    assert (email.status, email.attempts, email.last_error, email.sent_at) == (
        Status.QUEUED,
        0,
        "",
        None,
    )
    assert mail.outbox == []


def test_queue_email_stores_what_render_email_renders():
    campaign = CampaignFactory()
    context = {"campaign": campaign, "note": "Lovely."}

    email, _created = emails.queue_email("k", "organizer@example.org", "campaign_approved", context)

    rendered = emails.render_email("campaign_approved", {**context, "unsubscribe_url": ""})
    assert (email.subject, email.body_text) == rendered


def test_an_email_queued_in_a_rolled_back_transaction_is_neither_stored_nor_sent(
    celery_eager, django_capture_on_commit_callbacks
):
    campaign = CampaignFactory()
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        _queue(campaign=campaign)
        raise RuntimeError("the caller's change failed")

    assert callbacks == []
    assert not OutboundEmail.objects.exists()
    assert mail.outbox == []


def test_a_stored_key_is_left_alone_whatever_its_status(django_capture_on_commit_callbacks):
    email, _created = _queue()
    OutboundEmail.objects.filter(pk=email.pk).update(status=Status.FAILED, attempts=9)

    with django_capture_on_commit_callbacks() as callbacks:
        again, created = _queue()

    assert not created
    assert again.pk == email.pk
    assert again.status == Status.FAILED
    assert callbacks == []


def test_queue_email_refuses_a_list_of_recipients_and_an_overlong_key():
    campaign = CampaignFactory()
    with pytest.raises(TypeError):
        emails.queue_email("k", ["a@example.org"], "campaign_approved", {"campaign": campaign})
    with pytest.raises(ValueError, match="too long"):
        emails.queue_email("k" * 201, "a@example.org", "campaign_approved", {})
    assert not OutboundEmail.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_transactions_queueing_the_same_key_store_one_row_and_send_once(celery_eager):
    """The second insert waits on the unique index for the first transaction, then gets the
    stored row instead of an IntegrityError; only the winner's commit sends."""
    campaign = CampaignFactory()
    context = {"campaign": campaign, "note": ""}
    holding = threading.Event()
    commit = threading.Event()
    results = {}

    def first():
        try:
            with transaction.atomic():
                results["first"] = emails.queue_email(
                    "race", "a@example.org", "campaign_approved", context
                )
                holding.set()
                assert commit.wait(timeout=20)
        finally:
            connection.close()

    def second():
        try:
            results["second"] = emails.queue_email(
                "race", "a@example.org", "campaign_approved", context
            )
        finally:
            connection.close()

    def second_waits_on_a_lock():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND query LIKE 'INSERT INTO \"core_outboundemail\"%%'"
            )
            return cursor.fetchone()[0] == 1

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    threads[0].start()
    assert holding.wait(timeout=20)
    threads[1].start()
    assert wait_for(second_waits_on_a_lock)
    commit.set()
    for thread in threads:
        thread.join(timeout=20)

    (winner, won), (loser, lost) = results["first"], results["second"]
    assert (won, lost) == (True, False)
    assert loser.pk == winner.pk
    assert OutboundEmail.objects.count() == 1
    assert len(mail.outbox) == 1


# --- sending ----------------------------------------------------------------------------------
def test_the_send_task_sends_the_stored_email_and_marks_it_sent():
    email, _created = _queue()

    assert send_outbound_email(email.pk) == "sent"

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["organizer@example.org"]
    assert message.subject == email.subject
    assert message.body == email.body_text
    assert message.alternatives == [(email.body_html, "text/html")]
    assert "List-Unsubscribe" not in message.extra_headers
    email.refresh_from_db()
    assert email.status == Status.SENT
    assert email.sent_at is not None
    assert email.attempts == 1


def test_the_send_task_run_twice_sends_once(celery_eager):
    email, _created = _queue()

    first = send_outbound_email.apply(args=[email.pk]).get()
    second = send_outbound_email.apply(args=[email.pk]).get()

    assert (first, second) == ("sent", "skipped")
    assert len(mail.outbox) == 1
    email.refresh_from_db()
    assert email.attempts == 1


def test_the_send_task_for_a_missing_email_does_nothing():
    assert send_outbound_email(123456) == "skipped"
    assert mail.outbox == []


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_send_once(settings):
    """One run is inside the mail server conversation when the other starts: the claim is
    taken, so the other sends nothing."""
    settings.EMAIL_BACKEND = f"{BACKENDS}.BlockingBackend"
    BlockingBackend.entered.clear()
    BlockingBackend.release.clear()
    email, _created = _queue()
    outcome = {}

    def run():
        try:
            outcome["first"] = send_outbound_email(email.pk)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    try:
        assert BlockingBackend.entered.wait(timeout=20)
        assert OutboundEmail.objects.get(pk=email.pk).status == Status.SENDING
        outcome["second"] = send_outbound_email(email.pk)
    finally:
        BlockingBackend.release.set()
        thread.join(timeout=20)

    assert outcome == {"first": "sent", "second": "skipped"}
    assert len(mail.outbox) == 1
    assert OutboundEmail.objects.get(pk=email.pk).status == Status.SENT


def test_an_html_body_goes_out_as_the_alternative_to_the_text():
    email, _created = _queue()
    OutboundEmail.objects.filter(pk=email.pk).update(body_html="<p>Approved</p>")

    emails.deliver(email.pk)

    assert mail.outbox[0].body == email.body_text
    assert mail.outbox[0].alternatives == [("<p>Approved</p>", "text/html")]


def test_the_html_alternative_escapes_what_the_text_holds():
    campaign = CampaignFactory(title="<script>alert(1)</script> garden")

    email, _created = emails.queue_email(
        "k", "organizer@example.org", "campaign_approved", {"campaign": campaign, "note": ""}
    )

    assert "<script>" not in email.body_html
    assert "&lt;script&gt;" in email.body_html


def test_the_plain_text_is_never_html_escaped_and_the_html_always_is():
    # pledge_released's templates say nothing about escaping: the rule is render_email's.
    from tests.factories import PledgeFactory

    pledge = PledgeFactory(campaign=CampaignFactory(live=True, title='Bread & "roses" <3'))

    subject, body = emails.render_email(
        "pledge_released", {"pledge": pledge, "campaign": pledge.campaign}
    )
    email, _created = emails.queue_email(
        "k", "s@example.org", "pledge_released", {"pledge": pledge, "campaign": pledge.campaign}
    )

    assert 'Bread & "roses" <3' in subject
    assert 'Bread & "roses" <3' in body
    assert "&amp;" not in body and "&quot;" not in body
    assert "Bread &amp; &quot;roses&quot; &lt;3" in email.body_html


def test_an_optional_email_carries_the_one_click_unsubscribe_headers_and_link():
    url = "https://groundswell.example/unsubscribe/abc/"
    email, _created = emails.queue_email(
        "k",
        "member@example.org",
        "campaign_approved",
        {"campaign": CampaignFactory(), "note": ""},
        unsubscribe_url=url,
    )

    emails.deliver(email.pk)

    message = mail.outbox[0]
    assert message.extra_headers == {
        "List-Unsubscribe": f"<{url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    assert message.message()["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert f'href="{url}"' in message.alternatives[0][0]


# --- failures ---------------------------------------------------------------------------------
def test_a_mail_server_that_is_down_costs_an_attempt_each_run_until_the_email_fails(settings):
    settings.EMAIL_BACKEND = f"{BACKENDS}.FailingBackend"
    email, _created = _queue()

    for attempt in range(1, emails.MAX_SEND_ATTEMPTS):
        with pytest.raises(emails.EmailNotSent):
            emails.deliver(email.pk)
        email.refresh_from_db()
        assert (email.status, email.attempts) == (Status.QUEUED, attempt)
        assert email.last_error == "SMTPException: 421 Service not available, try again later"

    assert emails.deliver(email.pk) == emails.DeliveryOutcome.FAILED

    email.refresh_from_db()
    assert email.status == Status.FAILED
    assert email.attempts == emails.MAX_SEND_ATTEMPTS
    assert "421 Service not available" in email.last_error
    assert email.sent_at is None
    assert mail.outbox == []
    assert emails.deliver(email.pk) == emails.DeliveryOutcome.SKIPPED  # failed stays failed


def test_the_task_retries_a_failing_send_and_leaves_the_email_failed(settings):
    # apply() runs the retries in-process at once, without their countdown: Celery's own
    # retry path, with the row's attempt count deciding when to stop.
    settings.EMAIL_BACKEND = f"{BACKENDS}.FailingBackend"
    email, _created = _queue()

    result = send_outbound_email.apply(args=[email.pk], throw=False)

    assert result.get() == "failed"
    email.refresh_from_db()
    assert email.status == Status.FAILED
    assert email.attempts == emails.MAX_SEND_ATTEMPTS
    assert send_outbound_email.max_retries == emails.MAX_SEND_ATTEMPTS - 1


def test_a_recipient_refused_for_good_fails_at_once_but_a_greylisting_refusal_is_retried(
    settings,
):
    settings.EMAIL_BACKEND = f"{BACKENDS}.RefusingBackend"
    refused, _created = _queue(key="a", to="nobody@example.org")
    greylisted, _created = _queue(key="b", to="later@example.org")

    assert emails.deliver(refused.pk) == emails.DeliveryOutcome.FAILED
    RefusingBackend.code = 450
    try:
        with pytest.raises(emails.EmailNotSent):
            emails.deliver(greylisted.pk)
    finally:
        RefusingBackend.code = 550

    refused.refresh_from_db()
    greylisted.refresh_from_db()
    assert (refused.status, refused.attempts) == (Status.FAILED, 1)
    assert "SMTPRecipientsRefused" in refused.last_error
    assert (greylisted.status, greylisted.attempts) == (Status.QUEUED, 1)


def test_an_unexpected_error_fails_the_email_with_its_traceback(settings):
    settings.EMAIL_BACKEND = f"{BACKENDS}.BrokenBackend"
    email, _created = _queue()

    assert emails.deliver(email.pk) == emails.DeliveryOutcome.FAILED

    email.refresh_from_db()
    assert email.status == Status.FAILED
    assert "Traceback" in email.last_error
    assert "a bug, not a delivery problem" in email.last_error


# --- the sweep --------------------------------------------------------------------------------
def test_the_sweep_sends_queued_emails_whose_message_was_lost(celery_eager):
    campaign = CampaignFactory()
    lost, _created = _queue(key="lost", campaign=campaign)
    fresh, _created = _queue(key="fresh", campaign=campaign)
    waiting_for_retry, _created = _queue(key="retrying", campaign=campaign)
    _age(lost, minutes=2)
    OutboundEmail.objects.filter(pk=waiting_for_retry.pk).update(attempts=3)
    _age(waiting_for_retry, minutes=20)

    assert send_queued_emails() == 1

    assert [m.to for m in mail.outbox] == [["organizer@example.org"]]
    statuses = dict(OutboundEmail.objects.values_list("key", "status"))
    assert statuses == {"lost": Status.SENT, "fresh": Status.QUEUED, "retrying": Status.QUEUED}


def test_the_sweep_gives_up_on_a_lost_retry_only_after_the_longest_backoff(celery_eager):
    email, _created = _queue()
    OutboundEmail.objects.filter(pk=email.pk).update(attempts=3)
    _age(email, seconds=emails.RETRY_BACKOFF_MAX + 6 * 60)

    assert send_queued_emails() == 1

    email.refresh_from_db()
    assert (email.status, email.attempts) == (Status.SENT, 4)


def test_the_sweep_goes_in_pk_order_and_is_bounded(monkeypatch):
    campaign = CampaignFactory()
    rows = [_queue(key=f"k{i}", campaign=campaign)[0] for i in range(3)]
    for row in rows:
        _age(row, minutes=5)
    scheduled = []
    monkeypatch.setattr(send_outbound_email, "delay", scheduled.append)

    assert emails.dispatch_stale(limit=2) == 2
    assert scheduled == [rows[0].pk, rows[1].pk]
    # The rows it scheduled wait a full period before the next sweep schedules them again.
    assert emails.dispatch_stale(limit=2) == 1
    assert scheduled == [rows[0].pk, rows[1].pk, rows[2].pk]


def test_the_sweep_hands_an_email_a_dead_run_left_sending_to_a_new_run(celery_eager):
    """The at-least-once window: the dead run may have got it out, this sends it again."""
    campaign = CampaignFactory()
    stuck, _created = _queue(key="stuck", campaign=campaign)
    spent, _created = _queue(key="spent", campaign=campaign)
    busy, _created = _queue(key="busy", campaign=campaign)
    OutboundEmail.objects.filter(pk=stuck.pk).update(status=Status.SENDING, attempts=1)
    OutboundEmail.objects.filter(pk=spent.pk).update(
        status=Status.SENDING, attempts=emails.MAX_SEND_ATTEMPTS
    )
    OutboundEmail.objects.filter(pk=busy.pk).update(status=Status.SENDING, attempts=1)
    _age(stuck, minutes=11)
    _age(spent, minutes=11)
    _age(busy, minutes=2)  # a run that may still be talking to the mail server

    assert send_queued_emails() == 1

    assert len(mail.outbox) == 1
    stuck.refresh_from_db()
    spent.refresh_from_db()
    assert (stuck.status, stuck.attempts) == (Status.SENT, 2)
    assert spent.status == Status.FAILED
    assert "stopped before recording" in spent.last_error
    assert OutboundEmail.objects.get(pk=busy.pk).status == Status.SENDING


# --- the admin --------------------------------------------------------------------------------
def _failed(key, **fields):
    email, _created = _queue(key=key)
    OutboundEmail.objects.filter(pk=email.pk).update(
        status=Status.FAILED, attempts=9, last_error="SMTPException: 421 try later", **fields
    )
    email.refresh_from_db()
    return email


def _messages(response):
    return [str(m) for m in response.wsgi_request._messages]


def test_the_outbox_changelist_flags_failed_emails(admin_client):
    failed = _failed("failed")
    sent, _created = _queue(key="sent")
    OutboundEmail.objects.filter(pk=sent.pk).update(status=Status.SENT, sent_at=timezone.now())

    response = admin_client.get(CHANGELIST)

    assert response.status_code == 200
    assert {e.pk for e in response.context["cl"].result_list} == {failed.pk, sent.pk}
    html = response.content.decode()
    assert "1 email failed." in html
    assert f"{CHANGELIST}?status__exact=failed" in html
    assert 'title="SMTPException: 421 try later">Failed</strong>' in html
    assert 'value="send_again"' in html

    only_failed = admin_client.get(CHANGELIST, {"status__exact": "failed"})
    assert [e.pk for e in only_failed.context["cl"].result_list] == [failed.pk]
    assert "1 email failed." not in only_failed.content.decode()

    found = admin_client.get(CHANGELIST, {"q": "sent"})
    assert [e.pk for e in found.context["cl"].result_list] == [sent.pk]


def test_the_outbox_detail_shows_the_body_read_only(admin_client):
    email = _failed("failed")

    response = admin_client.get(reverse("admin:core_outboundemail_change", args=[email.pk]))

    assert response.status_code == 200
    html = response.content.decode()
    assert "has been approved" in html
    assert "SMTPException: 421 try later" in html
    assert 'name="_save"' not in html


def test_an_email_holding_a_one_time_link_is_hidden_from_staff_and_removed_once_sent(
    admin_client,
):
    link = "https://groundswell.example/accounts/password/reset/key/abc-123/"
    email, _created = emails.queue_rendered(
        "account:password_reset_key:1",
        "member@example.org",
        "account/password_reset_key",
        subject="[Groundswell] Password reset",
        body_text=f"Reset it here: {link}",
        holds_secret=True,
    )
    detail = reverse("admin:core_outboundemail_change", args=[email.pk])

    assert link not in admin_client.get(detail).content.decode()  # queued: hidden

    assert emails.deliver(email.pk) == "sent"

    assert link in mail.outbox[0].body  # the member got it
    assert link in mail.outbox[0].alternatives[0][0]
    email.refresh_from_db()
    assert email.body_text == emails.SECRET_REMOVED and email.body_html == ""
    assert link not in admin_client.get(detail).content.decode()


def test_send_again_requeues_failed_emails_with_an_audit_row(
    admin_client, admin_user, celery_eager, django_capture_on_commit_callbacks
):
    failed = _failed("failed")
    sent, _created = _queue(key="sent")
    OutboundEmail.objects.filter(pk=sent.pk).update(status=Status.SENT, sent_at=timezone.now())

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            CHANGELIST,
            {"action": "send_again", ACTION_CHECKBOX_NAME: [failed.pk, sent.pk], "index": 0},
        )

    assert response.status_code == 302
    assert _messages(response) == [
        "1 email queued to be sent again.",
        "Only failed emails are sent again; 1 left as they were.",
    ]
    events = AuditEvent.objects.filter(action="email:requeue")
    assert [(e.target_id, e.actor, e.from_status, e.to_status) for e in events] == [
        (str(failed.pk), admin_user, "failed", "queued")
    ]
    assert "after 9 attempt(s): SMTPException: 421 try later" in events[0].note
    failed.refresh_from_db()
    assert (failed.status, failed.attempts) == (Status.SENT, 1)
    assert len(mail.outbox) == 1


def test_send_again_needs_its_permission(client):
    staff = MemberFactory(is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_outboundemail"))
    client.force_login(staff)
    _failed("failed")

    response = client.get(CHANGELIST)

    assert response.status_code == 200
    assert 'value="send_again"' not in response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_the_migration_marks_account_emails_stored_before_it_and_blanks_the_sent_ones():
    from django.db.migrations.executor import MigrationExecutor

    before, after = (
        [("core", "0005_outboundemail_headers")],
        [("core", "0006_outboundemail_holds_secret")],
    )
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    Old = executor.loader.project_state(before).apps.get_model("core", "OutboundEmail")
    link = "https://groundswell.example/accounts/password/reset/key/abc/"
    common = {"to": "m@example.org", "subject": "s", "body_html": f"<a href='{link}'>"}
    Old.objects.create(
        key="a1",
        template="account/password_reset_key",
        status="sent",
        sent_at=timezone.now(),
        body_text=link,
        **common,
    )
    Old.objects.create(key="a2", template="account/email_confirmation", body_text=link, **common)
    Old.objects.create(key="p1", template="pledge_confirmed", body_text="thanks", **common)

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(after)

    rows = {e.key: e for e in OutboundEmail.objects.all()}
    assert (rows["a1"].holds_secret, rows["a1"].body_text, rows["a1"].body_html) == (
        True,
        emails.SECRET_REMOVED,
        "",
    )
    assert rows["a2"].holds_secret and rows["a2"].body_text == link  # queued: still to send
    assert not rows["p1"].holds_secret and rows["p1"].body_text == "thanks"
