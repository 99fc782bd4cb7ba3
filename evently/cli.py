"""Flask CLI commands: thin calls into services."""
import click
from flask import current_app
from flask.cli import AppGroup

seats_cli = AppGroup("seats", help="The Redis seat gate.")


@click.command("create-admin")
@click.option("--email", required=True)
@click.option("--name", default="Administrator")
@click.password_option()
def create_admin_command(email, name, password):
    """Create an admin account (or promote nothing: an existing email is an error)."""
    from evently.auth import services

    user = services.create_admin(email=email, password=password, name=name)
    click.echo(f"admin {user.email} ready (id {user.id})")


@click.command("ensure-admin")
def ensure_admin_command():
    """Make sure the admin from EVENTLY_ADMIN_EMAIL/EVENTLY_ADMIN_PASSWORD exists."""
    from evently.auth import services

    email = current_app.config.get("EVENTLY_ADMIN_EMAIL")
    if not email:
        click.echo("EVENTLY_ADMIN_EMAIL not set; skipping")
        return
    created = services.ensure_admin(email=email, password=current_app.config["EVENTLY_ADMIN_PASSWORD"])
    click.echo(f"admin {email} {'created' if created else 'already present'}")


@seats_cli.command("reconcile")
def reconcile_command():
    """Correct the Redis gate from PostgreSQL and report what changed."""
    from evently.seats import reconcile

    report = reconcile.reconcile_all()
    click.echo(report.summary())


def init_app(app):
    app.cli.add_command(create_admin_command)
    app.cli.add_command(ensure_admin_command)
    app.cli.add_command(seats_cli)
