"""Global ids and cursors: URL-safe base64 of "Type:key", read back exactly."""

from __future__ import annotations

import base64

from hypothesis import given
from hypothesis import strategies as st

from api.relay import from_cursor, from_global_id, to_cursor, to_global_id

type_names = st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,30}", fullmatch=True)
keys = st.integers(min_value=1, max_value=2**63 - 1)


@given(type_names, keys)
def test_global_ids_are_url_safe_base64_and_read_back(type_name: str, key: int) -> None:
    encoded = to_global_id(type_name, key)
    assert type(encoded) is str  # orjson and the executor's fast path take exact strs
    assert encoded == base64.urlsafe_b64encode(f"{type_name}:{key}".encode()).decode()
    assert from_global_id(encoded) == (type_name, key)


@given(keys)
def test_cursors_read_back(key: int) -> None:
    assert to_cursor(key) == base64.urlsafe_b64encode(f"cursor:{key}".encode()).decode()
    assert from_cursor(to_cursor(key)) == key
