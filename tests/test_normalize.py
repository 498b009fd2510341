"""Input normalizers: property tests over arbitrary text."""

from __future__ import annotations

import contextlib
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import InvalidInput
from services import normalize


@given(st.text(max_size=60))
def test_username_is_lowercase_and_valid_or_refused(text: str) -> None:
    try:
        value = normalize.username(text)
    except InvalidInput as error:
        assert error.field == "username"
        return
    assert value == value.lower() and 3 <= len(value) <= 39
    assert normalize.USERNAME_RE.fullmatch(value)
    assert normalize.username(value.upper()) == value  # unique ignoring case


@given(st.emails())
def test_valid_emails_normalize_to_lowercase_and_are_idempotent(address: str) -> None:
    try:
        value = normalize.email(address)
    except InvalidInput:
        return  # e.g. reserved or over-long domains the validator rejects
    assert value == value.lower()
    assert normalize.email(value) == value
    assert normalize.email(value.upper()) == value


@pytest.mark.parametrize(
    "bad", ["", "a", "not-an-email", "a@", "@b.com", "a@b", "a b@c.com", "x" * 250 + "@example.com"]
)
def test_invalid_emails_are_refused(bad: str) -> None:
    with pytest.raises(InvalidInput):
        normalize.email(bad)


@given(st.text(max_size=60))
def test_slug_is_valid_or_refused(text: str) -> None:
    try:
        value = normalize.slug(text)
    except InvalidInput:
        return
    assert normalize.SLUG_RE.fullmatch(value) and "--" not in value


@given(st.text(min_size=1, max_size=120))
def test_slug_from_any_name_is_a_valid_slug_or_refused_cleanly(name: str) -> None:
    with contextlib.suppress(InvalidInput):
        normalize.slug(normalize.slug_from_name(name))


@given(st.text(max_size=200))
def test_text_collapses_whitespace_and_respects_the_limit(text: str) -> None:
    try:
        value = normalize.text(text, "name", max_length=100)
    except InvalidInput:
        return
    assert len(value) <= 100 and value == value.strip() and "  " not in value


@given(
    st.dates(min_value=date(1900, 1, 1), max_value=date(2026, 1, 5)),
    st.dates(min_value=date(1900, 1, 1), max_value=date(2026, 1, 5)),
)
def test_age_on_matches_a_birthday_count(born: date, today: date) -> None:
    if born > today:
        return
    age = normalize.age_on(born, today)
    assert age >= 0
    try:
        last_birthday = born.replace(year=born.year + age)
    except ValueError:  # 29 February in a non-leap year
        last_birthday = date(born.year + age, 3, 1)
    assert last_birthday <= today


def test_birthday_today_counts() -> None:
    assert normalize.age_on(date(2013, 1, 5), date(2026, 1, 5)) == 13
    assert normalize.age_on(date(2013, 1, 6), date(2026, 1, 5)) == 12
