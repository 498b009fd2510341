"""Takeover tests verify their domains over the loopback DNS server of the domain tests."""

from tests.domains.conftest import *  # noqa: F403
