"""The fee schedule, in one place: what the platform and the card processor keep of a
contribution, and so what the organizer can be paid out.

- Platform fee: `PLATFORM_FEE_PERCENT` (default 5 %) of each collected contribution, with the
  one rounding rule (`core.money.round_minor`, half-up).
- Processor fee: what the provider reports on the charge's balance transaction; only where it
  reports none, the configured estimate (`PROCESSOR_FEE_ESTIMATE_PERCENT` +
  `PROCESSOR_FEE_ESTIMATE_FIXED_MINOR`), flagged as an estimate in the ledger and on pages.
- The organizer's share is what is left: `contribution_fees` splits a contribution into the
  three lines with `core.money.allocate`'s rule, so they always add back to the whole.

It lives beside the ledger, below pledges (which posts the fees when a pledge is collected)
and payouts (which reads them for a payout's breakdown), and imports neither.
"""

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings

from core.money import round_minor


@dataclass(frozen=True)
class ContributionFees:
    """A contribution split three ways; `organizer_minor + platform_minor + processor_minor`
    is the contribution, to the cent."""

    amount_minor: int
    processor_minor: int
    processor_estimated: bool
    platform_minor: int

    @property
    def organizer_minor(self):
        return self.amount_minor - self.processor_minor - self.platform_minor


def platform_fee_percent():
    return Decimal(str(settings.PLATFORM_FEE_PERCENT))


def platform_fee(amount_minor):
    """The platform's fee on a contribution of `amount_minor`."""
    return round_minor(Decimal(amount_minor) * platform_fee_percent() / 100)


def estimated_processor_fee(amount_minor):
    """The configured estimate, used only when the provider reports no fee for a charge."""
    percent = Decimal(str(settings.PROCESSOR_FEE_ESTIMATE_PERCENT))
    fixed = settings.PROCESSOR_FEE_ESTIMATE_FIXED_MINOR
    return round_minor(Decimal(amount_minor) * percent / 100) + fixed


def contribution_fees(amount_minor, processor_fee_minor=None):
    """The fees on one contribution: the provider's processor fee when it gave one (else the
    estimate) and the platform's; neither may take more than the contribution holds (a tiny
    pledge with a fixed processor fee), the platform's fee giving way first."""
    estimated = processor_fee_minor is None
    processor = estimated_processor_fee(amount_minor) if estimated else processor_fee_minor
    processor = max(0, min(processor, amount_minor))
    platform = max(0, min(platform_fee(amount_minor), amount_minor - processor))
    return ContributionFees(
        amount_minor=amount_minor,
        processor_minor=processor,
        processor_estimated=estimated,
        platform_minor=platform,
    )
