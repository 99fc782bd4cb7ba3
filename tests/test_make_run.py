"""A newcomer's first hour, for real: `make run` on free ports and the test database, the
README's examples run as printed (twice), Flower's view, and Ctrl-C.

The README's runnable blocks are the ```bash blocks right after a comment naming this
file. Each runs under `bash -euo pipefail`, so any unexpected HTTP status fails it (the
examples use curl --fail-with-body), and what it prints must match its `# =>` lines,
where `…` stands for anything that differs from run to run. The tests run in file
order on one stack; the last one stops it with Ctrl-C.
"""
import os
import pty
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import psutil
import pytest
import redis
from sqlalchemy import text

from evently.extensions import db
from tests.redis_server import free_port

pytestmark = pytest.mark.race
ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
MARKER = "<!-- tests/test_make_run.py runs this block"


def readme_blocks():
    """[(script, expected output lines)] for every block the README marks as tested."""
    blocks = re.findall(re.escape(MARKER) + r".*?-->\n```bash\n(.*?)```", README.read_text(), flags=re.DOTALL)
    assert len(blocks) == 4, "the README's API, organisers', door's and Flower blocks"
    return [(block, [line[len("# => "):] for line in block.splitlines() if line.startswith("# => ")])
            for block in blocks]


def matches(expected, actual):
    pattern = "".join(".*?" if part == "…" else re.escape(part) for part in re.split("(…)", expected))
    return re.fullmatch(pattern, actual) is not None


class MakeRun:
    """`make run` in its own session on a pseudo-terminal, as a newcomer types it."""

    def __init__(self, env):
        self.env = env
        self.output = []
        master, follower = pty.openpty()
        self.process = subprocess.Popen(["make", "run"], cwd=ROOT, env=env, stdin=follower, stdout=follower,
                                        stderr=follower, start_new_session=True)
        os.close(follower)
        self._reader = threading.Thread(target=self._read, args=(master,), daemon=True)
        self._reader.start()

    def _read(self, fd):
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # every writer has gone
                break
            if not chunk:
                break
            self.output.append(chunk)
        os.close(fd)

    def text(self):
        return re.sub(r"\x1b\[[0-9;]*m", "", b"".join(self.output).decode(errors="replace"))

    def ctrl_c(self, timeout=60):
        """What the terminal does on Ctrl-C: SIGINT to the whole foreground group."""
        os.killpg(self.process.pid, signal.SIGINT)
        self.process.wait(timeout)
        self._reader.join(10)
        return self.process.returncode

    def kill(self):
        """SIGKILL make and every process under it: honcho starts each Procfile line in a
        process group of its own, so killing make's group alone would orphan them (and an
        orphaned worker would go on taking the next tests' tasks)."""
        try:
            tree = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            tree = []
        for process in tree:
            try:
                process.kill()
            except psutil.NoSuchProcess:
                pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(20)


def http_get(url, timeout=3):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.status, response.read().decode()


def wait_for(check, timeout, what, stack):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if stack.process.poll() is not None:
            raise AssertionError(f"make run exited ({stack.process.returncode}) before {what}:\n{stack.text()[-4000:]}")
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{what}: not within {timeout}s\n{stack.text()[-4000:]}")


def empty_the_test_stores(app):
    with app.app_context():
        db.session.remove()
        tables = ", ".join(table.name for table in db.metadata.sorted_tables)
        with db.engine.begin() as connection:
            connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        db.engine.dispose()
    redis.Redis.from_url(app.config["REDIS_URL"]).flushdb()


@pytest.fixture(autouse=True)
def clean_state():
    """The stack spans this module's tests: no per-test truncation or flush under its feet."""
    yield


@pytest.fixture(scope="module")
def stack(app):
    empty_the_test_stores(app)  # a fresh make run: an empty (migrated) database, an empty Redis DB
    ports = {name: free_port() for name in ("PORT", "FLOWER_PORT", "WORKER_METRICS_PORT", "MAINTENANCE_METRICS_PORT")}
    inherited = {key: value for key, value in os.environ.items()
                 if not key.startswith(("MAKE", "MFLAGS", "CELERY_", "RATELIMIT_", "PROMETHEUS_", "FLOWER_",
                                        "EVENTLY_", "SMTP_", "HOST"))}
    env = {**inherited, **{name: str(port) for name, port in ports.items()},
           "EVENTLY_ENV": "development",
           "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"].replace("+psycopg2", ""),
           "REDIS_URL": app.config["REDIS_URL"],
           # The README's admin: make run's development defaults.
           "EVENTLY_ADMIN_EMAIL": "admin@evently.local", "EVENTLY_ADMIN_PASSWORD": "admin-password-change-me"}
    running = MakeRun(env)
    running.ports = ports
    running.api = f"http://127.0.0.1:{ports['PORT']}"
    running.flower = f"http://127.0.0.1:{ports['FLOWER_PORT']}"
    try:
        wait_for(lambda: http_get(f"{running.api}/readyz")[0] == 200, 120, "/readyz answers 200", running)
        for name in ("WORKER_METRICS_PORT", "MAINTENANCE_METRICS_PORT"):
            wait_for(lambda: http_get(f"http://127.0.0.1:{ports[name]}/metrics")[0] == 200, 60, name, running)
        wait_for(lambda: {"celery", "maintenance"} <= {
            worker.split("@")[0] for worker in re.findall(r'"([a-z]+@[^"]+)"',
                                                          http_get(f"{running.flower}/api/workers?refresh=1",
                                                                   timeout=10)[1])},
                 60, "Flower sees both workers", running)
        yield running
    finally:
        running.kill()
        empty_the_test_stores(app)


