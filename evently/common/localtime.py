"""An event's local time: the one place that turns a stored UTC instant into what people read.

The API speaks UTC; mails, calendar files and reminders speak the event's time zone
(an IANA name, validated against the zone database that zoneinfo reads: the system's,
else the pinned `tzdata` package).
"""
import zoneinfo
from functools import lru_cache

UTC = "UTC"


@lru_cache(maxsize=1)
def known_zones():
    """Every IANA name zoneinfo can load here (read once: listing them walks the database)."""
    return frozenset(zoneinfo.available_timezones()) | {UTC}


def is_known_zone(name):
    return isinstance(name, str) and name in known_zones()


@lru_cache(maxsize=None)
def zone(name):
    return zoneinfo.ZoneInfo(name or UTC)


def local(moment, zone_name):
    """`moment` (aware) in the zone `zone_name`."""
    return moment.astimezone(zone(zone_name))


def describe(moment, zone_name):
    """How a mail writes an instant: `2026-12-01 20:00 CET (Europe/Paris)`, or `2026-12-01 19:00 UTC`."""
    name = zone_name or UTC
    at = local(moment, name)
    abbreviation = at.tzname()
    suffix = "" if name in (UTC, abbreviation) else f" ({name})"
    return f"{at:%Y-%m-%d %H:%M} {abbreviation}{suffix}"
