"""UTC time buckets for series: a day, an ISO week (starting Monday) or a calendar month."""
import calendar
from datetime import datetime, timedelta, timezone

GRANULARITIES = ("day", "week", "month")
# The most buckets one series may have, and how many a request without `from` gets.
MAX_BUCKETS = {"day": 366, "week": 260, "month": 120}
DEFAULT_BUCKETS = {"day": 30, "week": 12, "month": 12}


def utc_today():
    return datetime.now(timezone.utc).date()


def bucket_start(day, granularity):
    """The bucket a UTC day falls in: the day itself, its ISO week's Monday, or the 1st of its month."""
    if granularity == "week":
        return day - timedelta(days=day.weekday())
    if granularity == "month":
        return day.replace(day=1)
    return day


def next_bucket(start, granularity):
    if granularity == "week":
        return start + timedelta(days=7)
    if granularity == "month":
        return start + timedelta(days=calendar.monthrange(start.year, start.month)[1])
    return start + timedelta(days=1)


def bucket_starts(day_from, day_to, granularity):
    start, result = bucket_start(day_from, granularity), []
    while start <= day_to:
        result.append(start)
        start = next_bucket(start, granularity)
    return result


def bucket_count(day_from, day_to, granularity):
    first, last = bucket_start(day_from, granularity), bucket_start(day_to, granularity)
    if granularity == "day":
        return (last - first).days + 1
    if granularity == "week":
        return (last - first).days // 7 + 1
    return (last.year - first.year) * 12 + last.month - first.month + 1


def resolve_range(day_from, day_to, granularity, today=None):
    """Defaults: `to` is today (UTC, or `from` if that is later), `from` is the start of
    the DEFAULT_BUCKETS-th bucket back from `to`. Returns (from, to, errors) where
    errors maps a query parameter to messages."""
    today = today or utc_today()
    if day_to is None:
        day_to = today if day_from is None else max(day_from, today)
    if day_from is None:
        day_from = bucket_start(day_to, granularity)
        for _ in range(DEFAULT_BUCKETS[granularity] - 1):
            day_from = bucket_start(day_from - timedelta(days=1), granularity)
    if day_from > day_to:
        return day_from, day_to, {"from": ["Must not be after `to`."]}
    if bucket_count(day_from, day_to, granularity) > MAX_BUCKETS[granularity]:
        return day_from, day_to, {"to": [f"The range spans more than {MAX_BUCKETS[granularity]} {granularity} "
                                         "buckets; narrow it or use a coarser granularity."]}
    return day_from, day_to, {}
