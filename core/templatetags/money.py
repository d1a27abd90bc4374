"""Template filters for money: {{ amount_minor|money:currency }} and |money_whole."""

from django import template

from core.money import format_money, to_major

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
    if amount_minor is None:
        return ""
    value = to_major(amount_minor, currency)
    return f"{value:f}".rstrip("0").rstrip(".") if "." in f"{value:f}" else f"{value:f}"


@register.filter
def percent_of(part, whole):
    if not whole:
        return 0
    return int((part or 0) * 100 // whole)
