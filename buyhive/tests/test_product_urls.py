"""buyhive.product.urls.canonicalize_url: one address per product, whatever campaign led there."""

from __future__ import annotations

import pytest

from buyhive.product.urls import TRACKING_PARAMS, canonicalize_url, is_tracking_param


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTPS://WWW.Shop.COM/p/1", "https://www.shop.com/p/1"),
        ("https://shop.com:443/p/1", "https://shop.com/p/1"),
        ("http://shop.com:80/p/1", "http://shop.com/p/1"),
        ("https://shop.com:8443/p/1", "https://shop.com:8443/p/1"),
        ("https://shop.com/p/1#reviews", "https://shop.com/p/1"),
        ("https://shop.com/p/1?", "https://shop.com/p/1"),
        ("https://shop.com", "https://shop.com/"),
        ("  https://shop.com/p/1  ", "https://shop.com/p/1"),
    ],
)
def test_scheme_host_port_fragment_and_empty_query_are_normalised(url: str, expected: str) -> None:
    assert canonicalize_url(url) == expected


def test_tracking_parameters_are_dropped_and_the_rest_kept_sorted() -> None:
    url = (
        "https://shop.com/p/boots?utm_source=news&utm_medium=mail&size=42&gclid=abc"
        "&color=black&fbclid=x&msclkid=y&mc_cid=1&mc_eid=2&_ga=3&ref=home&ref_=nav"
        "&igshid=z&spm=a.b&srsltid=q&yclid=w&dclid=e&variant=123&id=9&sku=B-1"
    )
    assert canonicalize_url(url) == (
        "https://shop.com/p/boots?color=black&id=9&size=42&sku=B-1&variant=123"
    )


def test_tracking_parameters_match_case_insensitively_and_by_prefix() -> None:
    assert canonicalize_url("https://shop.com/p?UTM_Source=x&utm_whatever=y&pk_campaign=z&a=1") == (
        "https://shop.com/p?a=1"
    )
    assert is_tracking_param("GCLID")
    assert is_tracking_param("utm_content")
    assert not is_tracking_param("size")
    assert "fbclid" in TRACKING_PARAMS


def test_the_order_of_parameters_does_not_matter_but_repeated_values_keep_theirs() -> None:
    a = canonicalize_url("https://shop.com/p?b=2&a=1&c=3")
    b = canonicalize_url("https://shop.com/p?c=3&a=1&b=2")
    assert a == b == "https://shop.com/p?a=1&b=2&c=3"
    assert canonicalize_url("https://shop.com/p?v=2&v=1") == "https://shop.com/p?v=2&v=1"


def test_only_tracking_parameters_leaves_no_query() -> None:
    assert canonicalize_url("https://shop.com/p/1?utm_source=a&gclid=b") == "https://shop.com/p/1"


def test_percent_encoding_is_normalised() -> None:
    # Escapes of unreserved characters are decoded, others upper-cased, raw ones encoded.
    assert canonicalize_url("https://shop.com/a%7eb/%2f/c%41") == "https://shop.com/a~b/%2F/cA"
    assert canonicalize_url("https://shop.com/café x") == "https://shop.com/caf%C3%A9%20x"
    assert canonicalize_url("https://shop.com/100%") == "https://shop.com/100%25"
    assert canonicalize_url("https://shop.com/p?q=a b&x=%7e") == "https://shop.com/p?q=a%20b&x=~"
    # The same address written two ways gives one string.
    assert canonicalize_url("https://shop.com/caf%c3%a9") == canonicalize_url(
        "https://shop.com/café"
    )


def test_a_non_ascii_host_is_idna_encoded() -> None:
    assert canonicalize_url("https://münchen.de/x") == "https://xn--mnchen-3ya.de/x"


def test_ipv6_host_and_credentials_survive() -> None:
    assert canonicalize_url("http://[::1]:80/x") == "http://[::1]/x"
    assert canonicalize_url("https://user:pw@Shop.com/x") == "https://user:pw@shop.com/x"


@pytest.mark.parametrize("url", ["", "not a url", "/relative/path", "mailto:x@y.z", "http://"])
def test_what_is_not_a_web_address_comes_back_trimmed(url: str) -> None:
    assert canonicalize_url(f" {url} ") == url


def test_non_string_input_gives_an_empty_string() -> None:
    assert canonicalize_url(None) == ""  # type: ignore[arg-type]


def test_a_bad_port_does_not_raise() -> None:
    assert canonicalize_url("https://shop.com:99999/p").startswith("https://shop.com")


def test_canonicalisation_is_idempotent() -> None:
    once = canonicalize_url("HTTPS://Shop.com:443/caf%c3%a9?b=2&utm_source=x&a=1#top")
    assert canonicalize_url(once) == once
