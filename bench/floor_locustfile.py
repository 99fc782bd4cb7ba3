"""Load for bench/floor.py: closed-loop users posting 1-4 ticket bookings, no think time."""
import random

from locust import FastHttpUser, task


class Buyer(FastHttpUser):
    @task
    def book(self):
        self.client.post("/book", json={"quantity": random.randint(1, 4)}, name="POST /book")
