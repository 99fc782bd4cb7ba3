"""A small TCP proxy in front of Redis that drops the reply to the first
EVALSHA of every hold id, then closes the connection: the client sees a
network error after Redis already ran the script, and redis-py retries it."""
import re
import socket
import threading

from tests.redis_server import free_port

HOLD_ARG = re.compile(rb"\$32\r\n([0-9a-f]{32})\r\n")


class ReplyDroppingProxy:
    def __init__(self, upstream_port):
        self.upstream_port = upstream_port
        self.port = free_port()
        self.dropped = set()
        self.lock = threading.Lock()
        self.listener = None
        self.running = False

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.listener = socket.create_server(("127.0.0.1", self.port))
        self.listener.settimeout(0.2)
        self.running = True
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def stop(self):
        self.running = False
        self.listener.close()

    def _accept(self):
        while self.running:
            try:
                client, _ = self.listener.accept()
            except OSError:
                continue
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            state = {"drop_next_reply": False}
            threading.Thread(target=self._requests, args=(client, upstream, state), daemon=True).start()
            threading.Thread(target=self._replies, args=(upstream, client, state), daemon=True).start()

    def _requests(self, client, upstream, state):
        try:
            while data := client.recv(65536):
                if b"EVALSHA" in data or b"EVAL" in data:
                    match = HOLD_ARG.search(data)
                    with self.lock:
                        if match and match.group(1) not in self.dropped:
                            self.dropped.add(match.group(1))
                            state["drop_next_reply"] = True
                upstream.sendall(data)
        except OSError:
            pass
        finally:
            _close(client, upstream)

    def _replies(self, upstream, client, state):
        try:
            while data := upstream.recv(65536):
                if state["drop_next_reply"]:
                    break  # Redis ran the script; the client never hears the answer
                client.sendall(data)
        except OSError:
            pass
        finally:
            _close(client, upstream)


def _close(*sockets):
    for sock in sockets:
        try:
            sock.close()
        except OSError:
            pass
