"""Domain name normalization: property tests over arbitrary text and real host names."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.provisional import domains

from core.errors import InvalidInput
from services import normalize


@given(st.text(max_size=80))
def test_any_text_is_a_clean_ascii_name_or_refused(text: str) -> None:
    try:
        value = normalize.domain_name(text)
    except InvalidInput as error:
        assert error.field == "name"
        return
    assert value.isascii() and value == value.lower() and len(value) <= 253
    assert not value.endswith(".") and "*" not in value
    assert normalize.domain_name(value) == value


@given(domains(max_length=253 - len("_orgward-challenge.")))
def test_host_names_keep_their_meaning_in_any_case_and_with_a_trailing_dot(name: str) -> None:
    value = normalize.domain_name(name)
    assert value == name.lower()
    assert normalize.domain_name(name.upper() + ".") == value


def test_internationalized_names_round_trip_through_punycode() -> None:
    assert normalize.domain_name("Bücher.Example") == "xn--bcher-kva.example"
    assert normalize.domain_display("xn--bcher-kva.example") == "bücher.example"


def test_a_name_whose_proof_record_would_be_too_long_is_refused() -> None:
    longest = "ab." + "a." * 112 + "example"  # 234 characters: the record name has 253
    assert normalize.domain_name(longest) == longest
    with pytest.raises(InvalidInput, match="too long to be verified"):
        normalize.domain_name("a" + longest)  # the record name would have 254
