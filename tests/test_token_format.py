"""Token format (SPEC 6): prefix, 30 base62 characters, 6-character base62 CRC32."""

import zlib

from hypothesis import given
from hypothesis import strategies as st

from auth import token_format
from auth.token_format import ALPHABET, PREFIXES, TokenKind


def test_new_tokens_have_the_documented_shape() -> None:
    token = token_format.new_token(TokenKind.PERSONAL)
    assert token.startswith("owp_") and len(token) == 4 + 30 + 6
    assert token_format.parse(token) is TokenKind.PERSONAL


@given(st.sampled_from(list(TokenKind)), st.text(alphabet=ALPHABET, min_size=30, max_size=30))
def test_any_random_part_round_trips(kind: TokenKind, random_part: str) -> None:
    token = f"{PREFIXES[kind]}_{random_part}{token_format.checksum(random_part)}"
    assert token_format.parse(token) is kind


@given(
    st.text(alphabet=ALPHABET, min_size=30, max_size=30),
    st.integers(0, 35),
    st.sampled_from(ALPHABET),
)
def test_a_single_typo_is_caught_by_the_checksum(
    random_part: str, position: int, replacement: str
) -> None:
    body = random_part + token_format.checksum(random_part)
    if body[position] == replacement:
        return
    typo = body[:position] + replacement + body[position + 1 :]
    assert token_format.parse(f"owp_{typo}") is None


@given(st.text(max_size=80))
def test_parse_never_raises(text: str) -> None:
    assert token_format.parse(text) in (None, *TokenKind)


@given(
    st.text(alphabet=ALPHABET, min_size=30, max_size=30),
    st.integers(0, 35),
    st.characters(blacklist_characters=ALPHABET),
)
def test_only_base62_characters_are_accepted(random_part: str, position: int, other: str) -> None:
    # Other letters and digits too (Unicode's, which str.isalnum takes): never a token.
    body = random_part + token_format.checksum(random_part)
    assert token_format.parse(f"owp_{body[:position]}{other}{body[position + 1 :]}") is None


@given(st.text(alphabet=ALPHABET, min_size=30, max_size=30))
def test_the_checksum_is_the_crc32_in_six_base62_digits(random_part: str) -> None:
    number, digits = zlib.crc32(random_part.encode()), ""
    for _ in range(6):
        number, remainder = divmod(number, 62)
        digits = ALPHABET[remainder] + digits
    assert token_format.checksum(random_part) == digits
