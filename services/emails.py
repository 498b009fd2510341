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


# --- managed accounts (SPEC 5) ----------------------------------------------------------------


def email_change_filed(*, team_name: str, username: str) -> Email:
    # The new address stays out of the email: admins read it in the team's dashboard.
    return Email(
        kind="email_change_filed",
        subject=f"[{team_name}] {username} asks to change their email address",
        body=(
            f"{username}, whose account {team_name} manages, asked to change the email "
            "address of their account. Their address changes only once an owner or admin of "
            "the team approves.\n\n"
            "Review the request among the team's pending email-change requests.\n"
        ),
    )


def email_change_decided(
    *, team_name: str, username: str, approved: bool, reason: str | None
) -> Email:
    note = f"\nThe team's note: {reason}\n" if reason else ""
    outcome = (
        "approved your request to change your email address. A confirmation link was sent "
        "to the new address; open it to verify the address."
        if approved
        else "declined your request to change your email address. Your address is unchanged."
    )
    return Email(
        kind="email_change_approved" if approved else "email_change_rejected",
        subject=f"{team_name} {'approved' if approved else 'declined'} your email change",
        body=f"Hello {username},\n\n{team_name}, which manages your account, {outcome}\n{note}",
    )


def account_deactivated(*, team_name: str, username: str, reason: str | None) -> Email:
    note = f"\nThe team's note: {reason}\n" if reason else ""
    return Email(
        kind="account_deactivated",
        subject=f"{team_name} deactivated your account",
        body=(
            f"Hello {username},\n\n"
            f"{team_name}, which manages your account, deactivated it: you were signed out "
            "everywhere and your access tokens were revoked. You cannot sign in until the "
            "team reactivates the account; contact its owners or admins.\n"
            f"{note}"
        ),
    )


# --- takeover (SPEC 5): one text for every recipient, sent set-based through the outbox ------


def takeover_announced(*, team_name: str, domain: str, effective_at: datetime) -> Email:
    return Email(
        kind="takeover_announced",
        subject=f"{team_name} will manage your account from {_when(effective_at)}",
        body=(
            "Hello,\n\n"
            f"{team_name} has verified that it controls the email domain {domain}, and has "
            "announced that it will manage the Orgward accounts whose verified email address "
            f"is in that domain, including yours, from {_when(effective_at)}.\n\n"
            "Once managed, the team's owners and admins can deactivate your account, sign you "
            "out everywhere and change your display name, and you need their approval to "
            "change your email address.\n\n"
            "Before then you can:\n"
            "  - change your account's email to a personal address: your account is then "
            "left out;\n"
            "  - export your data;\n"
            "  - delete your account.\n\n"
            "If you do nothing, the team manages your account from that time on.\n"
        ),
    )


def takeover_effective(*, team_name: str, domain: str, since: datetime) -> Email:
    return Email(
        kind="takeover_effective",
        subject=f"Your account is now managed by {team_name}",
        body=(
            "Hello,\n\n"
            f"Since {_when(since)} your Orgward account is managed by {team_name}, because "
            f"its email address is in the team's verified domain {domain}.\n\n"
            "The team's owners and admins can now deactivate your account, sign you out "
            "everywhere and change your display name; changing your email address needs "
            "their approval. You can still export your data or delete your account.\n"
        ),
    )


def takeover_cancelled(*, team_name: str, domain: str) -> Email:
    return Email(
        kind="takeover_cancelled",
        subject=f"{team_name} will not manage your account",
        body=(
            "Hello,\n\n"
            f"{team_name} had announced that it would manage the accounts in the email domain "
            f"{domain}, including yours. That takeover was cancelled: your account stays as it "
            "is, managed by nobody.\n"
        ),
    )


def managed_account_released(*, team_name: str) -> Email:
    return Email(
        kind="managed_account_released",
        subject=f"{team_name} no longer manages your account",
        body=(
            "Hello,\n\n"
            f"{team_name} no longer manages your Orgward account: it is yours alone again, "
            "and you can change your email address without anyone's approval. Any email "
            "change you had asked the team to approve was withdrawn: make it yourself in your "
            "account settings if you still want it.\n"
        ),
    )


def takeover_skipped(*, team_name: str, domain: str) -> Email:
    return Email(
        kind="takeover_skipped",
        subject=f"{team_name} does not manage your account",
        body=(
            "Hello,\n\n"
            f"{team_name} had announced that it would manage the accounts in the email domain "
            f"{domain}, including yours. When the takeover took effect your account no longer "
            "qualified (its address was no longer a verified one in that domain, or the "
            f"account was closed or already managed), so {team_name} does not manage it. "
            "Nothing changes for you.\n"
        ),
    )


# --- leaked tokens (SPEC 6) ---------------------------------------------------------------------


def _found_on(host: str | None, source: str | None) -> str:
    # Only a host name, never the reported link: whoever reports is anonymous, and our email
    # must not carry a link of their choosing.
    where = f" on {host}" if host else ""
    via = f" ({source})" if source else ""
    return f"{where}{via}" if where or via else ""


def personal_token_leaked(
    *,
    username: str,
    token_name: str,
    hint: str,
    when: datetime,
    host: str | None,
    source: str | None,
) -> Email:
    return Email(
        kind="token_leaked",
        subject=f"Your access token {hint}… was found in public and revoked",
        body=(
            f"Hello {username},\n\n"
            f'A secret scanning service reported your personal access token "{token_name}" '
            f"({hint}…) as found in public{_found_on(host, source)}. Orgward revoked it at "
            f"{_when(when)}: programs using it are now refused.\n\n"
            "If you still need one, create a new token and keep it out of code, logs and "
            "shared files. Your notifications show where it was reported.\n"
        ),
    )


def app_token_leaked(
    *,
    username: str,
    app_name: str,
    team_name: str,
    hint: str,
    when: datetime,
    host: str | None,
    source: str | None,
) -> Email:
    return Email(
        kind="app_token_leaked",
        subject=f"An access token of {app_name} was found in public and revoked",
        body=(
            f"Hello {username},\n\n"
            f"A secret scanning service reported an access token of your app {app_name} for "
            f"the team {team_name} ({hint}…) as found in public{_found_on(host, source)}. "
            f"Orgward revoked it at {_when(when)}.\n\n"
            "Your server can ask POST /oauth/token for a new one. If the client secret may "
            "have leaked with it, rotate the secret too.\n"
        ),
    )
