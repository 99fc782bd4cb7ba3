"""Load for bench/floor.py: closed-loop users, no think time. FLOOR_MIX=book posts 1-4 ticket
bookings to /book; FLOOR_MIX=get reads a constant JSON document from /static-list."""
import os
import random

from locust import FastHttpUser, task

MIX = os.environ.get("FLOOR_MIX", "book")


class Buyer(FastHttpUser):
    @task
    def act(self):
        if MIX == "get":
            self.client.get("/static-list", name="GET /static-list")
        else:
            self.client.post("/book", json={"quantity": random.randint(1, 4)}, name="POST /book")
