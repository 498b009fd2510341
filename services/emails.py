"""The text of every email Orgward sends."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode


@dataclass(frozen=True, slots=True)
class Email:
    kind: str
    subject: str
    body: str


def _link(base_url: str, path: str, **params: str) -> str:
    return f"{base_url}{path}?{urlencode(params)}"


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def verify_email(*, base_url: str, username: str, token: str, expires_at: datetime) -> Email:
    link = _link(base_url, "/verify-email", token=token)
    return Email(
        kind="verify_email",
        subject="Confirm your email address",
        body=(
            f"Hello {username},\n\n"
            f"Please confirm this email address by opening:\n\n  {link}\n\n"
            f"The link works once and expires at {_when(expires_at)}.\n"
            "If you did not create an account, ignore this message.\n"
        ),
    )


def invitation(
    *, base_url: str, team_name: str, inviter: str, role: str, token: str, expires_at: datetime
) -> Email:
    link = _link(base_url, "/invitations/accept", token=token)
    return Email(
        kind="invitation",
        subject=f"{inviter} invited you to join {team_name}",
        body=(
            f"{inviter} invited you to join the team {team_name} as {role}.\n\n"
            f"To accept, sign in and open:\n\n  {link}\n\n"
            f"The invitation works once and expires at {_when(expires_at)}.\n"
        ),
    )


def new_device_sign_in(
    *, username: str, when: datetime, ip_address: str | None, user_agent: str | None
) -> Email:
    return Email(
        kind="new_device_sign_in",
        subject="New sign-in to your account",
        body=(
            f"Hello {username},\n\n"
            f"Your account was signed in from a device we have not seen before.\n\n"
            f"  When: {_when(when)}\n  Address: {ip_address or 'unknown'}\n"
            f"  Device: {user_agent or 'unknown'}\n\n"
            "If this was not you, change your password and sign out your other sessions.\n"
        ),
    )


def team_contact(
    *, team_name: str, sender: str, subject: str, message: str, can_reply: bool
) -> Email:
    answer = (
        f"Reply to this email to answer {sender} directly."
        if can_reply
        else f"{sender} keeps their email address private: answer them in {team_name}."
    )
    return Email(
        kind="team_contact",
        subject=f"[{team_name}] {subject}",
        body=(
            f"{sender}, a member of {team_name}, wrote to the team's owners and admins:\n\n"
            f"{message}\n\n{answer}\n"
        ),
    )


def domain_check_failed(
    *, team_name: str, domain: str, message: str, verified_until: datetime | None
) -> Email:
    until = f"until {_when(verified_until)}" if verified_until else "for now"
    return Email(
        kind="domain_check_failed",
        subject=f"[{team_name}] The DNS check of {domain} failed",
        body=(
            f"Orgward re-checked the DNS record that proves {team_name} controls {domain}, "
            f"and the check failed:\n\n  {message}\n\n"
            f"The domain stays verified {until}. Publish the TXT record shown on the team's "
            "domain settings again (or fix the DNS server) before then, or the domain lapses "
            "and its effects end.\n"
        ),
    )


def domain_lapsed(*, team_name: str, domain: str) -> Email:
    return Email(
        kind="domain_lapsed",
        subject=f"[{team_name}] {domain} is no longer verified",
        body=(
            f"The DNS record proving that {team_name} controls {domain} could not be found "
            "for too long, so the domain is no longer verified and its effects have ended.\n\n"
            "To verify it again, publish the TXT record shown on the team's domain settings "
            "and check the domain.\n"
        ),
    )


def google_linked(*, username: str, google_email: str, when: datetime) -> Email:
    return Email(
        kind="google_linked",
        subject="A Google account was linked to your Orgward account",
        body=(
            f"Hello {username},\n\n"
            f"A Google account was linked to your Orgward account at {_when(when)}:\n\n"
            f"  {google_email}\n\n"
            "It can now be used to sign in as you. If this was not you, sign in, unlink it "
            "from your account settings, change your password and sign out your other "
            "sessions.\n"
        ),
    )
