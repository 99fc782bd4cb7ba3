"""`make run`'s two ends: the port check before any setup, and the start of the processes.

    python3 scripts/devstack.py ports        # nothing, or one line naming the port that is taken
    .venv/bin/python scripts/devstack.py start  # .env loaded, the banner, then honcho and the Procfile

`ports` runs with the system's python3 before the virtualenv exists, so it uses
the standard library only and reads just the port numbers from `.env`.

`start` loads `.env` with python-dotenv, as config.py does (the environment
wins over the file), and hands honcho the result with honcho's own `.env`
reader switched off. honcho's reader disagrees with python-dotenv: it drops the
spaces of an unquoted value (`MAIL_FROM=Evently <...>` became `Evently<...>`)
and lets the file override the environment. One reader means every process
sees the values config.py would.
"""
import os
import socket
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOTENV = ROOT / ".env"

# (variable, default, who listens there). The defaults are gunicorn.conf.py's,
# Flower's and config.py's; tests/test_devstack.py holds them to those.
PORTS = [
    ("PORT", 5000, "the API"),
    ("FLOWER_PORT", 5555, "Flower"),
    ("WORKER_METRICS_PORT", 5556, "the Celery worker's metrics"),
    ("MAINTENANCE_METRICS_PORT", 5557, "the maintenance worker's metrics"),
]


def dotenv_value(name):
    """A value from .env, read as simply as a port number allows (quotes and a trailing comment dropped)."""
    if not DOTENV.is_file():
        return None
    found = None
    for line in DOTENV.read_text().splitlines():
        line = line.strip()
        if line.startswith("export "):
            line = line[len("export "):].lstrip()
        key, sep, value = line.partition("=")
        if sep and key.strip() == name:
            found = value.split(" #", 1)[0].strip().strip("'\"")
    return found


def setting(name, default):
    """The environment wins over .env, as in config.py."""
    value = os.environ.get(name)
    if value is None:
        value = dotenv_value(name)
    return value if value not in (None, "") else str(default)


def listens():
    """[(variable, port, who)] for every port `make run` will open (a metrics port of 0 opens none)."""
    result = []
    for name, default, who in PORTS:
        raw = setting(name, default)
        try:
            port = int(raw)
        except ValueError:
            raise SystemExit(f"{name}={raw!r} is not a port number") from None
        if port:
            result.append((name, port, who))
    return result


def taken(host, port):
    """True if a server could not bind host:port now (SO_REUSEADDR, as gunicorn binds: TIME_WAIT is no conflict)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def check_ports():
    """The first taken (or malformed) port as one sentence, or nothing."""
    host = setting("HOST", "127.0.0.1")
    try:
        ports = listens()
    except SystemExit as malformed:
        return str(malformed)
    for name, port, who in ports:
        if taken(host, port):
            return (f"port {port} ({name}, {who}) is already in use: stop what listens there, "
                    f"or choose another with {name}=... in the environment or .env")
    return ""


def start(honcho_args):
    from dotenv import load_dotenv

    load_dotenv(DOTENV)
    sys.path.insert(0, str(ROOT))
    banner()
    sys.stdout.flush()
    os.chdir(ROOT)
    os.execv(sys.executable, [sys.executable, "-m", "honcho", "start", "--env", os.devnull, *honcho_args])


def banner():
    import config

    port = {name: number for name, number, _who in listens()}
    api = f"http://127.0.0.1:{port['PORT']}"
    metrics = [f"{api}/metrics"] + [f"{label} http://127.0.0.1:{port[name]}/metrics"
                                    for name, label in (("WORKER_METRICS_PORT", "worker"),
                                                        ("MAINTENANCE_METRICS_PORT", "maintenance")) if name in port]
    queue = config.Config.CELERY_QUEUE
    print("\n".join([
        "",
        "Evently is starting (Ctrl-C stops every process):",
        f"  API        {api}/api",
        f"  Swagger UI {api}/api/docs   OpenAPI {api}/api/openapi.json",
        f"  Health     {api}/healthz    {api}/readyz",
        f"  Metrics    {'   '.join(metrics)}",
        f"  Flower     http://127.0.0.1:{port['FLOWER_PORT']}  (local only, no auth)",
        f"  Queues     {queue} (bookings' tasks), {queue}.maintenance (beat's periodic jobs)",
        f"  Admin      {config.Config.EVENTLY_ADMIN_EMAIL}",
        "",
    ]))


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "ports":
        print(check_ports())
    elif command == "start":
        start(sys.argv[2:])
    else:
        raise SystemExit(__doc__)
