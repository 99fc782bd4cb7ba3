"""Analytics CLI: `flask seed-demo` (demo dataset) and `flask analytics rollup`."""
import time

import click
from flask.cli import AppGroup

analytics_cli = AppGroup("analytics", help="Analytics rollups.")


@click.command("seed-demo")
@click.option("--events", default=200, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--users", default=20_000, show_default=True, type=click.IntRange(1, 10_000_000))
@click.option("--bookings", default=500_000, show_default=True, type=click.IntRange(0, 50_000_000))
@click.option("--months", default=12, show_default=True, type=click.IntRange(1, 120),
              help="How far back the history goes.")
@click.option("--seed", type=int, help="Make the random data reproducible.")
@click.option("--no-rollup", is_flag=True, help="Skip the full rollup after seeding.")
def seed_demo_command(events, users, bookings, months, seed, no_rollup):
    """Append a realistic demo dataset (users, events, bookings, cancellations, waitlists, promotions)."""
    from . import demo, rollup

    started = time.monotonic()
    report = demo.seed_demo(events=events, users=users, bookings=bookings, months=months, seed=seed)
    click.echo(f"seeded {report.users} users, {report.events} events, {report.bookings} bookings "
               f"({report.cancelled} cancelled, {report.promotions} promotions), "
               f"{report.waiting_entries} waiting entries in {time.monotonic() - started:.1f}s {report.timings}")
    click.echo(f"demo users sign in with password {demo.DEMO_PASSWORD!r}")
    if not no_rollup:
        # The rows are back-dated, so only a full rollup sees them.
        result = rollup.run_rollup(full=True)
        click.echo(f"rollup: {'skipped (another run holds the lock)' if result.skipped else result.as_dict()}")


@analytics_cli.command("rollup")
@click.option("--full", is_flag=True, help="Recompute every group, not only those changed since the watermark.")
def rollup_command(full):
    """Bring the analytics rollup tables up to date now."""
    from . import rollup

    result = rollup.run_rollup(full=full)
    click.echo("skipped: another rollup is running" if result.skipped else str(result.as_dict()))


def register_commands(app):
    app.cli.add_command(seed_demo_command)
    app.cli.add_command(analytics_cli)
