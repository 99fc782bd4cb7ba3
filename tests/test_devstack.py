"""`make run`'s ends (scripts/devstack.py): a taken port is one line before any setup, and
every process gets .env as config.py reads it."""
import importlib.util
import io
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import honcho.environ
import pytest
from dotenv import dotenv_values
from flower.options import options as flower_options

from sqlalchemy.engine import make_url

import config
from evently.dbsetup import _maintenance_connection

ROOT = Path(__file__).resolve().parent.parent


def load_devstack():
    spec = importlib.util.spec_from_file_location("devstack", ROOT / "scripts" / "devstack.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


devstack = load_devstack()


@pytest.fixture
def busy_port():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def test_the_port_defaults_are_the_servers_own():
    defaults = {name: default for name, default, _who in devstack.PORTS}
    gunicorn_conf = {"os": os}
    env = {key: value for key, value in os.environ.items() if key not in ("PORT", "HOST")}
    code = compile((ROOT / "gunicorn.conf.py").read_text(), "gunicorn.conf.py", "exec")
    saved = dict(os.environ)
    try:
        os.environ.clear()
        os.environ.update(env)
        exec(code, gunicorn_conf)  # noqa: S102 - the config file itself, as gunicorn reads it
    finally:
        os.environ.clear()
        os.environ.update(saved)
    assert gunicorn_conf["bind"] == f"127.0.0.1:{defaults['PORT']}"
    assert flower_options._options["port"].default == defaults["FLOWER_PORT"]
    for name in ("WORKER_METRICS_PORT", "MAINTENANCE_METRICS_PORT"):
        if name not in os.environ:
            assert getattr(config.Config, name) == defaults[name], name


def test_a_taken_port_is_named_in_one_line(busy_port, monkeypatch):
    monkeypatch.setenv("FLOWER_PORT", str(busy_port))

    message = devstack.check_ports()

    assert message.startswith(f"port {busy_port} (FLOWER_PORT, Flower) is already in use")
    assert "\n" not in message


def test_a_malformed_port_is_named_in_one_line(monkeypatch):
    monkeypatch.setenv("PORT", "50OO")

    assert devstack.check_ports() == "PORT='50OO' is not a port number"


def test_dotenv_ports_are_read_and_the_environment_wins(tmp_path, monkeypatch):
    env_file = tmp_path / ".env"
    env_file.write_text('PORT="5019"   # the API\nexport FLOWER_PORT=5619\nWORKER_METRICS_PORT=0\n')
    monkeypatch.setattr(devstack, "DOTENV", env_file)
    monkeypatch.delenv("PORT", raising=False)
    monkeypatch.delenv("WORKER_METRICS_PORT", raising=False)
    monkeypatch.setenv("FLOWER_PORT", "5620")

    ports = {name: port for name, port, _who in devstack.listens()}

    assert ports["PORT"] == 5019
    assert ports["FLOWER_PORT"] == 5620
    assert "WORKER_METRICS_PORT" not in ports  # 0: that worker serves no metrics


def database_exists(url):
    target = make_url(url)
    connection = _maintenance_connection(target)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (target.database,))
            return cursor.fetchone() is not None
    finally:
        connection.close()


def test_make_run_stops_at_a_taken_port_before_any_setup(busy_port, app):
    """One line, and nothing set up: the database it would have created does not exist."""
    database = app.config["SQLALCHEMY_DATABASE_URI"].rsplit("/", 1)[0] + "/evently_never_created_by_make_run"
    assert not database_exists(database)
    env = {**os.environ, "PORT": str(busy_port), "DATABASE_URL": database.replace("+psycopg2", ""),
           "MAKEFLAGS": ""}

    result = subprocess.run(["make", "--no-print-directory", "run"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=60)

    assert result.returncode != 0
    lines = (result.stdout + result.stderr).strip().splitlines()
    assert len(lines) == 1, lines
    assert f"port {busy_port} (PORT, the API) is already in use" in lines[0]
    assert not database_exists(database)


# --- .env: one reader ------------------------------------------------------------------


def example_lines():
    """.env.example with every commented setting switched on."""
    text = (ROOT / ".env.example").read_text()
    return "\n".join(line[2:] for line in text.splitlines() if line.startswith("# ") and "=" in line.split()[1])


def test_env_example_means_the_same_to_python_dotenv_and_honcho():
    """honcho joins the words of an unquoted value (MAIL_FROM=Evently <x> became
    "Evently<x>"); the example quotes every value, so both readers agree."""
    text = example_lines()
    by_dotenv = dotenv_values(stream=io.StringIO(text))
    by_honcho = honcho.environ.parse(text)

    assert by_dotenv == by_honcho
    assert by_dotenv["MAIL_FROM"] == "Evently <no-reply@evently.local>"
    assert by_dotenv["RATELIMIT_DEFAULT"] == "600 per minute"
    assert len(by_dotenv) >= 25
    # The negative control: honcho's reader on an unquoted value with spaces.
    assert honcho.environ.parse("MAIL_FROM=Evently <no-reply@evently.local>")["MAIL_FROM"] != \
        dotenv_values(stream=io.StringIO("MAIL_FROM=Evently <no-reply@evently.local>"))["MAIL_FROM"]


def test_make_run_hands_every_process_the_values_config_reads(tmp_path):
    """scripts/devstack.py start, run as make run runs it, on a copy with its own .env
    and a Procfile whose one process prints what it was given."""
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "devstack.py", tmp_path / "scripts" / "devstack.py")
    shutil.copy(ROOT / "config.py", tmp_path / "config.py")
    (tmp_path / ".env").write_text(
        "MAIL_FROM=Evently <no-reply@evently.local>\n"      # unquoted, with spaces
        'RATELIMIT_DEFAULT="600 per minute"\n'
        "EVENTLY_ADMIN_EMAIL=from-dotenv@example.com\n"
        "LOG_LEVEL=DEBUG   # a comment\n")
    names = ["MAIL_FROM", "RATELIMIT_DEFAULT", "EVENTLY_ADMIN_EMAIL", "LOG_LEVEL"]
    show = f"import json, os; print('ENV ' + json.dumps({{n: os.environ.get(n) for n in {names!r}}}))"
    (tmp_path / "Procfile").write_text(f"show: {sys.executable} -c \"{show}\"\n")
    env = {key: value for key, value in os.environ.items() if key not in names}
    env["EVENTLY_ADMIN_EMAIL"] = "from-environment@example.com"  # the environment wins, as in config.py

    result = subprocess.run([sys.executable, "scripts/devstack.py", "start", "-f", "Procfile", "--no-colour"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)

    printed = next(line for line in result.stdout.splitlines() if "ENV {" in line)
    given = json.loads(printed.split("ENV ", 1)[1])
    assert given == {"MAIL_FROM": "Evently <no-reply@evently.local>", "RATELIMIT_DEFAULT": "600 per minute",
                     "EVENTLY_ADMIN_EMAIL": "from-environment@example.com", "LOG_LEVEL": "DEBUG"}
    assert "Evently is starting" in result.stdout
