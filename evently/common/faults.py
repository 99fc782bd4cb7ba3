"""Fault-injection switches for the reliability tests. They work only when
TESTING is on, so no production configuration can enable them."""
import time

from flask import current_app


def enabled(flag):
    return bool(current_app.config.get("TESTING") and current_app.config.get(flag))


def pause(setting):
    """Sleep for the configured seconds (widens a window a test wants to hit)."""
    seconds = current_app.config.get(setting) if current_app.config.get("TESTING") else 0
    if seconds:
        time.sleep(float(seconds))
