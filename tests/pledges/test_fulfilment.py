"""Reward fulfilment (pledges.fulfilment): marking a reward sent or not sent, one by one from
the supporters list and in bulk from a CSV, where each row is applied in its own transaction
and each bad line is reported with its number and changes nothing."""

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Collaborator
from core.errors import DomainError, NotPermitted
from core.models import AuditEvent
from pledges import fulfilment
from pledges.models import Pledge
from tests.factories import CampaignFactory, MemberFactory, PledgeFactory, RewardTierFactory
from tests.uploads import image_bytes

pytestmark = pytest.mark.django_db

Status = Pledge.Status


@pytest.fixture
def campaign():
    return CampaignFactory(live=True)


@pytest.fixture
def reward(campaign):
    return RewardTierFactory(campaign=campaign, title="Tote bag")


def collected(campaign, reward, **fields):
    return PledgeFactory(campaign=campaign, reward=reward, status=Status.COLLECTED, **fields)


def audits(pledge, action):
    return list(AuditEvent.objects.filter(target_id=str(pledge.pk), action=action).order_by("pk"))


def csv_file(text, *, name="sent.csv", encoding="utf-8"):
    content = text.encode(encoding) if isinstance(text, str) else text
    return SimpleUploadedFile(name, content, content_type="text/csv")


# --- one by one -------------------------------------------------------------------------------
def test_the_organizer_marks_a_collected_reward_sent_with_an_audit_row(campaign, reward):
    pledge = collected(campaign, reward)
    fulfilment.mark_reward_sent(pledge, by=campaign.organizer, tracking="  PARCEL-123  ")
    pledge.refresh_from_db()
    assert pledge.reward_sent_at is not None
    assert pledge.reward_tracking == "PARCEL-123"
    (event,) = audits(pledge, "reward:sent")
    assert event.actor == campaign.organizer and event.note == "PARCEL-123"

    # The same again changes nothing; a new reference corrects it, keeping when it was sent.
    sent_at = pledge.reward_sent_at
    fulfilment.mark_reward_sent(pledge, by=campaign.organizer, tracking="PARCEL-123")
    assert len(audits(pledge, "reward:sent")) == 1
    fulfilment.mark_reward_sent(pledge, by=campaign.organizer, tracking="PARCEL-456")
    pledge.refresh_from_db()
    assert (pledge.reward_sent_at, pledge.reward_tracking) == (sent_at, "PARCEL-456")
    assert len(audits(pledge, "reward:sent")) == 2


def test_marking_not_sent_undoes_it_and_is_audited(campaign, reward):
    pledge = collected(campaign, reward, reward_sent_at=timezone.now(), reward_tracking="P-1")
    fulfilment.mark_reward_not_sent(pledge, by=campaign.organizer)
    pledge.refresh_from_db()
    assert pledge.reward_sent_at is None and pledge.reward_tracking == ""
    (event,) = audits(pledge, "reward:unsent")
    assert event.note == "P-1" and event.actor == campaign.organizer
    fulfilment.mark_reward_not_sent(pledge, by=campaign.organizer)  # nothing to undo
    assert len(audits(pledge, "reward:unsent")) == 1


def test_co_organizers_may_mark_and_strangers_may_not(campaign, reward):
    pledge = collected(campaign, reward)
    co_organizer = MemberFactory()
    Collaborator.objects.create(
        campaign=campaign,
        email=co_organizer.email,
        member=co_organizer,
        invited_by=campaign.organizer,
        accepted_at=timezone.now(),
    )
    for stranger in (MemberFactory(), pledge.supporter):
        with pytest.raises(NotPermitted):
            fulfilment.mark_reward_sent(pledge, by=stranger)
        with pytest.raises(NotPermitted):
            fulfilment.mark_reward_not_sent(pledge, by=stranger)
    fulfilment.mark_reward_sent(pledge, by=co_organizer)
    assert Pledge.objects.get(pk=pledge.pk).reward_sent_at is not None


