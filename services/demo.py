"""Demo data for a first look: one team with an owner, an admin and two members."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select

from auth import passwords
from models import Member, Role, Team, User
from services import audit
from services.context import ServiceContext


@dataclass(frozen=True)
class DemoAccount:
    username: str
    email: str
    password: str
    role: Role


DEMO_TEAM = ("Acme Robotics", "acme")
DEMO_ACCOUNTS = (
    DemoAccount("olivia", "olivia@acme.example", "demo-owner-pass", Role.OWNER),
    DemoAccount("adam", "adam@acme.example", "demo-admin-pass", Role.ADMIN),
    DemoAccount("mia", "mia@acme.example", "demo-member-pass", Role.MEMBER),
    DemoAccount("max", "max@acme.example", "demo-member-pass", Role.MEMBER),
)


async def seed(ctx: ServiceContext) -> bool:
    """Seed the demo team only when the database holds no accounts; True if it seeded."""
    if await ctx.db.scalar(select(func.count()).select_from(User)):
        return False
    now = ctx.now()
    team = Team(slug=DEMO_TEAM[1], name=DEMO_TEAM[0], created_at=now, updated_at=now)
    ctx.db.add(team)
    await ctx.db.flush()
    for account in DEMO_ACCOUNTS:
        user = User(
            username=account.username,
            email=account.email,
            display_name=account.username.title(),
            email_verified_at=now,
            birth_date=date(1990, 1, 1),
            password_hash=await passwords.hash_password(ctx.settings, account.password),
            created_at=now,
            updated_at=now,
        )
        ctx.db.add(user)
        await ctx.db.flush()
        ctx.db.add(Member(team_id=team.id, user_id=user.id, role=account.role, created_at=now))  # type: ignore[arg-type]
    audit.team_created(ctx, team=team)
    await ctx.db.flush()
    return True
