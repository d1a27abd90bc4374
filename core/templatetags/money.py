"""Template filters for money: {{ amount_minor|money:currency }} and |money_whole."""

from django import template

from core.money import format_money, input_text
from core.money import percent_of as _percent_of

register = template.Library()


@register.filter
def money(amount_minor, currency):
    return format_money(amount_minor or 0, currency)


@register.filter
def money_whole(amount_minor, currency):
    return format_money(amount_minor or 0, currency, whole=True)


@register.filter
def major(amount_minor, currency):
    """Minor units as a plain major-unit number for form inputs ("12.50", "25")."""
    return input_text(amount_minor, currency)


@register.filter
def percent_of(part, whole):
    return _percent_of(part, whole)
