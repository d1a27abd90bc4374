"""The append-only double-entry ledger: accounts, transactions and their entries.

Every movement of money is one `Transaction` whose `Entry` rows sum to zero: money moves
from the accounts with a negative amount to those with a positive one (a contribution is
supporters' cards -1000, campaign +1000). Amounts are signed integers in the currency's
minor unit. Nothing updates or deletes a row: the models and their querysets refuse, and on
PostgreSQL so do triggers (django-pgtrigger); a correction is a new transaction. On
PostgreSQL a deferred trigger also refuses, at commit, a transaction whose entries do not
sum to zero; on SQLite `manage.py verify_ledger` finds one. Postings
go through `ledger.services.post`, which checks the balance and makes replays idempotent.

The ledger sits below pledges, campaigns and payouts and imports none of them: it names a
campaign, pledge or payment attempt by its integer id (no foreign keys, so its migrations
depend on no other app's) and a provider object by its id (pi_, ch_, re_, tr_, txn_...).

Why not django-hordak: hordak 2.0 keeps amounts as django-money `Money` (Decimal plus a
currency), where the platform stores integer minor units everywhere; its balance checks are
database triggers and functions written for PostgreSQL and MySQL only, so the embedded
SQLite default would lose exactly the invariants a ledger exists for; and its debit/credit
account types and account tree are more than a campaign's books need. The few hundred lines
here keep integer amounts, run the same Python checks on every database, and add the
PostgreSQL triggers on top.
"""

import pgtrigger
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.money import format_money
from ledger.errors import LedgerError

# Enough for "contribution:pledge:<id>:attempt:<id>" and a provider id or two.
KEY_MAX_LENGTH = 200


def _refuse(what):
    raise LedgerError(
        gettext("Ledger rows are never %(what)s; post a correcting transaction instead.")
        % {"what": what}
    )


class AppendOnlyQuerySet(models.QuerySet):
    """Creates and reads; every bulk change is refused (the database triggers refuse them
    again on PostgreSQL, for raw SQL too)."""

    def update(self, **kwargs):
        _refuse(gettext("updated"))

    def delete(self):
        _refuse(gettext("deleted"))

    def bulk_update(self, objs, fields, batch_size=None):
        _refuse(gettext("updated"))

    def bulk_create(self, objs, *args, update_conflicts=False, **kwargs):
        if update_conflicts:  # an upsert updates the rows that already exist
            _refuse(gettext("updated"))
        return super().bulk_create(objs, *args, update_conflicts=update_conflicts, **kwargs)

    def update_or_create(self, *args, **kwargs):
        _refuse(gettext("updated"))


class AppendOnlyModel(models.Model):
    """A row is written once: save() inserts a new row and refuses anything else."""

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True
        # Related managers and Django's internals use the base manager: it refuses too.
        base_manager_name = "objects"

    def save(self, *args, **kwargs):
        if not self._state.adding or kwargs.get("force_update") or kwargs.get("update_fields"):
            _refuse(gettext("updated"))
        kwargs["force_insert"] = True  # a new instance given an existing pk must not update
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        _refuse(gettext("deleted"))


def _protect(model_name):
    return pgtrigger.Protect(
        name=f"{model_name}_append_only", operation=pgtrigger.Update | pgtrigger.Delete
    )


# On PostgreSQL the database checks each transaction when it commits, however it was written
# (a deferred constraint trigger sees all of a transaction's entries, inserted one by one):
# its entries sum to zero, in its currency and their accounts'. A transaction without
# entries fails too, since non-zero entries that sum to zero are at least two.
# ERRCODE check_violation: Django raises IntegrityError, as for a CHECK constraint.
_BALANCED_ENTRIES = pgtrigger.Trigger(
    name="entries_balance",
    operation=pgtrigger.Insert,
    when=pgtrigger.After,
    timing=pgtrigger.Deferred,
    func="""
        IF (SELECT SUM(amount_minor) FROM ledger_entry
            WHERE transaction_id = NEW.transaction_id) <> 0 THEN
            RAISE EXCEPTION 'ledger: the entries of transaction % do not sum to zero',
                NEW.transaction_id USING ERRCODE = 'check_violation';
        END IF;
        IF NEW.currency <> (SELECT currency FROM ledger_transaction
                            WHERE id = NEW.transaction_id)
           OR NEW.currency <> (SELECT currency FROM ledger_account WHERE id = NEW.account_id)
        THEN
            RAISE EXCEPTION 'ledger: entry % is not in its transaction''s and account''s currency',
                NEW.id USING ERRCODE = 'check_violation';
        END IF;
        RETURN NULL;
    """,
)
_TRANSACTION_HAS_ENTRIES = pgtrigger.Trigger(
    name="transaction_has_entries",
    operation=pgtrigger.Insert,
    when=pgtrigger.After,
    timing=pgtrigger.Deferred,
    func="""
        IF NOT EXISTS (SELECT 1 FROM ledger_entry WHERE transaction_id = NEW.id) THEN
            RAISE EXCEPTION 'ledger: transaction % has no entries', NEW.id
                USING ERRCODE = 'check_violation';
        END IF;
        RETURN NULL;
    """,
)


