"""Real servers for deployment tests, all on free loopback ports: gunicorn as `make run` and the
compose image start it."""
import contextlib
import http.client
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.redis_server import free_port

ROOT = Path(__file__).resolve().parent.parent


def wait_for_http(port, path="/healthz", timeout=30, process=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server on port {port} exited with {process.returncode}")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            connection.request("GET", path)
            if connection.getresponse().status < 500:
                return
        except OSError:
            time.sleep(0.1)
        finally:
            connection.close()
    raise RuntimeError(f"nothing answered on port {port} within {timeout}s")


@contextlib.contextmanager
def gunicorn(env, *, workers=3, host="127.0.0.1"):
    """gunicorn with the project's gunicorn.conf.py; yields its port."""
    port = free_port()
    full_env = {**os.environ, "HOST": host, "PORT": str(port), "WEB_CONCURRENCY": str(workers), **env}
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "wsgi:app"],
                               cwd=ROOT, env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    try:
        wait_for_http(port, process=process)
        yield port
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
