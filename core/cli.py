"""The `orgward` command: serve, migrate, worker, create-staff."""

from __future__ import annotations

import asyncio

import typer

from auth.actor import Actor
from core.clock import SystemClock
from core.db import create_engine, session_factory
from core.logging import configure_logging
from core.settings import Settings

cli = typer.Typer(help="Orgward: GraphQL admin and organization-control API.", no_args_is_help=True)


def _settings() -> Settings:
    settings = Settings()
    configure_logging(settings)
    return settings


@cli.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    demo: bool = typer.Option(False, "--demo", help="Seed demo data into an empty database."),
) -> None:
    """Run the API (and, in development, the background worker in-process)."""
    import uvicorn

    from api.app import create_app

    settings = _settings()
    if "public_base_url" not in settings.model_fields_set:
        # Unconfigured: the API is where it is served, so GraphiQL's own origin is trusted.
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        settings = settings.model_copy(update={"public_base_url": f"http://{shown}:{port}"})
    try:
        settings.check_startable()
    except ValueError as error:
        typer.echo(f"Refusing to start: {error}", err=True)
        raise typer.Exit(2) from None
    if demo and settings.is_production:
        typer.echo(
            "Refusing to start: --demo seeds accounts with published passwords; "
            "it is for development only.",
            err=True,
        )
        raise typer.Exit(2)
    if not settings.is_production:
        asyncio.run(_prepare(settings, demo=demo))
    typer.echo(f"Orgward API:  http://{host}:{port}/graphql")
    if not settings.is_production:
        typer.echo(f"GraphiQL:     http://{host}:{port}/graphql  (open it in a browser)")
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level="info",
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
    )


async def _prepare(settings: Settings, *, demo: bool) -> None:
    from core import migrate
    from services import demo as demo_data
    from services.context import ServiceContext

    engine = create_engine(settings)
    try:
        await migrate.upgrade(engine)
        if not demo:
            return
        async with session_factory(engine)() as db:
            ctx = ServiceContext(
                db=db, actor=Actor.system(), settings=settings, clock=SystemClock()
            )
            seeded = await demo_data.seed(ctx)
            await db.commit()
        typer.echo(
            "Demo data "
            + ("seeded" if seeded else "already present (database not empty)")
            + f": team '{demo_data.DEMO_TEAM[1]}'. Sign in with signIn(input: "
            "{identifier, password}) as:"
        )
        for account in demo_data.DEMO_ACCOUNTS:
            typer.echo(
                f"  {account.role.value:7} {account.username:7} password: {account.password}"
            )
    finally:
        await engine.dispose()


@cli.command()
def migrate() -> None:
    """Apply pending database migrations."""
    from core import migrate as migrations

    settings = _settings()

    async def run() -> None:
        engine = create_engine(settings)
        try:
            await migrations.upgrade(engine)
            typer.echo(f"Database at revision {await migrations.current_revision(engine)}.")
        finally:
            await engine.dispose()

    asyncio.run(run())


@cli.command()
def worker(
    once: bool = typer.Option(False, "--once", help="Run each sweep once and exit."),
) -> None:
    """Run background sweeps (email outbox and housekeeping) until interrupted."""
    import signal

    from worker.context import WorkerContext
    from worker.runner import run_forever, run_once

    settings = _settings()

    async def run() -> None:
        engine = create_engine(settings)
        context = WorkerContext(
            engine=engine, sessions=session_factory(engine), settings=settings, clock=SystemClock()
        )
        try:
            if once:
                typer.echo(str(await run_once(context)))
                return
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await run_forever(context, stop)
        finally:
            await engine.dispose()

    asyncio.run(run())


@cli.command("create-staff")
def create_staff(
    username: str = typer.Option(..., help="Username of the staff account."),
    email: str = typer.Option(..., help="Email address (treated as verified)."),
) -> None:
    """Create a platform staff account; the password is asked for on the terminal."""
    from core.errors import DomainError
    from services import accounts
    from services.context import ServiceContext

    settings = _settings()
    password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)

    async def run() -> None:
        engine = create_engine(settings)
        try:
            async with session_factory(engine)() as db:
                ctx = ServiceContext(
                    db=db, actor=Actor.system(), settings=settings, clock=SystemClock()
                )
                user = await accounts.create_staff(
                    ctx, username=username, email=email, password=password
                )
                await db.commit()
                typer.echo(f"Staff account '{user.username}' created.")
        finally:
            await engine.dispose()

    try:
        asyncio.run(run())
    except DomainError as error:
        typer.echo(f"{error.field or 'error'}: {error.message}", err=True)
        raise typer.Exit(2) from None


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