class Account(AppendOnlyModel):
    """Where money is: one account per kind, currency and (for a campaign's accounts) the
    campaign's id as `reference`; the platform-wide accounts have reference ""."""

    class Kind(models.TextChoices):
        EXTERNAL_CARD = "external_card", _("Supporters' cards (external)")
        CAMPAIGN = "campaign", _("Campaign")
        PROCESSOR_FEES = "processor_fees", _("Processor fees")
        PLATFORM_FEES = "platform_fees", _("Platform fees")
        ORGANIZER_PAYABLE = "organizer_payable", _("Organizer payable")
        ORGANIZER_BANK = "organizer_bank", _("Organizer's bank (external)")

    # Kinds that belong to one campaign: their reference is the campaign's id.
    PER_CAMPAIGN_KINDS = (Kind.CAMPAIGN, Kind.ORGANIZER_PAYABLE, Kind.ORGANIZER_BANK)

    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices)
    reference = models.CharField(
        _("reference"),
        max_length=64,
        blank=True,
        default="",
        help_text=_("The campaign's id for a campaign's accounts; empty for platform-wide ones."),
    )
    currency = models.CharField(_("currency"), max_length=3)
    created_at = models.DateTimeField(_("opened at"), auto_now_add=True)

    class Meta(AppendOnlyModel.Meta):
        verbose_name = _("ledger account")
        verbose_name_plural = _("ledger accounts")
        ordering = ["kind", "reference", "currency"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "reference", "currency"], name="ledger_account_unique"
            )
        ]
        triggers = [_protect("account")]

    def __str__(self):
        label = self.get_kind_display()
        if self.reference:
            return f"{label} {self.reference} ({self.currency})"
        return f"{label} ({self.currency})"


class Transaction(AppendOnlyModel):
    """One movement of money: its entries sum to zero, in one currency."""

    class Kind(models.TextChoices):
        CONTRIBUTION = "contribution", _("Contribution")
        PROCESSOR_FEE = "processor_fee", _("Processor fee")
        PLATFORM_FEE = "platform_fee", _("Platform fee")
        REFUND = "refund", _("Refund")
        DISPUTE = "dispute", _("Dispute")
        DISPUTE_FEE = "dispute_fee", _("Dispute fee")
        PAYOUT = "payout", _("Payout")
        PAYOUT_REVERSAL = "payout_reversal", _("Payout reversal")
        CORRECTION = "correction", _("Correction")

    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices)
    currency = models.CharField(_("currency"), max_length=3)
    key = models.CharField(
        _("posting key"),
        max_length=KEY_MAX_LENGTH,
        unique=True,
        help_text=_("Idempotency key of the posting, e.g. contribution:pledge:42."),
    )
    occurred_at = models.DateTimeField(_("money moved at"), db_index=True)
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)
    memo = models.TextField(_("memo"), blank=True, default="")
    is_estimate = models.BooleanField(
        _("estimated"),
        default=False,
        help_text=_("The fee amounts are an estimate, not read from the payment provider."),
    )
    # Where the money came from, by id: the ledger has no foreign keys to the apps above it.
    campaign_id = models.PositiveBigIntegerField(_("campaign id"), null=True, blank=True)
    pledge_id = models.PositiveBigIntegerField(_("pledge id"), null=True, blank=True)
    attempt_id = models.PositiveBigIntegerField(_("payment attempt id"), null=True, blank=True)
    provider_object_id = models.CharField(
        _("provider object"),
        max_length=255,
        blank=True,
        default="",
        db_index=True,
        help_text=_("The payment provider's id: pi_, ch_, re_, tr_, txn_..."),
    )

    class Meta(AppendOnlyModel.Meta):
        verbose_name = _("ledger transaction")
        verbose_name_plural = _("ledger transactions")
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["campaign_id", "kind"], name="ledger_txn_campaign_kind"),
            models.Index(fields=["pledge_id", "kind"], name="ledger_txn_pledge_kind"),
        ]
        constraints = [
            # One contribution per collected pledge: a second charge of the same pledge, or a
            # replay under another key, cannot count twice.
            models.UniqueConstraint(
                fields=["pledge_id"],
                condition=Q(kind="contribution"),
                name="ledger_one_contribution_per_pledge",
            ),
            models.CheckConstraint(
                condition=~Q(kind="contribution") | Q(pledge_id__isnull=False),
                name="ledger_contribution_has_pledge",
            ),
        ]
        triggers = [_protect("transaction"), _TRANSACTION_HAS_ENTRIES]

    def __str__(self):
        return f"{self.get_kind_display()} #{self.pk}"


class Entry(AppendOnlyModel):
    """One account's side of a transaction: positive in, negative out."""

    transaction = models.ForeignKey(
        Transaction, on_delete=models.PROTECT, related_name="entries", verbose_name=_("transaction")
    )
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="entries", verbose_name=_("account")
    )
    amount_minor = models.BigIntegerField(
        _("amount (minor units)"), help_text=_("Positive: into the account; negative: out.")
    )
    currency = models.CharField(_("currency"), max_length=3)

    class Meta(AppendOnlyModel.Meta):
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=~Q(amount_minor=0), name="ledger_entry_not_zero")
        ]
        triggers = [_protect("entry"), _BALANCED_ENTRIES]

    def __str__(self):
        return f"{self.account}: {format_money(self.amount_minor, self.currency)}"
