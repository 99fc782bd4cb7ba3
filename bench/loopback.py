"""Loopback helpers shared by the benchmarks and the deployment tests: a free port, waiting
for a server to answer, and slow clients. Importing this sets nothing up (no environment,
no app), so tests can use it too."""
import socket
import threading
import time
import urllib.request


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


class Slowloris:
    """Sockets that send a request line, then one header line every `interval` seconds, never
    the blank line that ends it; `settle` seconds are left for the server to take them up."""

    def __init__(self, port, count, interval=1.0, settle=0.5):
        self.port, self.count, self.interval, self.settle = port, count, interval, settle
        self.sockets, self.stop = [], threading.Event()
        self.thread = threading.Thread(target=self._trickle, daemon=True)

    def __enter__(self):
        for _ in range(self.count):
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: evently\r\n")
            self.sockets.append(sock)
        self.thread.start()
        time.sleep(self.settle)
        return self

    def _trickle(self):
        while not self.stop.wait(self.interval):
            for sock in self.sockets:
                try:
                    sock.sendall(b"X-Slow: 1\r\n")
                except OSError:
                    pass  # the server gave up on it: that is the point

    def __exit__(self, *_exc):
        self.stop.set()
        self.thread.join(5)
        for sock in self.sockets:
            sock.close()
