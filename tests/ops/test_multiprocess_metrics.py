"""Metrics that add up: every process of gunicorn and of a Celery worker counted in one scrape.

Before, /metrics answered from whichever gunicorn worker took the scrape (six
scrapes of one counter read absent, 3 and 1), and the Celery worker exposed
nothing, so promotions and notifications read 0.
"""
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from prometheus_client import multiprocess
from prometheus_client.metrics import MetricWrapperBase

from evently.bookings import services as bookings
from evently.ops import metrics
from tests import factories
from tests.redis_server import free_port
from tests.waiting import wait_until
from tests.worker_process import WorkerProcess

pytestmark = pytest.mark.race
ROOT = Path(__file__).resolve().parents[2]
HEALTHZ = {"method": "GET", "endpoint": "/healthz", "status": "200"}


def get(port, path, timeout=10):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def sample(text, name, **labels):
    """The value of one sample in Prometheus text, or None when it is absent."""
    for line in text.splitlines():
        match = re.fullmatch(r"(\w+)(?:\{(.*)\})? (\S+)", line)
        if match and match.group(1) == name:
            found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2) or ""))
            if found == labels:
                return float(match.group(3))
    return None


def wait_for_http(port, path="/healthz", timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if get(port, path, timeout=2)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"nothing answered on :{port}{path} within {timeout}s")