@pytest.mark.parametrize(
    ("status", "with_reward", "refusal"),
    [
        (Status.ACTIVE, True, "not collected"),
        (Status.DROPPED, True, "not collected"),
        (Status.REFUNDED, True, "not collected"),
        (Status.COLLECTED, False, "no reward"),
    ],
)
def test_only_collected_pledges_with_a_reward_can_be_marked(
    campaign, reward, status, with_reward, refusal
):
    pledge = PledgeFactory(campaign=campaign, reward=reward if with_reward else None, status=status)
    with pytest.raises(DomainError, match=refusal):
        fulfilment.mark_reward_sent(pledge, by=campaign.organizer)
    assert Pledge.objects.get(pk=pledge.pk).reward_sent_at is None
    assert not audits(pledge, "reward:sent")


def test_partly_refunded_pledges_can_be_marked(campaign, reward):
    pledge = PledgeFactory(campaign=campaign, reward=reward, status=Status.PARTIALLY_REFUNDED)
    fulfilment.mark_reward_sent(pledge, by=campaign.organizer)
    assert Pledge.objects.get(pk=pledge.pk).reward_sent_at is not None


def test_a_tracking_reference_has_at_most_200_characters(campaign, reward):
    pledge = collected(campaign, reward)
    with pytest.raises(DomainError, match="at most 200"):
        fulfilment.mark_reward_sent(pledge, by=campaign.organizer, tracking="x" * 201)
    fulfilment.mark_reward_sent(pledge, by=campaign.organizer, tracking="x" * 200)


def test_mark_sent_and_not_sent_from_the_supporters_list(client, campaign, reward):
    pledge = collected(campaign, reward, public_name="Marie")
    client.force_login(campaign.organizer)
    listed = client.get(reverse("community:supporters", args=[campaign.pk])).content.decode()
    sent_url = reverse("community:reward_sent", args=[campaign.pk, pledge.public_id])
    assert sent_url in listed

    response = client.post(sent_url, {"tracking": "PARCEL-9", "status": "collected"})
    assert response.status_code == 302
    assert response["Location"].startswith(
        reverse("community:supporters", args=[campaign.pk]) + "?status=collected"
    )
    pledge.refresh_from_db()
    assert pledge.reward_tracking == "PARCEL-9"
    listed = client.get(reverse("community:supporters", args=[campaign.pk])).content.decode()
    assert "PARCEL-9" in listed and "Mark not sent" in listed

    client.post(reverse("community:reward_not_sent", args=[campaign.pk, pledge.public_id]))
    pledge.refresh_from_db()
    assert pledge.reward_sent_at is None
    assert [e.action for e in AuditEvent.objects.filter(target_id=str(pledge.pk))] == [
        "reward:unsent",
        "reward:sent",
    ]


def test_a_refused_mark_is_a_message_and_strangers_get_a_404(client, campaign, reward):
    active = PledgeFactory(campaign=campaign, reward=reward, status=Status.ACTIVE)
    client.force_login(campaign.organizer)
    sent_url = reverse("community:reward_sent", args=[campaign.pk, active.public_id])
    response = client.post(sent_url, {"tracking": ""}, follow=True)
    assert "not collected" in response.content.decode()
    assert Pledge.objects.get(pk=active.pk).reward_sent_at is None

    client.force_login(MemberFactory())
    assert client.post(sent_url, {"tracking": ""}).status_code == 404
    other = PledgeFactory(reward=None, status=Status.COLLECTED)  # of another campaign
    client.force_login(campaign.organizer)
    foreign = reverse("community:reward_sent", args=[campaign.pk, other.public_id])
    assert client.post(foreign, {"tracking": ""}).status_code == 404


