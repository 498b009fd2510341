"""`GET /auth/google/login` and `GET /auth/google/callback`: the browser's side of Google sign-in.

Both always answer with a redirect. Success goes where `next` asked (allow-listed origins only),
or to the front end. A new account goes to the front end's sign-in page with `?signup=google`
and a signup ticket in its own HttpOnly cookie, for `completeSignup`. A refusal goes to the same
page with `?error=<code>` (see README), never to an error status.

Linking a Google account to the signed-in user needs `GET /auth/google/login?link=1` (the
provider is then asked to let the user pick the account). A plain login ignores any session
the browser has: it is a sign-in as that Google account, exactly as for a signed-out browser
(into the account it is linked to, `account_exists` for another account's verified address,
or a new sign-up), so a session cookie alone never links anything.
"""

from __future__ import annotations

from urllib.parse import urlencode

import structlog
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from api.cookies import set_session_cookie
from api.identity import identify
from api.state import AppState
from auth import bearer, policy, redirects, token_rate
from auth.google import SIGNUP_COOKIE, GoogleSignIn, SignInRefused, signup_cookie_path
from core.errors import DomainError
from core.settings import Settings
from services import identities
from services.accounts import SignedIn
from services.context import ServiceContext
from services.identities import Outcome
from services.signups import SignupPending

log = structlog.get_logger("orgward.google")


def routes(settings: Settings) -> list[Route]:
    google = GoogleSignIn(settings)

    async def login(request: Request) -> Response:
        next_url = None
        if "next" in request.query_params:
            next_url = redirects.safe_next(
                request.query_params["next"],
                allowed_origins=settings.sign_in_redirect_allowed,
                base_url=settings.links_base_url,
            )
            if next_url is None:
                return _refused(settings, "invalid_next")
        started_by = None
        if request.query_params.get("link") == "1":
            # Linking is asked for explicitly, by a signed-in user; a plain login never links.
            state: AppState = request.app.state.orgward
            async with state.sessions() as db:
                try:
                    who = await identify(request, db, state)
                except (bearer.BearerError, token_rate.TokenRateLimited):
                    return _refused(settings, "invalid_credentials")
                await db.commit()
            user = policy.session_user(who.actor)  # a token never links an identity
            if user is None:
                return _refused(settings, "signed_out")
            started_by = user.id
        try:
            return _no_store(await google.start(request, next_url=next_url, started_by=started_by))
        except SignInRefused as refusal:
            return _refused(settings, refusal.reason)

    async def callback(request: Request) -> Response:
        try:
            flow, account = await google.finish(request)
        except SignInRefused as refusal:
            return _refused(settings, refusal.reason)
        state: AppState = request.app.state.orgward
        async with state.sessions() as db:
            try:
                who = await identify(request, db, state)
                ctx = ServiceContext(db=db, actor=who.actor, settings=settings, clock=state.clock)
                outcome = await identities.google_signed_in(
                    ctx, account, started_by=flow.started_by
                )
                await db.commit()
            except (DomainError, bearer.BearerError, token_rate.TokenRateLimited) as error:
                await db.rollback()
                reason = getattr(error, "reason", None) or _code(error)
                log.info("google.sign_in_refused", reason=reason)
                return _refused(settings, reason)
        return _landing(settings, outcome, flow.next_url)

    return [
        Route("/auth/google/login", login, methods=["GET"]),
        Route("/auth/google/callback", callback, methods=["GET"]),
    ]


def _landing(settings: Settings, outcome: Outcome, next_url: str | None) -> Response:
    home = next_url or f"{settings.links_base_url}/"
    if isinstance(outcome, SignupPending):
        query = {"signup": "google", "username": outcome.username}
        if next_url:
            query["next"] = next_url
        response = _redirect(_with_query(settings.sign_in_page, query))
        response.set_cookie(
            SIGNUP_COOKIE,
            outcome.ticket,
            max_age=settings.google_signup_minutes * 60,
            path=signup_cookie_path(settings),
            httponly=True,
            secure=settings.secure_cookies,
            samesite="lax",
        )
        return response
    response = _redirect(home)
    if isinstance(outcome, SignedIn):
        set_session_cookie(response, settings, outcome.token)
    return response


def _refused(settings: Settings, reason: str) -> Response:
    return _redirect(_with_query(settings.sign_in_page, {"error": reason}))


def _redirect(url: str) -> Response:
    return _no_store(RedirectResponse(url, status_code=302))


def _no_store(response: Response) -> Response:
    response.headers["cache-control"] = "no-store"
    return response


def _with_query(url: str, params: dict[str, str]) -> str:
    return f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"


def _code(error: DomainError | bearer.BearerError | token_rate.TokenRateLimited) -> str:
    return error.code.value.lower() if isinstance(error, DomainError) else "invalid_credentials"
