"""Template filters for showing campaigns to the public: time left, funding-model sentence, bars.

Used by the campaign page, the campaign cards (Discover, home, profiles) and the preview.
"""

from django import template
from django.utils import timezone
from django.utils.translation import gettext, ngettext

from core.money import format_money, percent_of

register = template.Library()


def _plural(count, word):
    return f"{count} {word}{'' if count == 1 else 's'}"


def _date(value, now=None):
    """`12 March`, with the year when it is not this year's."""
    now = now or timezone.now()
    local = timezone.localtime(value)
    text = f"{local.day} {local:%B}"
    if local.year != timezone.localtime(now).year:
        text += f" {local.year}"
    return text


@register.filter
def time_left(campaign, now=None):
    """ "12 days left", "5 hours left", "8 minutes left", "Ended", or "" before launch."""
    if campaign.deadline is None:
        return ""
    now = now or timezone.now()
    seconds = (campaign.deadline - now).total_seconds()
    if seconds <= 0:
        return "Ended"
    if seconds >= 86_400:
        return f"{_plural(int(seconds // 86_400), 'day')} left"
    if seconds >= 3_600:
        return f"{_plural(int(seconds // 3_600), 'hour')} left"
    return f"{_plural(max(1, int(seconds // 60)), 'minute')} left"


@register.filter
def deadline_date(campaign):
    return _date(campaign.deadline) if campaign.deadline else ""


@register.filter
def funding_sentence(campaign, now=None):
    """When supporters are charged, with the goal and the deadline.

    It stands next to the funding model's own label, so it does not repeat the model's name.
    Before launch there is no deadline yet: the end date or the duration stands in for it.
    """
    goal = format_money(campaign.goal_minor, campaign.currency, whole=True)
    now = now or timezone.now()
    ended = bool(campaign.deadline) and campaign.deadline <= now
    if campaign.deadline:
        when = _date(campaign.deadline, now)
    elif campaign.end_date:
        when = f"{campaign.end_date.day} {campaign.end_date:%B %Y}"
    else:
        when = ""
    days = campaign.duration_days if not when else None
    values = {"goal": goal, "when": when, "days": days}
    if campaign.is_all_or_nothing:
        if when:
            by = gettext("by %(when)s") % values
        elif days:
            by = ngettext("within %(days)d day of launch", "within %(days)d days of launch", days)
            by %= values
        else:
            by = gettext("by the deadline")
        values["by"] = by
        if ended:
            return (
                gettext("Supporters are only charged if this campaign reached %(goal)s %(by)s.")
                % values
            )
        return gettext("You are only charged if this campaign reaches %(goal)s %(by)s.") % values
    if not when and days:
        when = ngettext("%(days)d day after launch", "%(days)d days after launch", days) % values
    values["when"] = when
    if ended:
        return (
            gettext("Supporters are charged at the deadline, %(when)s, whatever the total.")
            % values
        )
    if when:
        return (
            gettext("You will be charged when the campaign ends, %(when)s, whatever the total.")
            % values
        )
    return gettext("You will be charged when the campaign ends, whatever the total.")


@register.filter
def percent_funded(campaign):
    """Whole percent of the goal pledged (may exceed 100)."""
    return percent_of(getattr(campaign, "pledged_minor", 0), campaign.goal_minor)


@register.filter
def bar_width(percent):
    """A percentage clamped to 0–100, for a progress bar's width."""
    try:
        return max(0, min(100, int(percent)))
    except (TypeError, ValueError):
        return 0


@register.filter
def countdown(campaign, now=None):
    """time_left split for big-number display: {"value": "12", "label": "days left"}."""
    text = time_left(campaign, now)
    if not text:
        return {"value": "—", "label": "not launched"}
    if text == "Ended":
        return {"value": "Ended", "label": deadline_date(campaign)}
    value, label = text.split(" ", 1)
    return {"value": value, "label": label}