def test_the_banner_names_every_url(stack):
    banner = stack.text()

    assert f"API        {stack.api}/api" in banner
    assert f"Swagger UI {stack.api}/api/docs" in banner
    assert f"Flower     {stack.flower}" in banner
    assert f"worker http://127.0.0.1:{stack.ports['WORKER_METRICS_PORT']}/metrics" in banner


# Together the two runs log in more often than RATELIMIT_AUTH (10 a minute per address) allows, as
# the README says; so the second run comes from another loopback address, as a second person's
# machine would (curl reads `interface` from $CURL_HOME/.curlrc), instead of waiting out the minute.
SECOND_ADDRESS = "127.0.0.2"


def test_the_readme_examples_run_as_printed_twice(stack, tmp_path):
    (tmp_path / ".curlrc").write_text(f"interface = {SECOND_ADDRESS}\n")
    env = {**os.environ, "EVENTLY_URL": stack.api, "FLOWER_URL": stack.flower}
    for attempt, extra in ((1, {}), (2, {"CURL_HOME": str(tmp_path)})):
        for script, expected in readme_blocks():
            result = subprocess.run(["bash", "-euo", "pipefail", "-c", script], env={**env, **extra},
                                    capture_output=True, text=True, timeout=120)
            printed = result.stdout.splitlines()
            assert result.returncode == 0, f"run {attempt} stopped (exit {result.returncode}):\n" \
                                           f"{result.stdout}\n{result.stderr}"
            assert len(printed) == len(expected), f"run {attempt}:\n{result.stdout}\n{result.stderr}"
            for want, got in zip(expected, printed):
                assert matches(want, got), f"run {attempt}: the README shows\n  {want}\nbut it printed\n  {got}"


def scrape(url):
    return http_get(url)[1]


def sample(body, name, **labels):
    for line in body.splitlines():
        match = re.fullmatch(r"(\w+)(?:\{(.*)\})? (\S+)", line)
        if match and match.group(1) == name and dict(re.findall(r'(\w+)="([^"]*)"', match.group(2) or "")) == labels:
            return float(match.group(3))
    return None


def test_beats_jobs_run_on_the_maintenance_worker_and_stay_out_of_flower(stack):
    maintenance = f"http://127.0.0.1:{stack.ports['MAINTENANCE_METRICS_PORT']}/metrics"
    wait_for(lambda: (sample(scrape(maintenance), "evently_celery_tasks_total", task="notifications.sweep",
                             state="SUCCESS") or 0) >= 1, 40, "beat's outbox sweep ran on the maintenance worker",
             stack)

    names = set(re.findall(r'"name": "([\w.]+)"', http_get(f"{stack.flower}/api/tasks", timeout=10)[1]))
    assert names, "the README's bookings reached Flower's task list"
    assert not names & {"notifications.sweep", "seats.reconcile_all", "analytics.rollup",
                        "events.resume_cancellations", "seats.prune", "auth.prune", "tickets.send_reminders"}, names


def test_every_scrape_of_the_api_counts_every_gunicorn_worker(stack):
    scrapes = [sample(scrape(f"{stack.api}/metrics"), "evently_bookings_total", outcome="booked") for _ in range(6)]

    # Per README run: Bob's and Ada's bookings, Cat's and Dan's, Fay's at the door; Ada's replay, the
    # refused body and Cat's third seat book nothing. The README runs twice.
    assert scrapes == [10.0] * 6


def test_ctrl_c_stops_every_process_quietly(stack):
    before = len(stack.text())

    status = stack.ctrl_c()

    after = stack.text()[before:]
    assert status in (0, -signal.SIGINT), status
    for noise in ("Error 130", "Interrupt", "Traceback", "make: ***"):
        assert noise not in after, after[-3000:]
    for port in stack.ports.values():
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0, f"something still listens on {port}"