# --- in bulk ----------------------------------------------------------------------------------
def test_a_mixed_file_applies_the_good_lines_and_reports_each_bad_one(campaign, reward):
    good = collected(campaign, reward)
    good_without_tracking = collected(campaign, reward)
    not_collected = PledgeFactory(campaign=campaign, reward=reward, status=Status.ACTIVE)
    no_reward = PledgeFactory(campaign=campaign, reward=None, status=Status.COLLECTED)
    elsewhere = PledgeFactory(
        reward=RewardTierFactory(), status=Status.COLLECTED
    )  # another campaign
    duplicate = collected(campaign, reward)
    long_tracking = collected(campaign, reward)
    text = "\r\n".join(
        [
            "Pledge id,Tracking",  # line 1: the header, any case
            f"{good.public_id},PARCEL-1",  # 2
            f"{good_without_tracking.public_id},",  # 3
            f"{not_collected.public_id},PARCEL-3",  # 4
            f"{no_reward.public_id},PARCEL-4",  # 5
            f"{elsewhere.public_id},PARCEL-5",  # 6
            "00000000-0000-4000-8000-000000000000,PARCEL-6",  # 7: no such pledge
            "not-a-uuid,PARCEL-7",  # 8
            f"{duplicate.public_id},PARCEL-8",  # 9
            f"{duplicate.public_id},PARCEL-9",  # 10: again
            f"{long_tracking.public_id},{'x' * 201}",  # 11
            f"{long_tracking.public_id}",  # 12: a column missing
            "",  # 13: blank lines are skipped
            ',"PARCEL-14"',  # 14: no id
        ]
    )
    report = fulfilment.bulk_mark_from_csv(campaign, by=campaign.organizer, file=csv_file(text))

    assert report.applied == 3  # good, good_without_tracking, duplicate (first time)
    problems = {problem.line: problem.reason for problem in report.problems}
    assert sorted(problems) == [4, 5, 6, 7, 8, 10, 11, 12, 14]
    assert "not collected" in problems[4]
    assert "no reward" in problems[5]
    # Another campaign's pledge reads as no pledge at all: its existence is not the team's.
    assert problems[6] == problems[7] == "No pledge of this campaign has this id."
    assert "not a pledge id" in problems[8]
    assert "already on line 9" in problems[10]
    assert "at most 200" in problems[11]
    assert "column is missing" in problems[12]
    assert "id is missing" in problems[14]

    for pledge, tracking in (
        (good, "PARCEL-1"),
        (good_without_tracking, ""),
        (duplicate, "PARCEL-8"),
    ):
        pledge.refresh_from_db()
        assert pledge.reward_sent_at is not None and pledge.reward_tracking == tracking
        assert len(audits(pledge, "reward:sent")) == 1
    for untouched in (not_collected, no_reward, elsewhere, long_tracking):
        untouched.refresh_from_db()
        assert untouched.reward_sent_at is None and untouched.reward_tracking == ""
        assert not audits(untouched, "reward:sent")


def test_a_row_that_fails_half_way_is_rolled_back_alone(monkeypatch, campaign, reward):
    first, failing, last = (collected(campaign, reward) for _ in range(3))
    real_record = fulfilment.record

    def record(target, **kwargs):
        if target.pk == failing.pk:  # after its row was saved: the audit cannot be written
            raise DomainError("The audit log is not available.")
        return real_record(target, **kwargs)

    monkeypatch.setattr(fulfilment, "record", record)
    text = "pledge id,tracking\n" + "".join(
        f"{p.public_id},T-{p.pk}\n" for p in (first, failing, last)
    )
    report = fulfilment.bulk_mark_from_csv(campaign, by=campaign.organizer, file=csv_file(text))

    assert report.applied == 2
    assert [(p.line, p.reason) for p in report.problems] == [(3, "The audit log is not available.")]
    failing.refresh_from_db()
    assert failing.reward_sent_at is None and failing.reward_tracking == ""
    for pledge in (first, last):
        pledge.refresh_from_db()
        assert pledge.reward_tracking == f"T-{pledge.pk}"


def upload(campaign, pledges, tracking="T"):
    text = "pledge id,tracking\n" + "".join(f"{p.public_id},{tracking}\n" for p in pledges)
    return fulfilment.bulk_mark_from_csv(campaign, by=campaign.organizer, file=csv_file(text))


def queries_of(call):
    with CaptureQueriesContext(connection) as queries:
        report = call()
    return len(queries), report


