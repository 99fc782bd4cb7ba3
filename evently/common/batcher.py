"""Work handed off a request's path: items gathered for a moment, then sent in one batch by a
background thread of the process (the notification relay, the settling of seat holds).

Nothing sent through a batcher may be the guarantee of anything: what it sends is already
committed in PostgreSQL, and a periodic job finds again whatever a batch never delivered
(the process died before its flush, a dependency was down).
"""
import atexit
import logging
import os
import threading
import time

log = logging.getLogger(__name__)


class Batcher:
    """One per app and process: pending items, and the thread that sends them with `send`."""

    name = "evently-batcher"

    def __init__(self, app, linger):
        self.app = app
        self.linger = linger
        self._pending = []
        self._lock = threading.Lock()  # guards _pending
        self._sending = threading.Lock()  # one flush at a time: a flush returns only after earlier sends
        self._wake = threading.Event()
        self._owner_pid = None  # the process whose thread serves this batcher

    def send(self, items):
        """Deliver one batch (in an app context); returns how many items went through."""
        raise NotImplementedError

    def submit(self, item):
        with self._lock:
            self._pending.append(item)
            self._start_thread_once()
        self._wake.set()

    def flush(self):
        """Send every pending item now; returns how many went through."""
        with self._sending:
            with self._lock:
                items, self._pending = self._pending, []
            if not items:
                return 0
            with self.app.app_context():
                return self.send(items)

    def _start_thread_once(self):
        # A forked child (a gunicorn worker of a preloaded app) inherits the
        # batcher but not its thread, so ownership is per process.
        if self._owner_pid == os.getpid():
            return
        self._owner_pid = os.getpid()
        threading.Thread(target=self._run, name=self.name, daemon=True).start()
        atexit.register(self.flush)

    def _run(self):
        while True:
            self._wake.wait()
            time.sleep(self.linger)  # let the items of concurrent requests join this batch
            self._wake.clear()  # before taking the items: a later submit wakes the next round
            try:
                self.flush()
            except Exception:  # noqa: BLE001 - the thread must outlive any one failure; a periodic job covers it
                log.exception("%s flush failed", self.name)
