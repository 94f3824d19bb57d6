"""buyhive.product.availability: one set of schema.org terms, a strict and a lenient reader."""

from __future__ import annotations

from typing import Any, get_args

import pytest

from buyhive.product.availability import (
    AVAILABILITY_CHOICES,
    AVAILABILITY_LABELS,
    AVAILABILITY_SYNONYMS,
    AVAILABILITY_TERMS,
    IN_STOCK_TERMS,
    OUT_OF_STOCK_TERMS,
    Availability,
    availability_in_stock,
    availability_term,
    normalize_availability,
)


def test_one_set_of_terms_everywhere() -> None:
    terms = set(get_args(Availability))
    assert terms == AVAILABILITY_TERMS == set(AVAILABILITY_LABELS)
    assert {term for term, _label in AVAILABILITY_CHOICES} == terms
    assert set(AVAILABILITY_SYNONYMS.values()) <= terms
    assert terms == IN_STOCK_TERMS | OUT_OF_STOCK_TERMS
    assert not IN_STOCK_TERMS & OUT_OF_STOCK_TERMS


@pytest.mark.parametrize(
    ("value", "term"),
    [
        ("InStock", "InStock"),
        ("instock", "InStock"),
        ("https://schema.org/OutOfStock", "OutOfStock"),
        ("http://www.schema.org/PreOrder", "PreOrder"),
        ("available", None),
        ("in stock", None),
    ],
)
def test_availability_term_is_strict(value: str, term: str | None) -> None:
    assert availability_term(value) == term


@pytest.mark.parametrize(
    ("value", "term"),
    [
        ("http://schema.org/InStock", "InStock"),
        ("in_stock", "InStock"),
        ("Sold out", "SoldOut"),
        ("OOS", "OutOfStock"),
        ("http://purl.org/goodrelations/v1#InStock", "InStock"),
        (["nonsense", "backordered"], "BackOrder"),
        ("low stock", "LimitedAvailability"),
        ("maybe", None),
        (42, None),
        ("x" * 121, None),
    ],
)
def test_normalize_availability_is_lenient(value: Any, term: str | None) -> None:
    assert normalize_availability(value) == term


def test_availability_in_stock() -> None:
    assert availability_in_stock("PreOrder") is True
    assert availability_in_stock("SoldOut") is False
    assert availability_in_stock(None) is None
