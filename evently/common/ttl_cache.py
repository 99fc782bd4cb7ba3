"""A small per-process cache whose entries expire: cachetools' TTLCache behind a lock, because
a gthread worker serves several requests of one process at once and TTLCache is not thread-safe."""
import threading

from cachetools import TTLCache


class LockedTTLCache:
    def __init__(self, *, seconds, max_entries):
        self._entries = TTLCache(maxsize=max_entries, ttl=seconds)
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            return self._entries.get(key)

    def put(self, key, value):
        with self._lock:
            self._entries[key] = value

    def forget(self, key):
        with self._lock:
            self._entries.pop(key, None)
