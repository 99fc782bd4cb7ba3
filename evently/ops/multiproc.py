"""The directory where a pre-forking server's processes keep their Prometheus values.

gunicorn and the Celery workers answer from many processes, so each process
writes its counters to a file in one directory (prometheus_client's multiprocess
mode) and a scrape sums the files. prometheus_client chooses that mode when it
is first imported, so the directory must be in PROMETHEUS_MULTIPROC_DIR before
the app is imported: gunicorn.conf.py and celery_worker.py call `prepare` first.
This module therefore imports nothing from prometheus_client at load time.
"""
import glob
import os
import shutil
import sys
import tempfile

ENV = "PROMETHEUS_MULTIPROC_DIR"
PREFIX = "evently-metrics-"


def prepare(server):
    """Point prometheus_client at an empty directory for this server and its
    children; returns it. A PROMETHEUS_MULTIPROC_DIR given by the operator (one
    per server, never shared) is emptied of an earlier run's files; otherwise a
    new temporary directory is made, and those of servers that died are removed."""
    path = os.environ.get(ENV)
    if path:
        os.makedirs(path, exist_ok=True)
        for stale in glob.glob(os.path.join(path, "*.db")):
            os.remove(stale)
    else:
        _remove_orphans()
        path = tempfile.mkdtemp(prefix=f"{PREFIX}{server}-{os.getpid()}-", dir=base_directory())
        os.environ[ENV] = path
    _choose_mode_again()
    return path


def _choose_mode_again():
    """The `celery` command imports prometheus_client before our app: it loads its
    command plugins at start, and Flower's imports it. prometheus_client then chose
    its in-memory mode, so the choice is made again now that the directory is set;
    every metric created from here on (all of Evently's: evently.ops.metrics is
    imported with the app) writes to the directory."""
    values = sys.modules.get("prometheus_client.values")
    if values is not None:
        values.ValueClass = values.get_value_class()


def cleanup(path):
    """Remove a directory `prepare` made (at the server's exit); an operator's is left."""
    if os.path.basename(path).startswith(PREFIX):
        shutil.rmtree(path, ignore_errors=True)


def base_directory():
    """Where a server's directory is made: /dev/shm (memory) where there is one, else the temp dir.

    Every request writes its values through a shared mapping of these files. On a disk-backed
    file system the kernel keeps writing the dirty pages back and faulting them in again, which
    cost the flash sale a large share of its bookings (measured in docs/benchmarks.md). gunicorn
    keeps its workers' heartbeat files there for the same reason (worker_tmp_dir)."""
    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else tempfile.gettempdir()


def _remove_orphans():
    """Directories left by servers that were killed before they could clean up."""
    paths = {*glob.glob(os.path.join(base_directory(), f"{PREFIX}*")),
             *glob.glob(os.path.join(tempfile.gettempdir(), f"{PREFIX}*"))}
    for path in paths:
        try:
            pid = int(os.path.basename(path)[len(PREFIX):].split("-")[1])
        except (IndexError, ValueError):
            continue
        if not _alive(pid):
            shutil.rmtree(path, ignore_errors=True)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
