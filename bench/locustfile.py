"""Locust load for the flash-sale benchmark (driven by bench/flash_sale.py, which sets the BENCH_* variables).

Each simulated browser books 1-4 tickets on the hot event as a fresh account
(tokens pre-minted by the seeder, one account per booking request, so nobody
trips the one-active-waitlist-entry rule), and mixes in reads of the event
list and detail. BENCH_MIX=reads makes it a read-only run of the event list.

Every 201 booking answer is recorded (what was asked, booked and waitlisted,
and the ids) so the orchestrator can check PostgreSQL against what clients
were told; statuses are counted per endpoint.
"""
import json
import os
import random
import threading
import time
from collections import Counter

from locust import FastHttpUser, events, task

EVENT_ID = int(os.environ["BENCH_EVENT_ID"])
TOKENS = json.load(open(os.environ["BENCH_TOKENS"]))
OUTCOMES_PATH = os.environ["BENCH_OUTCOMES"]
MIX = os.environ.get("BENCH_MIX", "flash")

_lock = threading.Lock()
_next_account = 0
_acknowledged = []
_statuses = Counter()
_first_at = None
_last_at = None


def next_token():
    global _next_account
    with _lock:
        index = _next_account
        _next_account += 1
    if index >= len(TOKENS):
        return None
    return TOKENS[index]


def _count(name, status):
    global _first_at, _last_at
    now = time.time()
    _statuses[f"{name} {status}"] += 1
    if _first_at is None:
        _first_at = now
    _last_at = now


class Buyer(FastHttpUser):
    # Closed loop, no think time: the offered load is as high as the users can push.
    network_timeout = 10.0
    connection_timeout = 5.0

    @task(7 if MIX == "flash" else 0)
    def book(self):
        account = next_token()
        if account is None:
            self.environment.runner.quit()
            return
        user_id, token = account
        quantity = random.randint(1, 4)
        with self.client.post("/api/bookings", json={"eventId": EVENT_ID, "quantity": quantity},
                              headers={"Authorization": f"Bearer {token}"}, name="POST /api/bookings",
                              catch_response=True) as response:
            _count("POST /api/bookings", response.status_code)
            if response.status_code != 201:
                response.failure(f"HTTP {response.status_code}")
                return
            data = response.json()["data"]
            booking, entry = data["booking"], data["waitlistEntry"]
            _acknowledged.append({
                "userId": user_id, "requested": quantity,
                "booked": booking["quantity"] if booking else 0, "bookingId": booking and booking["id"],
                "waitlisted": entry["quantity"] if entry else 0, "entryId": entry and entry["id"],
                "at": time.time(),
            })

    @task(2 if MIX == "flash" else 1)
    def list_events(self):
        with self.client.get("/api/events?perPage=20", name="GET /api/events", catch_response=True) as response:
            _count("GET /api/events", response.status_code)
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}")

    @task(1 if MIX == "flash" else 0)
    def event_detail(self):
        with self.client.get(f"/api/events/{EVENT_ID}", name="GET /api/events/:id",
                             catch_response=True) as response:
            _count("GET /api/events/:id", response.status_code)
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}")


@events.quitting.add_listener
def dump_outcomes(environment, **_kwargs):
    with open(OUTCOMES_PATH, "w") as out:
        json.dump({"acknowledged": _acknowledged, "statuses": dict(_statuses),
                   "firstAt": _first_at, "lastAt": _last_at}, out)