@pytest.fixture
def gunicorn(tmp_path):
    """gunicorn with two workers and an operator-given metrics directory holding
    an earlier run's counts (a file the start must wipe)."""
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    stale = ("from prometheus_client import Counter; c = Counter('evently_http_requests_total', 'x', "
             "['method', 'endpoint', 'status']); c.labels('GET', '/healthz', '200').inc(1000)")
    subprocess.run([sys.executable, "-c", stale], env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)},
                   check=True)
    assert list(metrics_dir.glob("counter_*.db"))
    port = free_port()
    env = {**os.environ, "EVENTLY_ENV": "testing", "PORT": str(port), "WEB_CONCURRENCY": "2",
           "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "wsgi:app"],
                               cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    try:
        wait_for_http(port)
        yield process, port, metrics_dir
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(20)


def counts_per_process(metrics_dir):
    """{pid: the /healthz 200 count that process wrote}, from its own file."""
    counts = {}
    for path in metrics_dir.glob("counter_*.db"):
        for family in multiprocess.MultiProcessCollector.merge([str(path)]):
            for item in family.samples:
                if item.name == "evently_http_requests_total" and item.labels == HEALTHZ and item.value:
                    counts[int(path.stem.split("_")[1])] = item.value
    return counts


def test_a_counter_counted_by_two_gunicorn_workers_reads_the_same_sum_in_every_scrape(gunicorn):
    process, port, metrics_dir = gunicorn
    # The health probes of the fixture counted too; start from a scrape.
    before = sample(get(port, "/metrics")[1], "evently_http_requests_total", **HEALTHZ)
    assert before is not None and before < 1000  # the earlier run's 1000 were wiped at start

    # /healthz is too quick for two workers to share a burst, so one worker is kept
    # busy by a request whose headers are still arriving, and the other serves the rest.
    held = socket.create_connection(("127.0.0.1", port), timeout=10)
    held.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    time.sleep(0.5)  # a worker has accepted it and waits for the rest
    requests = 30
    for _ in range(requests):
        assert get(port, "/healthz")[0] == 200
    held.sendall(b"Connection: close\r\n\r\n")
    assert held.recv(64).startswith(b"HTTP/1.1 200")
    held.close()
    requests += 1

    per_process = counts_per_process(metrics_dir)
    assert len(per_process) >= 2, per_process  # both workers answered some
    scrapes = [sample(get(port, "/metrics")[1], "evently_http_requests_total", **HEALTHZ) for _ in range(6)]
    assert scrapes == [before + requests] * 6
    assert sum(per_process.values()) == before + requests

    # A worker that dies takes nothing with it: its file stays, and the total never goes backwards.
    worker_pid = max(per_process)
    os.kill(worker_pid, signal.SIGKILL)
    wait_for_http(port)
    after_death = [sample(get(port, "/metrics")[1], "evently_http_requests_total", **HEALTHZ) for _ in range(4)]
    assert min(after_death) >= before + requests


def test_the_multiprocess_module_leaves_prometheus_client_unimported():
    """It runs before the app in gunicorn.conf.py and celery_worker.py, where
    importing prometheus_client would fix its mode too early."""
    code = "import sys, evently.ops.multiproc; print('prometheus_client' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout.strip() == "False"


def test_a_servers_metric_files_live_in_memory_not_on_disk():
    """Each request writes through a mapping of these files; on a disk-backed /tmp that cost the flash
    sale bookings (docs/benchmarks.md). The directory is made in /dev/shm, a tmpfs."""
    code = ("import os; os.environ.pop('PROMETHEUS_MULTIPROC_DIR', None); from evently.ops import multiproc; "
            "path = multiproc.prepare('test'); print(path); multiproc.cleanup(path)")
    path = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout.strip()
    with open("/proc/mounts") as mounts:
        tmpfs = {fields.split()[1] for fields in mounts if fields.split()[2] == "tmpfs"}
    assert os.path.dirname(path) in tmpfs
    assert not os.path.exists(path)


def scrape_worker(port):
    return get(port, "/metrics")[1]


def test_a_promotion_and_its_notification_counted_in_the_worker_show_on_its_port(app, app_ctx):
    port = free_port()
    worker = WorkerProcess(broker_url=app.config["CELERY"]["broker_url"],
                           extra_env={"TEST_WORKER_METRICS_PORT": str(port)}).start()
    try:
        wait_for_http(port, "/metrics")
        event = factories.make_event(capacity=2)
        holder, waiter = factories.make_user(), factories.make_user()
        held = bookings.book_seats(user=holder, event_id=event.id, quantity=2).booking
        bookings.book_seats(user=waiter, event_id=event.id, quantity=2)
        bookings.cancel_booking(actor=holder, booking_id=held.id)  # enqueues the promotion

        text = wait_until(
            lambda: (lambda body: body if sample(body, "evently_waitlist_promotions_total") == 2 else None)(
                scrape_worker(port)), timeout=30, message="the promotion counted on the worker's port")
        assert sample(text, "evently_seats_taken_total", source="waitlist") == 2
        assert sample(text, "evently_celery_tasks_total", task="waitlist.promote", state="SUCCESS") >= 1
        wait_until(lambda: (sample(scrape_worker(port), "evently_notifications_total", outcome="sent") or 0) >= 1,
                   timeout=30, message="a notification delivery counted on the worker's port")
    finally:
        worker.stop()


def test_the_maintenance_worker_counts_beats_jobs_on_its_own_port(app, app_ctx):
    from evently.common.tasks import enqueue
    from evently.notifications.tasks import sweep_outbox

    port = free_port()
    worker = WorkerProcess(broker_url=app.config["CELERY"]["broker_url"], extra_args=["--maintenance"],
                           extra_env={"TEST_MAINTENANCE_METRICS_PORT": str(port)}).start()
    try:
        wait_for_http(port, "/metrics")
        assert enqueue(sweep_outbox)
        wait_until(lambda: sample(scrape_worker(port), "evently_celery_tasks_total", task="notifications.sweep",
                                  state="SUCCESS") == 1, timeout=30, message="the sweep counted on :maintenance")
    finally:
        worker.stop()


def test_every_metric_the_docs_name_exists():
    families = {metric._name for metric in vars(metrics).values() if isinstance(metric, MetricWrapperBase)}
    documented = set()
    for path in (ROOT / "docs" / "observability.md", ROOT / "docs" / "grafana-dashboard.json"):
        text = path.read_text()
        if path.suffix == ".json":
            json.loads(text)
        documented |= set(re.findall(r"\bevently_[a-z_]+", text))
    named = {re.sub(r"_(total|bucket|count|sum)$", "", name) for name in documented}
    assert named <= families, named - families
    assert families <= named, f"undocumented: {families - named}"
