"""``{% load money %}``: amounts for people in templates (the shared cart page).

``{{ item.price|money:item.currency }}`` writes ``1 500 JPY`` from the API's ``"1500"``; see
``buyhive.product.money.format_money``. The API's JSON keeps plain decimal strings.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django import template

from buyhive.product.money import format_money

register = template.Library()


@register.filter(name="money")
def money(amount: Any, currency: str | None = None) -> str:
    """An amount (a Decimal, or the API's decimal string) grouped, with its currency's
    decimals and code; ``""`` for no amount or something that is not one."""
    if amount is None or amount == "":
        return ""
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        return ""
    if not value.is_finite():
        return ""
    return format_money(value, currency=currency or None)
