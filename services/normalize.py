"""Parsing and normalizing user input. Each function returns the clean value or raises
InvalidInput naming the field, so bad input never reaches the database."""

from __future__ import annotations

import re
import zoneinfo
from datetime import date
from functools import lru_cache
from urllib.parse import urlsplit

import idna
from email_validator import EmailNotValidError, validate_email

from core.errors import InvalidInput
from services.dns_proof import challenge_name

USERNAME_RE = re.compile(r"^[a-z0-9_-]{3,39}$")
SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,37}[a-z0-9])$")
COUNTRY_RE = re.compile(r"^[A-Z]{2}$")
LOCALE_RE = re.compile(r"^[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$")
# Usernames that would be confusing or impersonate the platform.
RESERVED_USERNAMES = frozenset(
    {
        "admin",
        "administrator",
        "root",
        "staff",
        "support",
        "orgward",
        "system",
        "security",
        "help",
        "api",
        "graphql",
        "me",
        "viewer",
    }
)


def username(value: str, field: str = "username") -> str:
    cleaned = value.strip().lower()
    if not USERNAME_RE.fullmatch(cleaned):
        raise InvalidInput(
            "A username has 3 to 39 characters: letters a-z, digits, '-' and '_'.", field=field
        )
    if cleaned in RESERVED_USERNAMES:
        raise InvalidInput("That username is reserved.", field=field)
    return cleaned


def email(value: str, field: str = "email") -> str:
    if len(value) > 254:
        raise InvalidInput("That email address is too long.", field=field)
    try:
        result = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError as error:
        raise InvalidInput(f"That is not a valid email address: {error}", field=field) from None
    return result.normalized.lower()


def email_domain(address: str) -> str:
    return address.rpartition("@")[2]


def slug(value: str, field: str = "slug") -> str:
    cleaned = value.strip().lower()
    if not SLUG_RE.fullmatch(cleaned) or "--" in cleaned:
        raise InvalidInput(
            "A slug has 3 to 39 characters: letters a-z, digits and single '-' inside.",
            field=field,
        )
    return cleaned


def slug_from_name(name: str) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:39].strip("-")
    return base if len(base) >= 3 else f"team-{base}".strip("-")


def text(value: str, field: str, *, max_length: int, required: bool = False) -> str:
    cleaned = " ".join(value.split())
    if required and not cleaned:
        raise InvalidInput("This cannot be empty.", field=field)
    if len(cleaned) > max_length:
        raise InvalidInput(f"Use at most {max_length} characters.", field=field)
    _check_characters(cleaned, field)
    return cleaned


def multiline_text(value: str, field: str, *, max_length: int) -> str:
    """Free text such as a message: lines kept, other control characters refused (PostgreSQL
    cannot store NUL, and escape sequences have no place in an email)."""
    cleaned = value.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not cleaned or len(cleaned) > max_length:
        raise InvalidInput(f"Write 1 to {max_length} characters.", field=field)
    _check_characters(cleaned.replace("\n", " ").replace("\t", " "), field)
    return cleaned


def _check_characters(value: str, field: str) -> None:
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise InvalidInput("Control characters are not allowed.", field=field)
    try:
        value.encode()
    except UnicodeEncodeError:
        raise InvalidInput("Use only valid text.", field=field) from None


def optional_text(value: str | None, field: str, *, max_length: int) -> str | None:
    if value is None:
        return None
    return text(value, field, max_length=max_length) or None


def country(value: str | None, field: str = "country") -> str | None:
    if value is None or not value.strip():
        return None
    cleaned = value.strip().upper()
    if not COUNTRY_RE.fullmatch(cleaned):
        raise InvalidInput("Use a two-letter ISO 3166 country code, like DE.", field=field)
    return cleaned


def locale(value: str | None, field: str = "locale") -> str | None:
    if value is None or not value.strip():
        return None
    cleaned = value.strip()
    if len(cleaned) > 35 or not LOCALE_RE.fullmatch(cleaned):
        raise InvalidInput("Use a language tag like en or pt-BR.", field=field)
    return cleaned


@lru_cache(maxsize=1)
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def time_zone(value: str | None, field: str = "timeZone") -> str | None:
    if value is None or not value.strip():
        return None
    cleaned = value.strip()
    if cleaned not in _time_zones():
        raise InvalidInput("Use an IANA time zone like Europe/Berlin.", field=field)
    return cleaned


def https_url(value: str | None, field: str) -> str | None:
    if value is None or not value.strip():
        return None
    cleaned = value.strip()
    if len(cleaned) > 2048 or any(ord(ch) < 33 or ord(ch) == 127 for ch in cleaned):
        raise InvalidInput("Use an https:// URL.", field=field)
    _check_characters(cleaned, field)
    parts = urlsplit(cleaned)
    if parts.scheme != "https" or not parts.netloc:
        raise InvalidInput("Use an https:// URL.", field=field)
    return cleaned


def birth_date(value: date, today: date, field: str = "birthDate") -> date:
    if value > today:
        raise InvalidInput("A birth date cannot be in the future.", field=field)
    if value.year < today.year - 130:
        raise InvalidInput("That birth date is not plausible.", field=field)
    return value


def age_on(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


DOMAIN_LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def domain_name(value: str, field: str = "name") -> str:
    """A DNS domain name as stored: lowercase ASCII (IDNA 2008, punycode), no trailing dot.

    Refuses wildcards, addresses, URLs and anything that is not a host name; whether the name
    may be claimed (public suffixes such as a lone `com`, mail providers) is decided elsewhere.
    """
    cleaned = value.strip()
    if cleaned.endswith("."):
        cleaned = cleaned[:-1]  # the fully qualified form names the same domain
    if not cleaned or len(cleaned) > 253 * 4:
        raise InvalidInput("Enter a domain name like example.com.", field=field)
    if "*" in cleaned:
        raise InvalidInput("Wildcards are not allowed: enter the domain itself.", field=field)
    if any(mark in cleaned for mark in "@/:") or any(ch.isspace() for ch in cleaned):
        raise InvalidInput(
            "Enter only the domain name (like example.com), not an address or a URL.", field=field
        )
    try:
        ascii_name = idna.encode(cleaned, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        raise InvalidInput("That is not a valid domain name.", field=field) from None
    labels = ascii_name.split(".")
    if (
        len(ascii_name) > 253
        or not all(DOMAIN_LABEL_RE.fullmatch(label) for label in labels)
        or labels[-1].isdigit()  # an IP address, not a name
    ):
        raise InvalidInput("That is not a valid domain name.", field=field)
    if len(challenge_name(ascii_name)) > 253:
        # The proof is published at _orgward-challenge.<name>, a DNS name too.
        raise InvalidInput("That domain name is too long to be verified.", field=field)
    return ascii_name


def domain_display(name: str) -> str:
    """A stored domain name as people read it (Unicode), or as stored if it does not decode."""
    try:
        return idna.decode(name)
    except (idna.IDNAError, UnicodeError):
        return name
