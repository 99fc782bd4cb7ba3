"""A capturing SMTP server (aiosmtpd) on loopback: the only fake, for the outside world."""
import threading

from aiosmtpd.controller import Controller

from tests.redis_server import free_port


class _Handler:
    def __init__(self, server):
        self.server = server

    async def handle_DATA(self, smtp_server, session, envelope):
        with self.server.lock:
            if self.server.failures_left > 0:
                self.server.failures_left -= 1
                return "451 Try again later"
            self.server.messages.append(envelope.content.decode("utf8", errors="replace"))
        return "250 OK"


class CapturingSMTP:
    def __init__(self):
        self.port = free_port()
        self.messages = []
        self.failures_left = 0
        self.lock = threading.Lock()
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)

    @property
    def url(self):
        return f"smtp://127.0.0.1:{self.port}"

    def start(self):
        self.controller.start()
        return self

    def stop(self):
        self.controller.stop()

    def messages_with(self, text):
        with self.lock:
            return [message for message in self.messages if text in message]