def test_rows_with_nothing_to_do_cost_no_statement_and_a_row_to_mark_a_few(campaign, reward):
    """The file's pledges are read in one query up front (a few on SQLite): a row refused or
    already so by that read writes nothing; one to mark is a conditional UPDATE and its audit
    row in a transaction of its own, whatever the size of the file."""
    sent = timezone.now()
    done = [
        collected(campaign, reward, reward_sent_at=sent, reward_tracking="T") for _ in range(20)
    ]
    not_collected = [PledgeFactory(campaign=campaign, reward=reward) for _ in range(20)]
    to_mark = [collected(campaign, reward) for _ in range(4)]

    two, report = queries_of(lambda: upload(campaign, to_mark[:2]))
    assert report.applied == 2
    with_noise, report = queries_of(lambda: upload(campaign, [*done, to_mark[2], *not_collected]))
    assert (report.applied, report.unchanged, len(report.problems)) == (1, 20, 20)
    one, report = queries_of(lambda: upload(campaign, to_mark[3:]))
    assert report.applied == 1
    assert with_noise == one  # 40 rows with nothing to do added no query at all
    per_row = two - one
    assert per_row <= 4  # savepoint (a transaction outside tests), UPDATE, audit INSERT, release


def test_a_pledge_that_changed_after_the_file_was_read_is_decided_on_its_locked_row(
    monkeypatch, campaign, reward
):
    refunded, marked_same, marked_other = (collected(campaign, reward) for _ in range(3))
    earlier = timezone.now() - dt.timedelta(days=2)
    real_pledges_of = fulfilment._pledges_of

    def pledges_of(*args):
        found = real_pledges_of(*args)  # what the upload read; then others change the rows
        Pledge.objects.filter(pk=refunded.pk).update(status=Status.REFUNDED)
        for pledge, tracking in ((marked_same, "T"), (marked_other, "OLD")):
            Pledge.objects.filter(pk=pledge.pk).update(
                reward_sent_at=earlier, reward_tracking=tracking
            )
        return found

    monkeypatch.setattr(fulfilment, "_pledges_of", pledges_of)
    report = upload(campaign, [refunded, marked_same, marked_other])

    assert [(p.line, p.reason) for p in report.problems] == [
        (2, "Its payment is not collected (it is refunded).")
    ]
    assert (report.applied, report.unchanged) == (1, 1)
    refunded.refresh_from_db()
    assert refunded.reward_sent_at is None and not audits(refunded, "reward:sent")
    assert not audits(marked_same, "reward:sent")  # it was already so: no second audit row
    marked_other.refresh_from_db()  # a new reference corrects it; sent when it first was
    assert (marked_other.reward_sent_at, marked_other.reward_tracking) == (earlier, "T")
    assert [event.note for event in audits(marked_other, "reward:sent")] == ["T"]


def test_a_tracking_correction_from_a_file_keeps_when_the_reward_was_sent(campaign, reward):
    earlier = timezone.now() - dt.timedelta(days=3)
    pledge = collected(campaign, reward, reward_sent_at=earlier, reward_tracking="OLD")
    report = upload(campaign, [pledge], tracking="NEW")
    assert report.applied == 1
    pledge.refresh_from_db()
    assert (pledge.reward_sent_at, pledge.reward_tracking) == (earlier, "NEW")
    assert pledge.updated_at > earlier


def test_each_upload_is_audited_on_the_campaign_with_what_it_did(campaign, reward):
    good, bad = collected(campaign, reward), PledgeFactory(campaign=campaign, reward=None)
    upload(campaign, [good, bad])
    (event,) = AuditEvent.objects.filter(action="rewards:uploaded", target_id=str(campaign.pk))
    assert event.target == campaign and event.actor == campaign.organizer
    assert event.note == "1 marked sent, 0 already so, 1 not applied"


def test_a_file_at_the_row_limit_is_read(campaign):
    content = b"pledge id,tracking\n" + b"a,b\n" * fulfilment.UPLOAD_MAX_ROWS
    report = fulfilment.bulk_mark_from_csv(campaign, by=campaign.organizer, file=csv_file(content))
    assert len(report.problems) == fulfilment.UPLOAD_MAX_ROWS == 5_000
    assert report.problems[-1].line == 5_001


