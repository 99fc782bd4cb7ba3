"""A real `celery worker` subprocess on the test database and a given broker, so
tests can SIGKILL it mid-task. It consumes the test configuration's queue
(CELERY_QUEUE, named after the test database), as the tests' app sends to it."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests import patched

ROOT = Path(__file__).resolve().parent.parent


class WorkerProcess:
    def __init__(self, *, broker_url, extra_env=None, extra_args=(), fault=None):
        self.broker_url = broker_url
        self.extra_env = extra_env or {}
        self.extra_args = list(extra_args)
        self.fault = fault  # (name, seconds) from tests/patched.py
        self.process = None
        self.log = subprocess.DEVNULL

    def start(self, log_path=None):
        if log_path:
            self.log = open(log_path, "ab")
        env = dict(os.environ)
        env.update({
            "EVENTLY_ENV": "testing",
            "TEST_REDIS_URL": env.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15"),
            "CELERY_BROKER_URL": self.broker_url,
            **self.extra_env,
        })
        worker = ["-A", "celery_worker.celery", "worker", "--pool=prefork", "--concurrency=1",
                  "--loglevel=WARNING", "--without-heartbeat", "--without-gossip", "--without-mingle", *self.extra_args]
        argv = patched.command(*self.fault, "celery", *worker) if self.fault else [sys.executable, "-m", "celery", *worker]
        self.process = subprocess.Popen(
            argv,
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def kill(self):
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
            self.process = None
        self._close_log()

    def _close_log(self):
        if self.log is not subprocess.DEVNULL:
            self.log.close()
            self.log = subprocess.DEVNULL

    def stop(self):
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()
            self.process = None
        self._close_log()

    @staticmethod
    def settle(seconds):
        time.sleep(seconds)
