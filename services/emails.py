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


def team_contact(*, team_name: str, sender: str, subject: str, message: str) -> Email:
    return Email(
        kind="team_contact",
        subject=f"[{team_name}] {subject}",
        body=(
            f"{sender}, a member of {team_name}, wrote to the team's owners and admins:\n\n"
            f"{message}\n\nReply to this email to answer {sender} directly.\n"
        ),
    )
