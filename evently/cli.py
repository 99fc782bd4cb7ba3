"""Flask CLI commands: thin calls into services."""
import click
from flask import current_app
from flask.cli import AppGroup

seats_cli = AppGroup("seats", help="The Redis seat gate.")


def _create_account(role, email, name, password):
    import marshmallow as ma

    from evently.auth import services
    from evently.auth.schemas import RegisterSchema
    from evently.errors import EmailTaken

    # The same rules as POST /api/auth/create-admin and create-staff: no 3-character passwords from the shell.
    try:
        body = RegisterSchema().load({"email": email, "password": password, "name": name})
    except ma.ValidationError as error:
        raise click.ClickException(f"invalid {role}: {error.messages}") from None
    create = services.create_admin if role == "admin" else services.create_staff
    try:
        user = create(**body)
    except EmailTaken:
        raise click.ClickException(f"an account with email {email} already exists") from None
    click.echo(f"{role} {user.email} ready (id {user.id})")


@click.command("create-admin")
@click.option("--email", required=True)
@click.option("--name", default="Administrator")
@click.password_option()
def create_admin_command(email, name, password):
    """Create an admin account (or promote nothing: an existing email is an error)."""
    _create_account("admin", email, name, password)


@click.command("create-staff")
@click.option("--email", required=True)
@click.option("--name", default="Door staff")
@click.password_option()
def create_staff_command(email, name, password):
    """Create a door account (role staff: check-in and attendee lists)."""
    _create_account("staff", email, name, password)


@click.command("ensure-admin")
def ensure_admin_command():
    """Make sure the admin from EVENTLY_ADMIN_EMAIL/EVENTLY_ADMIN_PASSWORD exists."""
    from evently.auth import services

    email = current_app.config.get("EVENTLY_ADMIN_EMAIL")
    if not email:
        click.echo("EVENTLY_ADMIN_EMAIL not set; skipping")
        return
    created = services.ensure_admin(email=email, password=current_app.config["EVENTLY_ADMIN_PASSWORD"])
    if not created and not services.find_user_by_email(email).is_admin:
        # Someone registered this email as a plain user first; never promote it silently.
        raise click.ClickException(f"{email} exists but is not an admin; choose another EVENTLY_ADMIN_EMAIL")
    click.echo(f"admin {email} {'created' if created else 'already present'}")


@seats_cli.command("reconcile")
def reconcile_command():
    """Correct the Redis gate from PostgreSQL and report what changed."""
    from evently.seats import reconcile

    report = reconcile.reconcile_all()
    click.echo(report.summary())


def init_app(app):
    app.cli.add_command(create_admin_command)
    app.cli.add_command(create_staff_command)
    app.cli.add_command(ensure_admin_command)
    app.cli.add_command(seats_cli)
    from evently.analytics.cli import register_commands as register_analytics_commands
    register_analytics_commands(app)
