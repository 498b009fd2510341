"""Looking up a domain's proof of control: a DNS TXT record holding the domain's token.

The resolver's address and port come from settings (tests run a DNS server on loopback); with
no address set the system's resolver answers. Every failure to look up (no such name, no
record, SERVFAIL, a CNAME loop, timeout) comes back as a failed Proof with a message for the
team's admins, never as an exception.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import dns.asyncresolver
import dns.exception
import dns.message
import dns.name
import dns.resolver

from core.settings import Settings

RECORD_PREFIX = "orgward-domain-verification="
CHALLENGE_LABEL = "_orgward-challenge"


@dataclass(frozen=True, slots=True)
class Proof:
    ok: bool
    message: str


@dataclass(frozen=True, slots=True)
class _Lookup:
    name: str
    values: tuple[str, ...] = ()
    # Set when the DNS could not say either way (SERVFAIL, timeout, …).
    problem: str | None = None


def challenge_name(domain: str) -> str:
    return f"{CHALLENGE_LABEL}.{domain}"


def record_value(token: str) -> str:
    return f"{RECORD_PREFIX}{token}"


async def look_up(settings: Settings, domain: str, token: str) -> Proof:
    """Is `orgward-domain-verification=<token>` published at _orgward-challenge.<domain> or at
    <domain> itself? Both names are asked at once."""
    try:
        resolver = _resolver(settings)
    except dns.exception.DNSException as error:
        return Proof(False, f"No DNS resolver is configured: {error}"[:255])
    lookups = await asyncio.gather(_txt(resolver, challenge_name(domain)), _txt(resolver, domain))
    expected = record_value(token)
    for lookup in lookups:
        if expected in lookup.values:
            return Proof(True, f"Found the TXT record at {lookup.name}.")
    problems = [lookup.problem for lookup in lookups if lookup.problem]
    if problems:
        return Proof(False, f"The DNS lookup failed: {problems[0]}"[:255])
    if any(value.startswith(RECORD_PREFIX) for lookup in lookups for value in lookup.values):
        return Proof(
            False,
            "A TXT record orgward-domain-verification=… was found, but its token "
            "does not match this domain's token.",
        )
    return Proof(
        False,
        f"No TXT record {RECORD_PREFIX}<token> was found at {challenge_name(domain)} or {domain}."[
            :255
        ],
    )


def _resolver(settings: Settings) -> dns.asyncresolver.Resolver:
    address = settings.dns_resolver_address
    resolver = dns.asyncresolver.Resolver(configure=address is None)
    if address is not None:
        resolver.nameservers = [address]
        resolver.port = settings.dns_resolver_port
    resolver.timeout = settings.dns_timeout_seconds
    resolver.lifetime = settings.dns_timeout_seconds
    return resolver


def _unanswered(name: str, error: dns.resolver.NoNameservers) -> str:
    """What the DNS said when no server gave a usable answer: its response code (SERVFAIL,
    REFUSED, …), a CNAME chain that loops or is too long, or why the answer was unusable."""
    errors = error.kwargs.get("errors") or []
    cause = errors[-1][3] if errors and len(errors[-1]) > 3 else None
    if isinstance(cause, str):
        return f"the DNS server answered {cause} for {name}."
    if isinstance(cause, dns.message.ChainTooLong):
        return f"the CNAME records at {name} form a loop or a chain too long to follow."
    if isinstance(cause, Exception):
        return f"the DNS server's answer for {name} was unusable ({type(cause).__name__}: {cause})."
    return f"no DNS server could answer for {name}."


async def _txt(resolver: dns.asyncresolver.Resolver, name: str) -> _Lookup:
    try:
        answer = await resolver.resolve(
            dns.name.from_text(name), "TXT", raise_on_no_answer=False, search=False
        )
    except dns.resolver.NXDOMAIN:
        return _Lookup(name)
    except dns.exception.Timeout:
        return _Lookup(
            name, problem=f"no answer for {name} within {resolver.lifetime:g} seconds (timeout)."
        )
    except dns.resolver.NoNameservers as error:
        return _Lookup(name, problem=_unanswered(name, error))
    except (dns.exception.DNSException, OSError) as error:
        return _Lookup(name, problem=f"{type(error).__name__} for {name}: {error}")
    if answer.rrset is None:
        return _Lookup(name)
    # A TXT record may hold several strings (each at most 255 bytes): they form one value.
    values = tuple(
        b"".join(rdata.strings).decode("utf-8", "replace").strip()  # type: ignore[attr-defined]
        for rdata in answer.rrset
    )
    return _Lookup(name, values)