def test_a_byte_order_mark_and_a_quoted_multi_line_cell_are_fine(campaign, reward):
    first, second = collected(campaign, reward), collected(campaign, reward)
    text = f'\ufeffpledge id,tracking\n{first.public_id},"two\nlines"\n{second.public_id},\n'
    report = fulfilment.bulk_mark_from_csv(campaign, by=campaign.organizer, file=csv_file(text))
    assert (report.applied, report.problems) == (2, [])
    first.refresh_from_db()
    assert first.reward_tracking == "two lines"  # one line

    again = f"pledge id,tracking\n{first.public_id},two lines\nnonsense,x\n"
    report = fulfilment.bulk_mark_from_csv(campaign, by=campaign.organizer, file=csv_file(again))
    assert (report.applied, report.unchanged) == (0, 1)
    assert report.problems[0].line == 3


@pytest.mark.parametrize(
    ("content", "refusal"),
    [
        ("pledge id,tracking\nabc,é".encode("latin-1"), "not UTF-8"),
        (image_bytes((20, 20)), "not UTF-8"),
        (b"pledge id,tracking\n\x00\x01\x02,x\n", "not a CSV"),
        (b'pledge id,tracking\n"abc"def,x\n', "not a CSV"),
        (b"", "empty"),
        (b"  \n\n", "empty"),
        (b"pledge id,tracking\n", "no rows"),
        (b"id,tracking number\nabc,x\n", "header"),
        (b"pledge id;tracking\nabc;x\n", "semicolons"),
        (b"pledge id,tracking\n" + b"a,b\n" * 5_001, "more than 5,000 rows"),
        (b"pledge id,tracking\n" + b"x" * (2 * 1024 * 1024), "larger than 2 MB"),
    ],
)
def test_files_that_are_not_a_fulfilment_csv_are_refused_whole(campaign, reward, content, refusal):
    pledge = collected(campaign, reward)
    content = content.replace(b"abc", str(pledge.public_id).encode())
    with pytest.raises(DomainError, match=refusal):
        fulfilment.bulk_mark_from_csv(campaign, by=campaign.organizer, file=csv_file(content))
    assert Pledge.objects.get(pk=pledge.pk).reward_sent_at is None


def test_a_stranger_cannot_upload(campaign, reward):
    pledge = collected(campaign, reward)
    with pytest.raises(NotPermitted):
        fulfilment.bulk_mark_from_csv(
            campaign,
            by=MemberFactory(),
            file=csv_file(f"pledge id,tracking\n{pledge.public_id},x\n"),
        )
    assert Pledge.objects.get(pk=pledge.pk).reward_sent_at is None


def test_the_upload_page_reports_lines_and_refuses_bad_files_cleanly(client, campaign, reward):
    good, bad = collected(campaign, reward), PledgeFactory(campaign=campaign, reward=None)
    upload_url = reverse("community:fulfilment_upload", args=[campaign.pk])
    client.force_login(campaign.organizer)
    assert client.get(upload_url).status_code == 200

    text = f"pledge id,tracking\n{good.public_id},PARCEL-1\n{bad.public_id},PARCEL-2\n"
    body = client.post(upload_url, {"file": csv_file(text)}).content.decode()
    assert "1 reward marked sent." in body
    assert '<th scope="row" class="num">3</th>' in body and "no reward" in body
    assert Pledge.objects.get(pk=good.pk).reward_tracking == "PARCEL-1"

    for content, refusal in (
        ("pledge id,tracking\nabc,é".encode("latin-1"), "not UTF-8"),
        (image_bytes((20, 20)), "not UTF-8"),
        (b"x" * (2 * 1024 * 1024 + 1), "larger than 2 MB"),
    ):
        response = client.post(upload_url, {"file": csv_file(content)})
        assert response.status_code == 200
        assert refusal in response.content.decode()
        assert "marked sent." not in response.content.decode()

    client.force_login(MemberFactory())
    assert client.get(upload_url).status_code == 404
    assert client.post(upload_url, {"file": csv_file(text)}).status_code == 404
