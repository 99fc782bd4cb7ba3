"""A real race harness: threads in this process plus worker processes, all
posting bookings through the full Flask stack at the same instant."""
import importlib
import multiprocessing
import os
import threading

from tests import factories


def post_booking(client, token, event_id, quantity, extra=None, headers=None):
    all_headers = {"Authorization": f"Bearer {token}", **(headers or {})}
    response = client.post("/api/bookings", json={"eventId": event_id, "quantity": quantity, **(extra or {})},
                           headers=all_headers)
    return response.status_code, response.get_json()


def run_threads(app, jobs, start_barrier=None, go=None):
    """jobs: [(user_id, event_id, quantity, extra, headers)] -> [(status, body)] in order."""
    results = [None] * len(jobs)
    with app.app_context():
        tokens = [factories.access_token(job[0]) for job in jobs]
    barrier = threading.Barrier(len(jobs))

    def worker(index):
        user_id, event_id, quantity, extra, headers = jobs[index]
        client = app.test_client()
        barrier.wait()
        if go is not None:
            go.wait()
        results[index] = post_booking(client, tokens[index], event_id, quantity, extra, headers)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(jobs))]
    for thread in threads:
        thread.start()
    if start_barrier is not None:
        start_barrier.wait()
    for thread in threads:
        thread.join(120)
    return results


def _process_main(overrides, setup, jobs, ready, go, queue):
    from evently import create_app

    app = create_app("testing", **overrides)
    if setup:
        module, _, name = setup.partition(":")
        getattr(importlib.import_module(module), name)(app)
    results = run_threads(app, jobs, go=_Ready(ready, go))
    queue.put(results)


class _Ready:
    """Signals 'ready' once every thread is parked, then waits for the shared 'go'."""

    def __init__(self, ready, go):
        self.ready, self.go, self.lock, self.signalled = ready, go, threading.Lock(), False

    def wait(self):
        with self.lock:
            if not self.signalled:
                self.ready.release()
                self.signalled = True
        self.go.wait(60)


def race(app, jobs, *, processes=2, overrides=None, setup=None):
    """Split jobs between this process's threads and `processes` spawned processes; start together.
    Each spawned process builds its app with `overrides`, then calls `setup(app)` if given
    ("module:function", e.g. to install a test-only strategy)."""
    overrides = overrides or {}
    context = multiprocessing.get_context("spawn")
    chunks = [jobs[i::processes + 1] for i in range(processes + 1)]
    ready, go, queue = context.Semaphore(0), context.Event(), context.Queue()
    children = [context.Process(target=_process_main, args=(overrides, setup, chunk, ready, go, queue), daemon=True)
                for chunk in chunks[1:]]
    env_backup = dict(os.environ)
    for child in children:
        child.start()
    for _ in children:
        assert ready.acquire(timeout=120), "a race process did not get ready"
    local = threading.Thread(target=lambda: results.extend(run_threads(app, chunks[0], go=_GoOnly(go))))
    results = []
    local.start()
    go.set()
    local.join(180)
    for _ in children:
        results.extend(queue.get(timeout=180))
    for child in children:
        child.join(30)
    os.environ.clear()
    os.environ.update(env_backup)
    return results


class _GoOnly:
    def __init__(self, go):
        self.go = go

    def wait(self):
        self.go.wait(60)
