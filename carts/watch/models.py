"""Watch models: one product per ``match`` string, its observations, daily points, rates.

* ``carts_watchedproduct``: the product identity shared by every user who saved the page
  (``key`` = :func:`carts.watch.matching.match_key`), with its *confirmed* state (what every
  saver may see) and the changes reported but not yet confirmed (``pending``).
* ``carts_observation``: what one page view showed. It does not say who made it: ``observer``
  is ``HMAC(WATCH_OBSERVER_SECRET, user id + product key)``, enough to keep "one counted
  report per user per product per hour" and "a second, independent observer" without a user
  id stored in the clear, and different for each product, so a user's observations cannot be
  linked across products. Kept ``WATCH_RAW_DAYS`` days.
* ``carts_dailypoint``: the day's last observation of a series, kept for good: the confirmed
  series (``"p:<product id>"``) that every saver sees, and each observer's own series (their
  hash) for what they reported themselves and nobody confirmed.
* ``carts_exchangerates``: the ECB's daily reference rates (one row per publication day).

Every hot read filters on one indexed field (see ``carts.selectors`` on why).
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils import timezone

from buyhive.product.money import MAX_EXPONENT

URL_MAX = 2048
OBSERVER_MAX = 64
#: As ``carts.models.Item.price``: every currency's exponent fits (JPY 0 ... KWD 3).
PRICE_DECIMAL_PLACES = MAX_EXPONENT
PRICE_MAX_DIGITS = 9 + MAX_EXPONENT


class WatchedProduct(models.Model):
    key = models.CharField(max_length=URL_MAX, unique=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    #: The confirmed state (null until a change was confirmed by a second observer).
    price = models.DecimalField(
        max_digits=PRICE_MAX_DIGITS, decimal_places=PRICE_DECIMAL_PLACES, null=True, blank=True
    )
    currency = models.CharField(max_length=3, null=True, blank=True)
    availability = models.CharField(max_length=32, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    #: Changes reported and not confirmed yet, newest last:
    #: ``[{"fp", "first_at", "observer"}]`` (at most ``PENDING_MAX``).
    pending = models.JSONField(default=list, blank=True)

    def __str__(self) -> str:
        return self.key


class Observation(models.Model):
    class Kind(models.TextChoices):
        SAVE = "save"  # the item was saved: the first point, not counted against the limit
        REPORT = "report"  # the extension saw the page
        EDIT = "edit"  # the user corrected the item's price or stock

    product_id: Any  # for type checkers (see carts.models.Cart)

    product = models.ForeignKey(WatchedProduct, on_delete=models.CASCADE, db_index=False)
    observer = models.CharField(max_length=OBSERVER_MAX)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    observed_at = models.DateTimeField(default=timezone.now)
    price = models.DecimalField(
        max_digits=PRICE_MAX_DIGITS, decimal_places=PRICE_DECIMAL_PLACES, null=True, blank=True
    )
    currency = models.CharField(max_length=3, null=True, blank=True)
    availability = models.CharField(max_length=32, blank=True)
    #: Visible to every saver: it agrees with the confirmed state, or it confirmed a change.
    confirmed = models.BooleanField(default=False)

    class Meta:
        indexes = [
            models.Index(fields=["observer", "observed_at"], name="carts_obs_observer_at"),
            models.Index(fields=["product", "observed_at"], name="carts_obs_product_at"),
            models.Index(fields=["observed_at"], name="carts_obs_at"),
        ]

    def __str__(self) -> str:
        return f"{self.product_id} {self.kind} {self.observed_at:%Y-%m-%d %H:%M}"


class DailyPoint(models.Model):
    #: ``"p:<product id>"`` for the confirmed series, an observer hash for one's own.
    series = models.CharField(max_length=OBSERVER_MAX + 2)
    day = models.DateField()
    price = models.DecimalField(
        max_digits=PRICE_MAX_DIGITS, decimal_places=PRICE_DECIMAL_PLACES, null=True, blank=True
    )
    currency = models.CharField(max_length=3, null=True, blank=True)
    availability = models.CharField(max_length=32, blank=True)
    observed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["series", "day"], name="carts_dailypoint_series_day"),
        ]

    def __str__(self) -> str:
        return f"{self.series} {self.day}"


class ExchangeRates(models.Model):
    #: The ECB's publication day.
    day = models.DateField(unique=True)
    #: Units of each currency for one euro: ``{"USD": "1.0843", ...}`` (EUR itself absent).
    rates = models.JSONField(default=dict)
    fetched_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"ECB rates {self.day}"
