"""Hands committed outbox rows to Celery in batches, off the request's path.

Publishing one Celery message per notification after each commit cost the
request ~1 ms of CPU (kombu builds a message and a Redis client per publish)
and gave the worker one task per notification to receive, trace and ack. In a
flash sale that is one task per booking. Here the request only appends the
row's id; a background thread per process waits a moment for more ids to
gather, then sends one `notifications.deliver_batch` task per batch.

Nothing here is the delivery guarantee. The rows were committed in PostgreSQL
before their ids arrive, and the periodic sweep (`notifications.sweep`)
delivers every pending row whose id never made it to the broker: the process
died before its flush, or the broker was down.
"""
import atexit
import logging
import os
import threading
import time

log = logging.getLogger(__name__)

EXTENSION = "evently.relay"


def init_app(app):
    app.extensions[EXTENSION] = Relay(app, linger=app.config["NOTIFICATION_RELAY_LINGER_MS"] / 1000)


def submit(app, notification_id):
    """Queue a committed row's id for delivery (called from after-commit hooks)."""
    app.extensions[EXTENSION].submit(notification_id)


class Relay:
    """One per app and process: pending ids, and the thread that sends them."""

    def __init__(self, app, linger):
        self.app = app
        self.linger = linger
        self._pending = []
        self._lock = threading.Lock()  # guards _pending
        self._sending = threading.Lock()  # one flush at a time: a flush returns only after earlier sends
        self._wake = threading.Event()
        self._owner_pid = None  # the process whose thread serves this relay

    def submit(self, notification_id):
        with self._lock:
            self._pending.append(notification_id)
            self._start_thread_once()
        self._wake.set()

    def flush(self):
        """Send every pending id now; returns how many were handed to the broker."""
        from evently.notifications.tasks import enqueue_deliveries

        with self._sending:
            with self._lock:
                ids, self._pending = self._pending, []
            if not ids:
                return 0
            with self.app.app_context():
                return enqueue_deliveries(ids)

    def _start_thread_once(self):
        # A forked child (a gunicorn worker of a preloaded app) inherits the
        # relay but not its thread, so ownership is per process.
        if self._owner_pid == os.getpid():
            return
        self._owner_pid = os.getpid()
        threading.Thread(target=self._run, name="evently-notification-relay", daemon=True).start()
        atexit.register(self.flush)

    def _run(self):
        while True:
            self._wake.wait()
            time.sleep(self.linger)  # let the ids of concurrent commits join this batch
            self._wake.clear()  # before taking the ids: a later submit wakes the next round
            try:
                self.flush()
            except Exception:  # noqa: BLE001 - the thread must outlive any one failure; the sweep covers it
                log.exception("notification relay flush failed")
