"""Secrets fail closed: no published constant signs a token, local secrets are generated once per
checkout and kept out of git, and a server bound beyond loopback refuses to start without real ones."""
import json
import multiprocessing
import os
import stat
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from config import DEV_ADMIN_PASSWORD
from evently.secret_keys import (PUBLISHED, SECRETS_FILE, load_or_create, refuse_exposed_development_secrets,
                                 weak_secrets)
from tests.redis_server import free_port
from tests.servers import ROOT, wait_for_http
from tests.variants import other_app

STRONG = {"SECRET_KEY": "s" * 40, "JWT_SECRET_KEY": "j" * 48, "EVENTLY_ADMIN_EMAIL": "admin@example.com",
          "EVENTLY_ADMIN_PASSWORD": "a-real-admin-secret"}


class Settings:
    def __init__(self, **values):
        self.__dict__.update(values)


# --- generated local secrets ---------------------------------------------------------------


def test_a_missing_secret_is_generated_once_and_kept_private(tmp_path):
    path = tmp_path / "instance" / SECRETS_FILE

    first = load_or_create(str(path))
    second = load_or_create(str(path))

    assert first == second == json.loads(path.read_text())
    assert set(first) == {"SECRET_KEY", "JWT_SECRET_KEY"}
    assert all(len(value) >= 32 and value not in PUBLISHED for value in first.values())
    assert first["SECRET_KEY"] != first["JWT_SECRET_KEY"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert load_or_create(str(tmp_path / "elsewhere" / SECRETS_FILE)) != first  # another checkout, another key


def _race_main(path, barrier, results):
    barrier.wait()
    results.put(load_or_create(path))


def test_processes_starting_together_agree_on_one_secret(tmp_path):
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(4), context.Queue()
    path = str(tmp_path / "instance" / SECRETS_FILE)
    processes = [context.Process(target=_race_main, args=(path, barrier, results)) for _ in range(4)]
    for process in processes:
        process.start()
    seen = [results.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(30)

    assert all(secrets == seen[0] for secrets in seen)
    assert sorted(os.listdir(tmp_path / "instance")) == [SECRETS_FILE]  # no candidate left behind


def test_the_session_app_signs_with_its_checkouts_generated_key(app):
    stored = json.loads((Path(app.instance_path) / SECRETS_FILE).read_text())

    assert app.config["JWT_SECRET_KEY"] == stored["JWT_SECRET_KEY"]
    assert app.config["SECRET_KEY"] == stored["SECRET_KEY"]
    ignored = subprocess.run(["git", "check-ignore", "-q", str(Path(app.instance_path) / SECRETS_FILE)], cwd=ROOT)
    assert ignored.returncode == 0, "the generated secrets must never be committed"


@pytest.mark.parametrize("name", ["SECRET_KEY", "JWT_SECRET_KEY"])
@pytest.mark.parametrize("value", sorted(PUBLISHED))
def test_a_published_value_is_refused_even_in_development(app, name, value):
    with pytest.raises(RuntimeError, match=f"{name} is a published default"):
        with other_app(app, "development", **{name: value}):
            pass


# --- production ----------------------------------------------------------------------------


def test_production_names_every_missing_secret_in_one_line(app):
    with pytest.raises(RuntimeError) as refused:
        with other_app(app, "production", SECRET_KEY=None, JWT_SECRET_KEY="", EVENTLY_ADMIN_EMAIL="admin@example.com",
                       EVENTLY_ADMIN_PASSWORD=None):
            pass

    message = str(refused.value)
    assert "\n" not in message
    assert "SECRET_KEY, JWT_SECRET_KEY, EVENTLY_ADMIN_PASSWORD" in message


def test_production_never_falls_back_to_the_generated_secrets(app):
    assert (Path(app.instance_path) / SECRETS_FILE).exists()

    with pytest.raises(RuntimeError, match="SECRET_KEY, JWT_SECRET_KEY"):
        with other_app(app, "production", SECRET_KEY=None, JWT_SECRET_KEY=None, EVENTLY_ADMIN_EMAIL=None):
            pass


# --- beyond loopback -----------------------------------------------------------------------


@pytest.mark.parametrize("address", [("127.0.0.1", 5000), ("::1", 5000), ("localhost", 5000), "/tmp/evently.sock"])
def test_loopback_binds_need_no_configured_secrets(address):
    refuse_exposed_development_secrets([address], Settings(SECRET_KEY=None, JWT_SECRET_KEY=None))


@pytest.mark.parametrize("address", [("0.0.0.0", 5000), ("", 5000), ("::", 5000), ("192.0.2.10", 5000)])
def test_a_bind_beyond_loopback_needs_real_secrets(address):
    with pytest.raises(RuntimeError, match="SECRET_KEY, JWT_SECRET_KEY, EVENTLY_ADMIN_PASSWORD"):
        refuse_exposed_development_secrets([("127.0.0.1", 5000), address], Settings(
            SECRET_KEY=None, JWT_SECRET_KEY=sorted(PUBLISHED)[0], EVENTLY_ADMIN_EMAIL="admin@evently.local",
            EVENTLY_ADMIN_PASSWORD=DEV_ADMIN_PASSWORD))
    refuse_exposed_development_secrets([address], Settings(**STRONG))


def test_weak_secrets_are_named_in_a_fixed_order():
    assert weak_secrets({**STRONG, "JWT_SECRET_KEY": "short"}) == ["JWT_SECRET_KEY"]
    assert weak_secrets({**STRONG, "EVENTLY_ADMIN_EMAIL": None, "EVENTLY_ADMIN_PASSWORD": None}) == []
    assert weak_secrets({}) == ["SECRET_KEY", "JWT_SECRET_KEY"]


def gunicorn_env(**overrides):
    env = {key: value for key, value in os.environ.items()
           if key not in ("SECRET_KEY", "JWT_SECRET_KEY", "EVENTLY_ADMIN_PASSWORD")}
    return {**env, "EVENTLY_ENV": "testing", "WEB_CONCURRENCY": "1", **overrides}


def test_gunicorn_refuses_to_bind_beyond_loopback_without_real_secrets():
    port = free_port()
    result = subprocess.run([sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "wsgi:app"],
                            cwd=ROOT, env=gunicorn_env(HOST="0.0.0.0", PORT=str(port)),
                            capture_output=True, text=True, timeout=60)

    assert result.returncode == 1
    [refusal] = [line for line in result.stderr.splitlines() if "Refusing" in line]
    assert f"0.0.0.0:{port}" in refusal and "SECRET_KEY, JWT_SECRET_KEY" in refusal
    assert "Listening at" not in result.stderr


def test_make_run_serves_on_loopback_even_when_host_says_otherwise():
    """The Procfile's api line, run as honcho runs it, with HOST=0.0.0.0 as a .env might set: it
    binds 127.0.0.1 (were it to try 0.0.0.0, the refusal above would stop it instead)."""
    [api] = [line.split(":", 1)[1].strip() for line in (ROOT / "Procfile").read_text().splitlines()
             if line.startswith("api:")]
    port = free_port()
    process = subprocess.Popen(["sh", "-c", api], cwd=ROOT, env=gunicorn_env(HOST="0.0.0.0", PORT=str(port)),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for_http(port, process=process)
        listening = {connection.laddr.ip for connection in psutil.net_connections("tcp")
                     if connection.status == psutil.CONN_LISTEN and connection.laddr.port == port}
    finally:
        os.killpg(process.pid, 15)
        process.wait(20)

    assert listening == {"127.0.0.1"}
